import type { Db } from '../pool.js';

export type UserStatus = 'invited' | 'active' | 'disabled';

export interface UserRow {
  id: string;
  email: string;
  name: string;
  status: UserStatus;
  sessions_revoked_at: Date | null;
  /** Tokens issued before this are refused; sessions are not ended by it (see refuseEarlierTokens). */
  tokens_revoked_at: Date | null;
  last_sign_in_at: Date | null;
  second_factor_failures: number;
  locked_at: Date | null;
  created_at: Date;
}

const columns = 'id, email, name, status, sessions_revoked_at, tokens_revoked_at, last_sign_in_at, second_factor_failures, locked_at, created_at';

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

/** The people who hold any of these emails, by email key. */
export async function findUsersByEmailKeys(db: Db, emailKeys: string[]): Promise<Map<string, UserRow>> {
  const { rows } = await db.query<UserRow & { email_key: string }>(`SELECT ${columns}, email_key FROM users WHERE email_key = ANY($1::text[])`, [emailKeys]);
  return new Map(rows.map(({ email_key: key, ...u }) => [key, u]));
}

/**
 * Locks the person's row for the rest of the transaction. Acts that decide
 * from where a person works (links, resets) take it first, so a reach
 * decision and the write it allows see the same sites: a link cannot slip
 * between a reset's decision and its code.
 */
export async function lockUserRow(db: Db, id: string): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(`SELECT ${columns} FROM users WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0];
}

/**
 * Locks several people's rows, always in the same order (by id): two
 * transactions locking the same people take turns instead of each holding
 * one the other waits for. Returns the rows found, by id.
 */
export async function lockUserRows(db: Db, ids: string[]): Promise<Map<string, UserRow>> {
  const { rows } = await db.query<UserRow>(`SELECT ${columns} FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [ids]);
  return new Map(rows.map((u) => [u.id, u]));
}

/** A new name and email (with its key); a unique violation (23505) means the email is someone else's. */
export async function updateUserDetails(db: Db, id: string, u: { name: string; email: string; emailKey: string }): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(
    `UPDATE users SET name = $2, email = $3, email_key = $4 WHERE id = $1 RETURNING ${columns}`,
    [id, u.name, u.email, u.emailKey],
  );
  return rows[0];
}

export async function setUserStatus(db: Db, id: string, status: UserStatus): Promise<void> {
  await db.query('UPDATE users SET status = $2 WHERE id = $1', [id, status]);
}

/** Ends every session and token obtained before now. */
export async function revokeUserSessions(db: Db, id: string): Promise<void> {
  await db.query('UPDATE users SET sessions_revoked_at = now() WHERE id = $1', [id]);
}

/**
 * Refuses every token issued before `at` (a credential change); sessions
 * stay, unless ended by id. `at` is this process's clock, the one tokens are
 * dated by.
 */
export async function refuseEarlierTokens(db: Db, id: string, at: Date): Promise<void> {
  await db.query('UPDATE users SET tokens_revoked_at = $2 WHERE id = $1', [id, at]);
}

export async function recordSignIn(db: Db, id: string): Promise<void> {
  await db.query('UPDATE users SET last_sign_in_at = now() WHERE id = $1', [id]);
}

export async function countUsers(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM users');
  return Number(rows[0]!.n);
}

/**
 * Records one more wrong second-factor answer at `at`, keeping only those
 * within `periodSeconds` before it (and no more than `keep`, the newest):
 * one UPDATE on the person's row, so parallel failures each count. Returns
 * how many fall in the period, this one included.
 */
export async function recordSecondFactorFailure(db: Db, id: string, at: Date, periodSeconds: number, keep: number): Promise<number> {
  // The period's wrong codes are read from the row being updated (not a snapshot beside it), so a
  // failure racing with another is counted on top of it.
  const recent = `SELECT t FROM unnest(second_factor_failed_at) AS t WHERE t > $2::timestamptz - make_interval(secs => $3)
                   ORDER BY t DESC LIMIT greatest($4::int - 1, 0)`;
  const { rows } = await db.query<{ second_factor_failures: number }>(
    `UPDATE users SET second_factor_failed_at = ARRAY(${recent}) || $2::timestamptz,
            second_factor_failures = (SELECT count(*) FROM (${recent}) AS r)::int + 1
      WHERE id = $1 RETURNING second_factor_failures`,
    [id, at, periodSeconds, keep],
  );
  return rows[0]?.second_factor_failures ?? 0;
}

/** Locks the account until an administrator unlocks it: true only for the call that locked it. */
export async function lockUser(db: Db, id: string, at: Date): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE users SET locked_at = $2 WHERE id = $1 AND locked_at IS NULL', [id, at]);
  return rowCount === 1;
}

/** An administrator's unlock: the lock and every wrong code counted towards it go. */
export async function unlockUser(db: Db, id: string): Promise<void> {
  await db.query(`UPDATE users SET second_factor_failures = 0, second_factor_failed_at = '{}', locked_at = NULL WHERE id = $1`, [id]);
}

/**
 * Re-enables a disabled person: active again if they have a password, else
 * invited. One conditional UPDATE; undefined when they were not disabled.
 */
export async function enableUser(db: Db, id: string): Promise<UserStatus | undefined> {
  const { rows } = await db.query<{ status: UserStatus }>(
    `UPDATE users u SET status = CASE WHEN EXISTS (SELECT 1 FROM passwords p WHERE p.user_id = u.id) THEN 'active' ELSE 'invited' END
      WHERE u.id = $1 AND u.status = 'disabled' RETURNING u.status`,
    [id],
  );
  return rows[0]?.status;
}

/** Disables a person; false when they already were. */
export async function disableUser(db: Db, id: string): Promise<boolean> {
  const { rowCount } = await db.query("UPDATE users SET status = 'disabled' WHERE id = $1 AND status <> 'disabled'", [id]);
  return rowCount === 1;
}

export interface UserSearchRow extends UserRow { sites: string[]; total: number }

/**
 * People whose email or name contains `text` (case-insensitive), limited to
 * members of `siteIds` (null: everyone), a page at a time.
 */
export async function searchUsers(db: Db, text: string, siteIds: string[] | null, limit: number, offset: number): Promise<UserSearchRow[]> {
  const pattern = `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const { rows } = await db.query<UserSearchRow>(
    `SELECT ${columns.split(', ').map((c) => `u.${c}`).join(', ')},
            coalesce((SELECT array_agg(s.ods_code ORDER BY s.ods_code) FROM memberships m JOIN sites s ON s.id = m.site_id
                       WHERE m.user_id = u.id), '{}') AS sites,
            count(*) OVER ()::int AS total
       FROM users u
      WHERE (u.email_key LIKE $1 OR lower(u.name) LIKE $1)
        AND ($2::uuid[] IS NULL OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.site_id = ANY($2::uuid[])))
      ORDER BY u.name, u.email LIMIT $3 OFFSET $4`,
    [pattern, siteIds, limit, offset],
  );
  return rows;
}
