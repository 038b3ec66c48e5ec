import type { Db } from '../pool.js';

export async function replaceRecoveryCodes(db: Db, userId: string, codeHashes: string[]): Promise<void> {
  await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
  await db.query(
    'INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])',
    [userId, codeHashes],
  );
}

/** Marks the code used if it is unused: one conditional UPDATE, so it works once even under a race. */
export async function consumeRecoveryCode(db: Db, userId: string, codeHash: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL',
    [userId, codeHash],
  );
  return rowCount === 1;
}

export async function countUnusedRecoveryCodes(db: Db, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT count(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL',
    [userId],
  );
  return Number(rows[0]!.n);
}

export async function deleteRecoveryCodes(db: Db, userId: string): Promise<void> {
  await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
}
