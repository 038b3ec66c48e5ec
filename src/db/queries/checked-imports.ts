import type { Db } from '../pool.js';

/**
 * Keeps a checked import for the administrator and sign-in that checked it.
 * Their newer check replaces any earlier one (only the file last checked can
 * be applied), and expired checks of anyone are cleared.
 */
export async function insertCheckedImport(
  db: Db, c: { tokenHash: Buffer; userId: string; sessionId: string; csv: string; now: Date; expiresAt: Date },
): Promise<void> {
  await db.query('DELETE FROM checked_imports WHERE expires_at < $2 OR user_id = $1', [c.userId, c.now]);
  await db.query(
    'INSERT INTO checked_imports (token_hash, user_id, session_id, csv, expires_at) VALUES ($1, $2, $3, $4, $5)',
    [c.tokenHash, c.userId, c.sessionId, c.csv, c.expiresAt],
  );
}

/**
 * Takes a checked import out, once: only with its token, for the same
 * administrator and sign-in, before it expires. One conditional statement,
 * so two applies of the same check cannot both get it.
 */
export async function takeCheckedImport(db: Db, tokenHash: Buffer, userId: string, sessionId: string, now: Date): Promise<string | undefined> {
  const { rows } = await db.query<{ csv: string }>(
    `DELETE FROM checked_imports WHERE token_hash = $1 AND user_id = $2 AND session_id = $3 AND expires_at > $4 RETURNING csv`,
    [tokenHash, userId, sessionId, now],
  );
  return rows[0]?.csv;
}
