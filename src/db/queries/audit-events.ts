import type { Db } from '../pool.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEvent {
  actor: string;
  action: string;
  outcome: AuditOutcome;
  targetUser?: string;
  siteId?: string;
  ip?: string;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: string;
  occurred_at: Date;
  actor: string;
  action: string;
  outcome: AuditOutcome;
  target_user: string | null;
  site_id: string | null;
  ip: string | null;
  details: Record<string, unknown>;
}

export async function insertAuditEvent(db: Db, e: AuditEvent): Promise<void> {
  await db.query(
    `INSERT INTO audit_events (actor, action, outcome, target_user, site_id, ip, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [e.actor, e.action, e.outcome, e.targetUser ?? null, e.siteId ?? null, e.ip ?? null, JSON.stringify(e.details ?? {})],
  );
}

export async function listAuditEventsForUser(db: Db, userId: string, limit = 100): Promise<AuditRow[]> {
  const { rows } = await db.query<AuditRow>(
    `SELECT id, occurred_at, actor, action, outcome, target_user, site_id, ip, details
       FROM audit_events WHERE target_user = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2`,
    [userId, limit],
  );
  return rows;
}
