import type { Db } from '../pool.js';

export type SiteRole = 'member' | 'site-admin';

export interface MembershipView {
  site_id: string;
  ods_code: string;
  site_name: string;
  role: SiteRole;
}

/** Adds a membership, or changes the role of an existing one. */
export async function upsertMembership(db: Db, userId: string, siteId: string, role: SiteRole): Promise<void> {
  await db.query(
    `INSERT INTO memberships (user_id, site_id, role) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, site_id) DO UPDATE SET role = EXCLUDED.role`,
    [userId, siteId, role],
  );
}

export async function listMembershipsOfUser(db: Db, userId: string): Promise<MembershipView[]> {
  const { rows } = await db.query<MembershipView>(
    `SELECT s.id AS site_id, s.ods_code, s.name AS site_name, m.role
       FROM memberships m JOIN sites s ON s.id = m.site_id
      WHERE m.user_id = $1 ORDER BY s.name, s.ods_code`,
    [userId],
  );
  return rows;
}
