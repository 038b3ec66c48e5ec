import type { Db } from '../pool.js';
import type { SiteRole } from './memberships.js';

/**
 * Site links waiting for the person to confirm them (migration 013). A row
 * here gives nothing: every query that says where a person works reads
 * `memberships` alone, so a waiting link cannot reach a claim, a site
 * choice, reach or a rollout policy by mistake.
 */
export interface PendingSite { site_id: string; ods_code: string; site_name: string; role: SiteRole; created_at: Date }

/** Records a waiting link; false when one is already waiting for this site. */
export async function insertPendingMembership(db: Db, userId: string, siteId: string, role: SiteRole, linkedBy: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO pending_memberships (user_id, site_id, role, linked_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, site_id) DO NOTHING`,
    [userId, siteId, role, linkedBy],
  );
  return rowCount === 1;
}

export async function listPendingSitesOfUser(db: Db, userId: string): Promise<PendingSite[]> {
  const { rows } = await db.query<PendingSite>(
    `SELECT s.id AS site_id, s.ods_code, s.name AS site_name, p.role, p.created_at
       FROM pending_memberships p JOIN sites s ON s.id = p.site_id
      WHERE p.user_id = $1 ORDER BY s.name, s.ods_code`,
    [userId],
  );
  return rows;
}

export async function isPending(db: Db, userId: string, siteId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM pending_memberships WHERE user_id = $1 AND site_id = $2', [userId, siteId]);
  return rowCount === 1;
}

export async function hasPendingMemberships(db: Db, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM pending_memberships WHERE user_id = $1 LIMIT 1', [userId]);
  return (rowCount ?? 0) > 0;
}

/** Takes every waiting link of the person (to confirm or decline them): one DELETE, returning what it took. */
export async function takePendingMemberships(db: Db, userId: string): Promise<{ site_id: string; role: SiteRole }[]> {
  const { rows } = await db.query<{ site_id: string; role: SiteRole }>(
    'DELETE FROM pending_memberships WHERE user_id = $1 RETURNING site_id, role',
    [userId],
  );
  return rows;
}

export async function deletePendingMembership(db: Db, userId: string, siteId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM pending_memberships WHERE user_id = $1 AND site_id = $2', [userId, siteId]);
  return rowCount === 1;
}

/** What an administrator sees of the people waiting to confirm a link to a site. */
export interface WaitingPersonRow { id: string; email: string; name: string; role: SiteRole; created_at: Date }

export async function listWaitingAtSite(db: Db, siteId: string, limit = 200): Promise<WaitingPersonRow[]> {
  const { rows } = await db.query<WaitingPersonRow>(
    `SELECT u.id, u.email, u.name, p.role, p.created_at
       FROM pending_memberships p JOIN users u ON u.id = p.user_id
      WHERE p.site_id = $1 ORDER BY u.name, u.email LIMIT $2`,
    [siteId, limit],
  );
  return rows;
}
