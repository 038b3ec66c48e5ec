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

export interface AuditFilter {
  /** An action, or the start of one ('user.' matches every act on people). */
  action?: string;
  outcome?: AuditOutcome;
  /** The email key of the person acted upon. */
  targetEmailKey?: string;
  from?: Date;
  to?: Date;
}

/** An event with the names an administrator reads (emails, ODS code) beside the ids. */
export interface SiteAuditRow extends AuditRow {
  actor_email: string | null;
  actor_name: string | null;
  target_email: string | null;
  target_name: string | null;
  /** The event's own site, or the trail's site for an event about a person who works there (a reset, a sign-in). */
  site_ods: string | null;
  site_name: string | null;
  /** The portal the event names (details.client_id), by its registered name; the portal itself when one acted. */
  portal_name: string | null;
  total: number;
}

/**
 * A site's trail: events about the site, and events about no site in
 * particular (sign-ins, resets) of a person who works at the site, from the
 * moment they joined it (their membership's created_at) and never before:
 * linking someone does not open their history, nor what other sites did to
 * them earlier. A link still waiting for the person is no membership at all.
 * Newest first.
 */
export async function listAuditEventsForSite(db: Db, siteId: string, f: AuditFilter, limit: number, offset: number): Promise<SiteAuditRow[]> {
  const action = f.action ? `${f.action.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  const { rows } = await db.query<SiteAuditRow>(
    `SELECT e.id, e.occurred_at, e.actor, e.action, e.outcome, e.target_user, e.site_id, e.ip, e.details,
            au.email AS actor_email, au.name AS actor_name, tu.email AS target_email, tu.name AS target_name,
            s.ods_code AS site_ods, s.name AS site_name, c.name AS portal_name,
            count(*) OVER ()::int AS total
       FROM audit_events e
       LEFT JOIN users tu ON tu.id = e.target_user
       LEFT JOIN users au ON e.actor = 'user:' || au.id::text
       -- Only this site's events and those about its people are read: an event with no site of its own is about one of them here.
       LEFT JOIN sites s ON s.id = coalesce(e.site_id, $1)
       LEFT JOIN clients c ON c.client_id = coalesce(e.details->>'client_id', CASE WHEN e.actor LIKE 'client:%' THEN substr(e.actor, 8) END)
      WHERE (e.site_id = $1 OR (e.site_id IS NULL AND EXISTS (
              SELECT 1 FROM memberships m WHERE m.user_id = e.target_user AND m.site_id = $1 AND e.occurred_at >= m.created_at)))
        AND ($2::text IS NULL OR e.action LIKE $2)
        AND ($3::text IS NULL OR e.outcome = $3)
        AND ($4::text IS NULL OR tu.email_key = $4)
        AND ($5::timestamptz IS NULL OR e.occurred_at >= $5)
        AND ($6::timestamptz IS NULL OR e.occurred_at < $6)
      ORDER BY e.occurred_at DESC, e.id DESC LIMIT $7 OFFSET $8`,
    [siteId, action, f.outcome ?? null, f.targetEmailKey ?? null, f.from ?? null, f.to ?? null, limit, offset],
  );
  return rows;
}

/**
 * The addresses (as recorded) a person has signed in from, successfully and to
 * the end, within the last `days` days (the database's clock, which dated the events).
 */
export async function listSignInAddresses(db: Db, userId: string, days: number): Promise<string[]> {
  const { rows } = await db.query<{ ip: string }>(
    `SELECT DISTINCT ip FROM audit_events
      WHERE target_user = $1 AND action = 'sign-in' AND outcome = 'success' AND ip IS NOT NULL
        AND occurred_at >= now() - make_interval(days => $2)`,
    [userId, days],
  );
  return rows.map((r) => r.ip);
}
