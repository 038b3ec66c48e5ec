import type pg from 'pg';
import type { KeyValueStore } from './key-value-store.js';

/** Rows past their expiry are invisible to reads (the sweep deletes them later). */
const LIVE = '(e.expires_at IS NULL OR e.expires_at > now())';
const EXPIRY = "CASE WHEN $3::float8 > 0 THEN now() + $3::float8 * interval '1 second' END";

/**
 * The KeyValueStore in Postgres, for deployments without Redis (the embedded
 * default, or an external DATABASE_URL alone): what Redis would keep lives in
 * the table `store_entries`, so it survives a restart and every process and
 * the CLI see it. Each contract method is one SQL statement, atomic under
 * concurrent callers (INSERT … ON CONFLICT and conditional UPDATE lock the row
 * and re-check their condition against its newest version).
 */
export class PostgresStore implements KeyValueStore {
  readonly kind = 'postgres' as const;
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly pool: pg.Pool, sweepSeconds = 60) {
    this.sweeper = setInterval(() => { this.sweep().catch(() => {}); }, sweepSeconds * 1000);
    this.sweeper.unref();
  }

  /** Deletes expired entries and rate-limit rows (reads already ignore them). */
  async sweep(): Promise<void> {
    await this.pool.query('DELETE FROM store_entries WHERE expires_at <= now()');
    await this.pool.query('DELETE FROM rate_limits WHERE expire < $1', [Date.now()]);
  }

  async get(key: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ value: string | null }>(
      `SELECT e.value FROM store_entries e WHERE e.key = $1 AND ${LIVE}`, [key]);
    return rows[0]?.value ?? null;
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    if (!keys.length) return [];
    const { rows } = await this.pool.query<{ key: string; value: string | null }>(
      `SELECT e.key, e.value FROM store_entries e WHERE e.key = ANY($1::text[]) AND ${LIVE}`, [keys]);
    const found = new Map(rows.map((r) => [r.key, r.value]));
    return keys.map((k) => found.get(k) ?? null);
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO store_entries AS e (key, value, members, expires_at) VALUES ($1, $2, NULL, ${EXPIRY})
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, members = NULL, expires_at = EXCLUDED.expires_at`,
      [key, value, ttlSeconds ?? 0]);
  }

  async take(key: string): Promise<string | null> {
    // DELETE … RETURNING: the row lock makes a second racing DELETE find nothing.
    const { rows } = await this.pool.query<{ value: string | null }>(
      `DELETE FROM store_entries e WHERE e.key = $1 RETURNING e.value, ${LIVE} AS live`, [key]);
    const row = rows[0] as { value: string | null; live?: boolean } | undefined;
    return row?.live ? row.value : null;
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length) await this.pool.query('DELETE FROM store_entries WHERE key = ANY($1::text[])', [keys]);
  }

  async addToSet(key: string, member: string, ttlSeconds: number): Promise<void> {
    // Like Redis's SADD with EXPIRE GT/NX: the set lives as long as its longest TTL.
    await this.pool.query(
      `INSERT INTO store_entries AS e (key, value, members, expires_at) VALUES ($1, NULL, ARRAY[$2::text], ${EXPIRY})
       ON CONFLICT (key) DO UPDATE SET
         value = NULL,
         members = CASE
           WHEN NOT ${LIVE} OR e.members IS NULL THEN ARRAY[$2::text]
           WHEN $2::text = ANY(e.members) THEN e.members
           ELSE e.members || $2::text END,
         expires_at = CASE WHEN NOT ${LIVE} THEN EXCLUDED.expires_at ELSE GREATEST(e.expires_at, EXCLUDED.expires_at) END`,
      [key, member, ttlSeconds]);
  }

  async members(key: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ members: string[] | null }>(
      `SELECT e.members FROM store_entries e WHERE e.key = $1 AND ${LIVE}`, [key]);
    return rows[0]?.members ?? [];
  }

  async raiseTo(key: string, value: number, ttlSeconds: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO store_entries AS e (key, value, members, expires_at) VALUES ($1, $2::numeric::text, NULL, ${EXPIRY})
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, members = NULL, expires_at = EXCLUDED.expires_at
       WHERE NOT ${LIVE} OR e.value IS NULL OR e.value !~ '^-?[0-9]+(\\.[0-9]+)?$' OR e.value::numeric < $2::numeric`,
      [key, value, ttlSeconds]);
    return rowCount === 1;
  }

  async setMergingMap(key: string, json: string, field: string, ttlSeconds: number): Promise<void> {
    // The stored map's entries that the new object lacks are kept; the new object's entries win.
    await this.pool.query(
      `INSERT INTO store_entries AS e (key, value, members, expires_at) VALUES ($1, $2, NULL, ${EXPIRY})
       ON CONFLICT (key) DO UPDATE SET
         members = NULL,
         expires_at = EXCLUDED.expires_at,
         value = CASE
           WHEN ${LIVE} AND e.value IS NOT NULL AND jsonb_typeof(e.value::jsonb -> $4::text) = 'object'
           THEN jsonb_set(EXCLUDED.value::jsonb, ARRAY[$4::text], (e.value::jsonb -> $4::text) || CASE
             WHEN jsonb_typeof(EXCLUDED.value::jsonb -> $4::text) = 'object' THEN EXCLUDED.value::jsonb -> $4::text
             ELSE '{}'::jsonb END)::text
           ELSE EXCLUDED.value END`,
      [key, json, ttlSeconds, field]);
  }

  async claimJsonField(key: string, field: string, value: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE store_entries e SET value = jsonb_set(e.value::jsonb, ARRAY[$2::text], to_jsonb($3::numeric))::text
        WHERE e.key = $1 AND ${LIVE} AND e.value IS NOT NULL
          AND coalesce(e.value::jsonb -> $2::text, 'false'::jsonb) IN ('false'::jsonb, 'null'::jsonb)`,
      [key, field, value]);
    return rowCount === 1;
  }

  async ping(): Promise<void> { await this.pool.query('SELECT 1'); }

  /** Postgres outages surface as errors on the query (rendered as 503); there is no separate link to watch. */
  isReady(): boolean { return true; }

  /** Stops the sweep; the pool belongs to whoever opened it. */
  async close(): Promise<void> { clearInterval(this.sweeper); }
}
