import type { Db } from '../pool.js';
import type { UserRow } from './users.js';

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

/**
 * A person and their password hash in one round trip; an unknown email costs
 * the same single query, so the timing does not tell them apart.
 */
export async function findCredentialsByEmailKey(db: Db, emailKey: string): Promise<{ user: UserRow; hash: string | null } | undefined> {
  const { rows } = await db.query<UserRow & { hash: string | null }>(
    `SELECT u.id, u.email, u.name, u.status, u.sessions_revoked_at, u.tokens_revoked_at, u.last_sign_in_at,
            u.second_factor_failures, u.locked_at, u.created_at, p.hash
       FROM users u LEFT JOIN passwords p ON p.user_id = u.id
      WHERE u.email_key = $1`,
    [emailKey],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { hash, ...user } = row;
  return { user, hash };
}
