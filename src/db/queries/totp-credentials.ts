import type { Db } from '../pool.js';

export interface TotpCredentialRow {
  id: string;
  user_id: string;
  secret_sealed: string;
  confirmed_at: Date | null;
}

const columns = 'id, user_id, secret_sealed, confirmed_at';

export async function insertPendingTotp(db: Db, userId: string, secretSealed: string): Promise<TotpCredentialRow> {
  const { rows } = await db.query<TotpCredentialRow>(
    `INSERT INTO totp_credentials (user_id, secret_sealed) VALUES ($1, $2) RETURNING ${columns}`,
    [userId, secretSealed],
  );
  return rows[0]!;
}

export async function findTotpCredential(db: Db, id: string, userId: string): Promise<TotpCredentialRow | undefined> {
  const { rows } = await db.query<TotpCredentialRow>(
    `SELECT ${columns} FROM totp_credentials WHERE id = $1 AND user_id = $2`,
    [id, userId],
  );
  return rows[0];
}

export async function findConfirmedTotp(db: Db, userId: string): Promise<TotpCredentialRow | undefined> {
  const { rows } = await db.query<TotpCredentialRow>(
    `SELECT ${columns} FROM totp_credentials WHERE user_id = $1 AND confirmed_at IS NOT NULL`,
    [userId],
  );
  return rows[0];
}

/**
 * Makes the pending credential the user's only authenticator, whatever was
 * confirmed before (the account page, after the current code was proved);
 * false when it was not pending.
 */
export async function replaceTotp(db: Db, id: string, userId: string): Promise<boolean> {
  await db.query('DELETE FROM totp_credentials WHERE user_id = $1 AND id <> $2', [userId, id]);
  const { rowCount } = await db.query(
    'UPDATE totp_credentials SET confirmed_at = now() WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL',
    [id, userId],
  );
  return rowCount === 1;
}

/**
 * Confirms the pending credential only while the person has no confirmed
 * one: one UPDATE whose row count decides. Two such confirmations racing
 * both pass the NOT EXISTS, but the unique index totp_one_confirmed_per_user
 * lets only one commit: the other gets a unique violation, reported as false
 * (its transaction must then be rolled back).
 */
export async function confirmOnlyTotp(db: Db, id: string, userId: string): Promise<boolean> {
  try {
    const { rowCount } = await db.query(
      `UPDATE totp_credentials SET confirmed_at = now()
        WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM totp_credentials c WHERE c.user_id = $2 AND c.confirmed_at IS NOT NULL)`,
      [id, userId],
    );
    return rowCount === 1;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') return false;
    throw err;
  }
}

/** Removes this confirmed credential (the one a recovery code stood in for); false when it is no longer there. */
export async function deleteConfirmedTotp(db: Db, id: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM totp_credentials WHERE id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL', [id, userId]);
  return rowCount === 1;
}

/** Set-ups of other sign-ins that can no longer be confirmed once one authenticator is. */
export async function deletePendingTotp(db: Db, userId: string, keep: string): Promise<void> {
  await db.query('DELETE FROM totp_credentials WHERE user_id = $1 AND id <> $2 AND confirmed_at IS NULL', [userId, keep]);
}

export async function deleteTotpCredentials(db: Db, userId: string): Promise<void> {
  await db.query('DELETE FROM totp_credentials WHERE user_id = $1', [userId]);
}

export async function listSealedTotpSecrets(db: Db): Promise<{ id: string; secret_sealed: string }[]> {
  const { rows } = await db.query<{ id: string; secret_sealed: string }>('SELECT id, secret_sealed FROM totp_credentials');
  return rows;
}

/** Replaces the envelope only if it is still the one read (a concurrent change wins). */
export async function resealTotpSecret(db: Db, id: string, from: string, to: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE totp_credentials SET secret_sealed = $3 WHERE id = $1 AND secret_sealed = $2', [id, from, to]);
  return rowCount === 1;
}
