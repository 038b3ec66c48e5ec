import type { Db } from '../pool.js';

export type SiteKind = 'pharmacy' | 'gp-practice' | 'other';

export interface SiteRow {
  id: string;
  ods_code: string;
  name: string;
  kind: SiteKind;
  address: string | null;
  /** The most people who may be active at the site at once; null: no limit. */
  user_cap: number | null;
  created_at: Date;
}

const columns = 'id, ods_code, name, kind, address, user_cap, created_at';

/** Inserts a site; undefined when the ODS code is taken. */
export async function insertSite(db: Db, s: { odsCode: string; name: string; kind: SiteKind; address?: string | null; userCap?: number | null }): Promise<SiteRow | undefined> {
  const { rows } = await db.query<SiteRow>(
    `INSERT INTO sites (ods_code, name, kind, address, user_cap) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (ods_code) DO NOTHING RETURNING ${columns}`,
    [s.odsCode, s.name, s.kind, s.address ?? null, s.userCap ?? null],
  );
  return rows[0];
}

export async function findSiteByOds(db: Db, odsCode: string): Promise<SiteRow | undefined> {
  const { rows } = await db.query<SiteRow>(`SELECT ${columns} FROM sites WHERE ods_code = $1`, [odsCode]);
  return rows[0];
}

export async function findSitesByIds(db: Db, ids: string[]): Promise<SiteRow[]> {
  const { rows } = await db.query<SiteRow>(`SELECT ${columns} FROM sites WHERE id = ANY($1::uuid[]) ORDER BY name, ods_code`, [ids]);
  return rows;
}

export async function listSites(db: Db): Promise<SiteRow[]> {
  const { rows } = await db.query<SiteRow>(`SELECT ${columns} FROM sites ORDER BY ods_code`);
  return rows;
}

export interface SiteSummaryRow extends SiteRow { active_people: number; administrators: number; total: number }

/** Sites with their head counts, a page at a time; `ids` null means every site. */
export async function listSiteSummaries(db: Db, ids: string[] | null, limit: number, offset: number): Promise<SiteSummaryRow[]> {
  const { rows } = await db.query<SiteSummaryRow>(
    `SELECT ${columns.split(', ').map((c) => `s.${c}`).join(', ')},
            (SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
              WHERE m.site_id = s.id AND u.status <> 'disabled')::int AS active_people,
            (SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
              WHERE m.site_id = s.id AND m.role = 'site-admin' AND u.status <> 'disabled')::int AS administrators,
            count(*) OVER ()::int AS total
       FROM sites s
      WHERE $1::uuid[] IS NULL OR s.id = ANY($1::uuid[])
      ORDER BY s.name, s.ods_code LIMIT $2 OFFSET $3`,
    [ids, limit, offset],
  );
  return rows;
}

export async function updateSite(db: Db, id: string, s: { name: string; address: string | null; userCap: number | null }): Promise<SiteRow | undefined> {
  const { rows } = await db.query<SiteRow>(
    `UPDATE sites SET name = $2, address = $3, user_cap = $4 WHERE id = $1 RETURNING ${columns}`,
    [id, s.name, s.address, s.userCap],
  );
  return rows[0];
}

/**
 * Locks several sites' rows for the rest of the transaction, always in the
 * same order (by id), so two transactions that lock the same sites take
 * turns instead of each waiting for the other.
 */
export async function lockSites(db: Db, ids: string[]): Promise<void> {
  await db.query('SELECT id FROM sites WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE', [ids]);
}

/**
 * Locks the site's row for the rest of the transaction and counts its active
 * people: two transactions adding people to one site take turns, so the cap
 * (and the last-administrator rule) cannot be raced past.
 */
export async function lockSiteAndCount(db: Db, id: string): Promise<{ user_cap: number | null; active_people: number; administrators: number } | undefined> {
  const locked = await db.query<{ user_cap: number | null }>('SELECT user_cap FROM sites WHERE id = $1 FOR UPDATE', [id]);
  if (!locked.rows[0]) return undefined;
  const { rows } = await db.query<{ active_people: number; administrators: number }>(
    `SELECT count(*)::int AS active_people, count(*) FILTER (WHERE m.role = 'site-admin')::int AS administrators
       FROM memberships m JOIN users u ON u.id = m.user_id
      WHERE m.site_id = $1 AND u.status <> 'disabled'`,
    [id],
  );
  return { user_cap: locked.rows[0].user_cap, ...rows[0]! };
}
