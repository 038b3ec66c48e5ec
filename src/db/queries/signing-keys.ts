import type { Db } from '../pool.js';

export interface SigningKeyRow {
  kid: string;
  alg: string;
  jwk_sealed: string;
  created_at: Date;
  retired_at: Date | null;
}

export async function listLiveSigningKeys(db: Db): Promise<SigningKeyRow[]> {
  const { rows } = await db.query<SigningKeyRow>(
    `SELECT kid, alg, jwk_sealed, created_at, retired_at FROM signing_keys
      WHERE retired_at IS NULL ORDER BY created_at DESC, kid`,
  );
  return rows;
}

export async function insertSigningKey(db: Db, k: { kid: string; alg: string; jwkSealed: string }): Promise<void> {
  await db.query('INSERT INTO signing_keys (kid, alg, jwk_sealed) VALUES ($1, $2, $3)', [k.kid, k.alg, k.jwkSealed]);
}

/** Serialises key creation across processes for the rest of the transaction. */
export async function lockSigningKeys(db: Db): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(7243002)');
}
