import type { Db } from '../pool.js';

/** A new code replaces any earlier one. */
export async function replaceActivationCode(db: Db, userId: string, codeHash: string, ttlSeconds: number): Promise<void> {
  await db.query(
    `INSERT INTO activation_codes (user_id, code_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
     ON CONFLICT (user_id) DO UPDATE SET code_hash = EXCLUDED.code_hash, expires_at = EXCLUDED.expires_at, created_at = now()`,
    [userId, codeHash, ttlSeconds],
  );
}

/**
 * Uses the code if it matches and has not expired: one DELETE whose row count
 * decides, so two requests racing with the same code cannot both succeed.
 */
export async function consumeActivationCode(db: Db, userId: string, codeHash: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'DELETE FROM activation_codes WHERE user_id = $1 AND code_hash = $2 AND expires_at > now()',
    [userId, codeHash],
  );
  return rowCount === 1;
}

export async function hasLiveActivationCode(db: Db, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM activation_codes WHERE user_id = $1 AND expires_at > now()', [userId]);
  return rowCount === 1;
}
