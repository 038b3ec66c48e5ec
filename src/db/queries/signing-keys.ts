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

/** Live keys first (they sign), then keys retired less than `graceSeconds` ago (still published to verify). */
export async function listPublishedSigningKeys(db: Db, graceSeconds: number): Promise<SigningKeyRow[]> {
  const { rows } = await db.query<SigningKeyRow>(
    `SELECT kid, alg, jwk_sealed, created_at, retired_at FROM signing_keys
      WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1)
      ORDER BY (retired_at IS NULL) DESC, created_at DESC, kid`,
    [graceSeconds],
  );
  return rows;
}

export async function retireLiveSigningKeys(db: Db): Promise<number> {
  const { rowCount } = await db.query('UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL');
  return rowCount ?? 0;
}

export async function listAllSealedSigningKeys(db: Db): Promise<{ kid: string; jwk_sealed: string }[]> {
  const { rows } = await db.query<{ kid: string; jwk_sealed: string }>('SELECT kid, jwk_sealed FROM signing_keys');
  return rows;
}

export async function resealSigningKey(db: Db, kid: string, from: string, to: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE signing_keys SET jwk_sealed = $3 WHERE kid = $1 AND jwk_sealed = $2', [kid, from, to]);
  return rowCount === 1;
}

export async function insertSigningKey(db: Db, k: { kid: string; alg: string; jwkSealed: string }): Promise<void> {
  await db.query('INSERT INTO signing_keys (kid, alg, jwk_sealed) VALUES ($1, $2, $3)', [k.kid, k.alg, k.jwkSealed]);
}

/** Serialises key creation across processes for the rest of the transaction. */
export async function lockSigningKeys(db: Db): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(7243002)');
}
