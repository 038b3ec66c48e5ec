import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { withTransaction, type Db } from '../db/pool.js';
import * as signingKeys from '../db/queries/signing-keys.js';
import { audit, type Actor } from './audit.js';
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

async function addMissingKeys(deps: Deps, tx: Db, live: { alg: string }[]): Promise<string[]> {
  const made: string[] = [];
  for (const alg of ALGORITHMS) {
    if (live.some((r) => r.alg === alg)) continue;
    const jwk = generate(alg);
    await signingKeys.insertSigningKey(tx, { kid: jwk.kid, alg, jwkSealed: deps.sealer.seal(JSON.stringify(jwk)) });
    made.push(jwk.kid);
  }
  return made;
}

/**
 * The keys every process publishes: the live ones first (they sign), then
 * those retired less than `graceSeconds` ago, kept so tokens they signed
 * still verify. Made at first start and kept sealed in Postgres; an advisory
 * lock keeps processes starting together from making two sets.
 */
export async function loadSigningKeys(deps: Deps, graceSeconds: number): Promise<PrivateJwk[]> {
  return withTransaction(deps.db, async (tx) => {
    await signingKeys.lockSigningKeys(tx);
    await addMissingKeys(deps, tx, await signingKeys.listLiveSigningKeys(tx));
    const rows = await signingKeys.listPublishedSigningKeys(tx, graceSeconds);
    return rows.map((r) => JSON.parse(deps.sealer.open(r.jwk_sealed)) as PrivateJwk);
  });
}

/** New keys start signing; the old ones are retired (published until their tokens have expired). */
export async function rotateSigningKeys(deps: Deps, actor: Actor): Promise<{ retired: number; created: string[] }> {
  return withTransaction(deps.db, async (tx) => {
    await signingKeys.lockSigningKeys(tx);
    const retired = await signingKeys.retireLiveSigningKeys(tx);
    const created = await addMissingKeys(deps, tx, []);
    await audit(tx, actor, { action: 'keys.rotate', outcome: 'success', details: { retired, created } });
    return { retired, created };
  });
}
