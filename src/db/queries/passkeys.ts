import type { Db } from '../pool.js';

export interface PasskeyRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: Buffer;
  sign_count: number;
  transports: string[];
  device_type: 'singleDevice' | 'multiDevice';
  backed_up: boolean;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

// WebAuthn's counter is 32 bits unsigned, past int4's range: float8 holds it exactly and comes back as a number (bigint would come back as a string).
const columns = 'id, user_id, credential_id, public_key, sign_count::float8 AS sign_count, transports, device_type, backed_up, name, created_at, last_used_at';

export interface NewPasskey {
  userId: string;
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  name: string;
}

/** Undefined when the credential id is registered already (to anyone: a credential belongs to one person). */
export async function insertPasskey(db: Db, p: NewPasskey): Promise<PasskeyRow | undefined> {
  const { rows } = await db.query<PasskeyRow>(
    `INSERT INTO passkeys (user_id, credential_id, public_key, sign_count, transports, device_type, backed_up, name)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (credential_id) DO NOTHING RETURNING ${columns}`,
    [p.userId, p.credentialId, Buffer.from(p.publicKey), p.signCount, p.transports, p.deviceType, p.backedUp, p.name],
  );
  return rows[0];
}

export async function listPasskeys(db: Db, userId: string): Promise<PasskeyRow[]> {
  const { rows } = await db.query<PasskeyRow>(
    `SELECT ${columns} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, [userId]);
  return rows;
}

export async function countPasskeys(db: Db, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM passkeys WHERE user_id = $1', [userId]);
  return rows[0]!.n;
}

export async function findPasskeyByCredentialId(db: Db, credentialId: string): Promise<PasskeyRow | undefined> {
  const { rows } = await db.query<PasskeyRow>(`SELECT ${columns} FROM passkeys WHERE credential_id = $1`, [credentialId]);
  return rows[0];
}

export async function findPasskey(db: Db, id: string, userId: string): Promise<PasskeyRow | undefined> {
  const { rows } = await db.query<PasskeyRow>(`SELECT ${columns} FROM passkeys WHERE id = $1 AND user_id = $2`, [id, userId]);
  return rows[0];
}

/**
 * Records a use: the counter only moves forward (or stays 0 for an
 * authenticator that keeps none). One conditional statement, so two
 * assertions racing with the same counter cannot both count; false when
 * the row is gone or the counter did not move forward.
 */
export async function recordPasskeyUse(db: Db, id: string, userId: string, newCount: number, at: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE passkeys SET sign_count = $3, last_used_at = $4
      WHERE id = $1 AND user_id = $2 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))`,
    [id, userId, newCount, at],
  );
  return rowCount === 1;
}

export async function renamePasskey(db: Db, id: string, userId: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2', [id, userId, name]);
  return rowCount === 1;
}

export async function deletePasskey(db: Db, id: string, userId: string): Promise<PasskeyRow | undefined> {
  const { rows } = await db.query<PasskeyRow>(`DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING ${columns}`, [id, userId]);
  return rows[0];
}

/** Every passkey of the person (an administrator's reset of their two-step sign-in): how many went. */
export async function deleteAllPasskeys(db: Db, userId: string): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM passkeys WHERE user_id = $1', [userId]);
  return rowCount ?? 0;
}
