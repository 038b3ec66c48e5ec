import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { withTransaction } from '../db/pool.js';
import * as signingKeys from '../db/queries/signing-keys.js';
import type { Deps } from './deps.js';

export type PrivateJwk = Record<string, string> & { kid: string; alg: string; use: 'sig' };

/** RS256 is what every relying party verifies; ES256 is offered for those that prefer it. */
const ALGORITHMS = ['RS256', 'ES256'] as const;

function generate(alg: (typeof ALGORITHMS)[number]): PrivateJwk {
  const { privateKey } = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as Record<string, string>;
  return { ...jwk, kid: randomBytes(9).toString('base64url'), alg, use: 'sig' };
}

/**
 * The signing keys every process uses, newest first. Made at first start and
 * kept sealed in Postgres; an advisory lock keeps processes starting together
 * from making two sets.
 */
export async function loadSigningKeys(deps: Deps): Promise<PrivateJwk[]> {
  return withTransaction(deps.db, async (tx) => {
    await signingKeys.lockSigningKeys(tx);
    const rows = await signingKeys.listLiveSigningKeys(tx);
    for (const alg of ALGORITHMS) {
      if (rows.some((r) => r.alg === alg)) continue;
      const jwk = generate(alg);
      const jwkSealed = deps.sealer.seal(JSON.stringify(jwk));
      await signingKeys.insertSigningKey(tx, { kid: jwk.kid, alg, jwkSealed });
      rows.unshift({ kid: jwk.kid, alg, jwk_sealed: jwkSealed, created_at: new Date(), retired_at: null });
    }
    return rows.map((r) => JSON.parse(deps.sealer.open(r.jwk_sealed)) as PrivateJwk);
  });
}
