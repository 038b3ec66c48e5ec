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

/**
 * Adds a membership only when the person does not work at the site yet: one
 * conditional INSERT whose row count decides, so two links racing cannot
 * both "add" the person, and a link never changes an existing role.
 */
export async function insertMembership(db: Db, userId: string, siteId: string, role: SiteRole): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO memberships (user_id, site_id, role) VALUES ($1, $2, $3) ON CONFLICT (user_id, site_id) DO NOTHING`,
    [userId, siteId, role],
  );
  return rowCount === 1;
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

export async function findMembershipRole(db: Db, userId: string, siteId: string): Promise<SiteRole | undefined> {
  const { rows } = await db.query<{ role: SiteRole }>('SELECT role FROM memberships WHERE user_id = $1 AND site_id = $2', [userId, siteId]);
  return rows[0]?.role;
}

/** Changes the role of an existing membership; false when there is none. */
export async function updateMembershipRole(db: Db, userId: string, siteId: string, role: SiteRole): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE memberships SET role = $3 WHERE user_id = $1 AND site_id = $2', [userId, siteId, role]);
  return rowCount === 1;
}

export async function deleteMembership(db: Db, userId: string, siteId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM memberships WHERE user_id = $1 AND site_id = $2', [userId, siteId]);
  return rowCount === 1;
}

export async function countMembershipsOfUser(db: Db, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM memberships WHERE user_id = $1', [userId]);
  return rows[0]!.n;
}

/** What an administrator sees of each person at a site. */
export interface SitePersonRow {
  id: string;
  email: string;
  name: string;
  status: 'invited' | 'active' | 'disabled';
  role: SiteRole;
  enrolled: boolean;
  locked: boolean;
  last_sign_in_at: Date | null;
  total: number;
}

export async function listPeopleOfSite(db: Db, siteId: string, limit: number, offset: number): Promise<SitePersonRow[]> {
  const { rows } = await db.query<SitePersonRow>(
    `SELECT u.id, u.email, u.name, u.status, m.role, u.last_sign_in_at, (u.locked_at IS NOT NULL) AS locked,
            (EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
              OR EXISTS (SELECT 1 FROM passkeys k WHERE k.user_id = u.id)) AS enrolled,
            count(*) OVER ()::int AS total
       FROM memberships m JOIN users u ON u.id = m.user_id
      WHERE m.site_id = $1
      ORDER BY u.name, u.email LIMIT $2 OFFSET $3`,
    [siteId, limit, offset],
  );
  return rows;
}

/** The site administrators of every site this person works at (whom to ask for help). */
export async function listSiteAdminsFor(db: Db, userId: string): Promise<{ name: string; email: string; site_name: string }[]> {
  const { rows } = await db.query<{ name: string; email: string; site_name: string }>(
    `SELECT DISTINCT u.name, u.email, s.name AS site_name
       FROM memberships mine
       JOIN memberships admin ON admin.site_id = mine.site_id AND admin.role = 'site-admin' AND admin.user_id <> mine.user_id
       JOIN users u ON u.id = admin.user_id AND u.status = 'active'
       JOIN sites s ON s.id = mine.site_id
      WHERE mine.user_id = $1
      ORDER BY s.name, u.name`,
    [userId],
  );
  return rows;
}
