import type { Db } from '../pool.js';

export type SiteKind = 'pharmacy' | 'gp-practice' | 'other';

export interface SiteRow {
  id: string;
  ods_code: string;
  name: string;
  kind: SiteKind;
  created_at: Date;
}

const columns = 'id, ods_code, name, kind, created_at';

/** Inserts a site; undefined when the ODS code is taken. */
export async function insertSite(db: Db, s: { odsCode: string; name: string; kind: SiteKind }): Promise<SiteRow | undefined> {
  const { rows } = await db.query<SiteRow>(
    `INSERT INTO sites (ods_code, name, kind) VALUES ($1, $2, $3)
     ON CONFLICT (ods_code) DO NOTHING RETURNING ${columns}`,
    [s.odsCode, s.name, s.kind],
  );
  return rows[0];
}

export async function findSiteByOds(db: Db, odsCode: string): Promise<SiteRow | undefined> {
  const { rows } = await db.query<SiteRow>(`SELECT ${columns} FROM sites WHERE ods_code = $1`, [odsCode]);
  return rows[0];
}

export async function listSites(db: Db): Promise<SiteRow[]> {
  const { rows } = await db.query<SiteRow>(`SELECT ${columns} FROM sites ORDER BY ods_code`);
  return rows;
}
