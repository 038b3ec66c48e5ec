import type { Db } from '../pool.js';

export type UserStatus = 'invited' | 'active' | 'disabled';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  status: UserStatus;
  sessions_revoked_at: Date | null;
  last_sign_in_at: Date | null;
  second_factor_failures: number;
  locked_at: Date | null;
  created_at: Date;
}

const columns = 'id, email, name, status, sessions_revoked_at, last_sign_in_at, second_factor_failures, locked_at, created_at';

export async function insertUser(db: Db, u: { email: string; emailKey: string; name: string; status: UserStatus }): Promise<UserRow> {
  const { rows } = await db.query<UserRow>(
    `INSERT INTO users (email, email_key, name, status) VALUES ($1, $2, $3, $4) RETURNING ${columns}`,
    [u.email, u.emailKey, u.name, u.status],
  );
  return rows[0]!;
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(`SELECT ${columns} FROM users WHERE id = $1`, [id]);
  return rows[0];
}

export async function findUserByEmailKey(db: Db, emailKey: string): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(`SELECT ${columns} FROM users WHERE email_key = $1`, [emailKey]);
  return rows[0];
}

export async function setUserStatus(db: Db, id: string, status: UserStatus): Promise<void> {
  await db.query('UPDATE users SET status = $2 WHERE id = $1', [id, status]);
}

/** Ends every session and token obtained before now. */
export async function revokeUserSessions(db: Db, id: string): Promise<void> {
  await db.query('UPDATE users SET sessions_revoked_at = now() WHERE id = $1', [id]);
}

export async function recordSignIn(db: Db, id: string): Promise<void> {
  await db.query('UPDATE users SET last_sign_in_at = now() WHERE id = $1', [id]);
}

export async function countUsers(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM users');
  return Number(rows[0]!.n);
}

/** Counts one more wrong second-factor answer; at `limit` the account locks. Returns the new count. */
export async function addSecondFactorFailure(db: Db, id: string, limit: number): Promise<number> {
  const { rows } = await db.query<{ second_factor_failures: number }>(
    `UPDATE users SET second_factor_failures = second_factor_failures + 1,
            locked_at = CASE WHEN second_factor_failures + 1 >= $2 THEN coalesce(locked_at, now()) ELSE locked_at END
      WHERE id = $1 RETURNING second_factor_failures`,
    [id, limit],
  );
  return rows[0]?.second_factor_failures ?? 0;
}

export async function clearSecondFactorFailures(db: Db, id: string): Promise<void> {
  await db.query('UPDATE users SET second_factor_failures = 0 WHERE id = $1 AND second_factor_failures <> 0', [id]);
}

export async function unlockUser(db: Db, id: string): Promise<void> {
  await db.query('UPDATE users SET second_factor_failures = 0, locked_at = NULL WHERE id = $1', [id]);
}
