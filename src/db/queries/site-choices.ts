import type { Db } from '../pool.js';

export async function upsertSiteChoice(db: Db, userId: string, clientId: string, siteId: string): Promise<void> {
  await db.query(
    `INSERT INTO site_choices (user_id, client_id, site_id) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, client_id) DO UPDATE SET site_id = EXCLUDED.site_id, chosen_at = now()`,
    [userId, clientId, siteId],
  );
}

/** The site last chosen for this portal, or failing that, for any portal. */
export async function findSiteChoice(db: Db, userId: string, clientId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ ods_code: string }>(
    `SELECT s.ods_code FROM site_choices c
       JOIN sites s ON s.id = c.site_id
       JOIN memberships m ON m.user_id = c.user_id AND m.site_id = c.site_id
      WHERE c.user_id = $1
      ORDER BY (c.client_id = $2) DESC, c.chosen_at DESC LIMIT 1`,
    [userId, clientId],
  );
  return rows[0]?.ods_code;
}
