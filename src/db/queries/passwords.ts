import type { Db } from '../pool.js';

export async function findPasswordHash(db: Db, userId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ hash: string }>('SELECT hash FROM passwords WHERE user_id = $1', [userId]);
  return rows[0]?.hash;
}

export async function upsertPasswordHash(db: Db, userId: string, hash: string): Promise<void> {
  await db.query(
    `INSERT INTO passwords (user_id, hash) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET hash = EXCLUDED.hash, updated_at = now()`,
    [userId, hash],
  );
}

export async function deletePassword(db: Db, userId: string): Promise<void> {
  await db.query('DELETE FROM passwords WHERE user_id = $1', [userId]);
}
