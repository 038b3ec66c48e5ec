import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type pg from 'pg';

const here = fileURLToPath(new URL('.', import.meta.url));
/** migrations/ sits at the package root, both from src/db and from dist/src/db. */
async function migrationsDir(): Promise<string> {
  for (const candidate of [join(here, '../../migrations'), join(here, '../../../migrations')]) {
    try {
      await readdir(candidate);
      return candidate;
    } catch { /* try the next */ }
  }
  throw new Error('migrations folder not found');
}

/**
 * Applies the numbered SQL files in migrations/ that have not run yet, each in
 * its own transaction, under an advisory lock so that processes starting
 * together do not race. Returns the names applied.
 */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const dir = await migrationsDir();
  const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7243001)');
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ name: string }>('SELECT name FROM schema_migrations');
    const done = new Set(rows.map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(join(dir, file), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
      applied.push(file);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(7243001)').catch(() => {});
    client.release();
  }
  return applied;
}
