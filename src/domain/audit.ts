import { insertAuditEvent, type AuditEvent } from '../db/queries/audit-events.js';
import type { Db } from '../db/pool.js';

export type { AuditEvent };

/** Who did something: the CLI operator, a person, a portal, or nobody yet known. */
export type Actor = { kind: 'cli' } | { kind: 'user'; id: string } | { kind: 'client'; id: string } | { kind: 'anonymous' };

export function actorName(a: Actor): string {
  return a.kind === 'cli' || a.kind === 'anonymous' ? a.kind : `${a.kind}:${a.id}`;
}

/** Records an event; inside a transaction it lands or rolls back with the act it describes. */
export function audit(db: Db, actor: Actor, e: Omit<AuditEvent, 'actor'>): Promise<void> {
  return insertAuditEvent(db, { ...e, actor: actorName(actor) });
}
