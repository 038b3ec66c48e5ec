import type { Db } from '../pool.js';

export async function insertCommissionedSite(db: Db, userId: string, siteId: string): Promise<void> {
  await db.query('INSERT INTO commissioned_sites (user_id, site_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, siteId]);
}

export async function deleteCommissionedSites(db: Db, userId: string, siteIds: string[] | null): Promise<number> {
  const { rowCount } = await db.query(
    'DELETE FROM commissioned_sites WHERE user_id = $1 AND ($2::uuid[] IS NULL OR site_id = ANY($2::uuid[]))',
    [userId, siteIds],
  );
  return rowCount ?? 0;
}

export async function listCommissionedSiteIds(db: Db, userId: string): Promise<string[]> {
  const { rows } = await db.query<{ site_id: string }>('SELECT site_id FROM commissioned_sites WHERE user_id = $1', [userId]);
  return rows.map((r) => r.site_id);
}
