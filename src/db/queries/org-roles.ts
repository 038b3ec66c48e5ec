import type { Db } from '../pool.js';

export type OrgRole = 'helpdesk' | 'commissioner' | 'superadmin';

export async function insertOrgRole(db: Db, userId: string, role: OrgRole): Promise<void> {
  await db.query('INSERT INTO org_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, role]);
}

export async function deleteOrgRole(db: Db, userId: string, role: OrgRole): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM org_roles WHERE user_id = $1 AND role = $2', [userId, role]);
  return rowCount === 1;
}

export async function listOrgRolesOfUser(db: Db, userId: string): Promise<OrgRole[]> {
  const { rows } = await db.query<{ role: OrgRole }>('SELECT role FROM org_roles WHERE user_id = $1 ORDER BY role', [userId]);
  return rows.map((r) => r.role);
}

export interface OrgRoleHolderRow { user_id: string; email: string; name: string; role: OrgRole; sites: string[] }

export async function listOrgRoleHolders(db: Db): Promise<OrgRoleHolderRow[]> {
  const { rows } = await db.query<OrgRoleHolderRow>(
    `SELECT r.user_id, u.email, u.name, r.role,
            coalesce((SELECT array_agg(s.ods_code ORDER BY s.ods_code) FROM commissioned_sites c JOIN sites s ON s.id = c.site_id
                       WHERE c.user_id = r.user_id AND r.role = 'commissioner'), '{}') AS sites
       FROM org_roles r JOIN users u ON u.id = r.user_id
      ORDER BY r.role, u.email`,
  );
  return rows;
}
