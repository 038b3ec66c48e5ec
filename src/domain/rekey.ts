import * as totpCredentials from '../db/queries/totp-credentials.js';
import * as clients from '../db/queries/clients.js';
import * as signingKeys from '../db/queries/signing-keys.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';

interface Sealed { id: string; sealed: string }

/**
 * Re-seals every secret at rest under the current PHARMID_SECRET_KEY.
 * Processes given the new key and the old ones (PHARMID_PREVIOUS_SECRET_KEYS)
 * read both forms, so this runs while pharmid serves; each record is swapped
 * by a conditional UPDATE, one at a time.
 */
export async function rekeySecrets(deps: Deps, actor: Actor): Promise<Record<string, number>> {
  const { sealer, db } = deps;
  const kinds: { name: string; list: () => Promise<Sealed[]>; reseal: (s: Sealed, to: string) => Promise<boolean> }[] = [
    {
      name: 'totp_secrets',
      list: async () => (await totpCredentials.listSealedTotpSecrets(db)).map((r) => ({ id: r.id, sealed: r.secret_sealed })),
      reseal: (s, to) => totpCredentials.resealTotpSecret(db, s.id, s.sealed, to),
    },
    {
      name: 'client_secrets',
      list: async () => (await clients.listSealedClientSecrets(db)).map((r) => ({ id: r.client_id, sealed: r.secret_sealed })),
      reseal: (s, to) => clients.resealClientSecret(db, s.id, s.sealed, to),
    },
    {
      name: 'signing_keys',
      list: async () => (await signingKeys.listAllSealedSigningKeys(db)).map((r) => ({ id: r.kid, sealed: r.jwk_sealed })),
      reseal: (s, to) => signingKeys.resealSigningKey(db, s.id, s.sealed, to),
    },
  ];
  const counts: Record<string, number> = {};
  for (const kind of kinds) {
    let n = 0;
    for (const record of await kind.list()) {
      if (sealer.isCurrent(record.sealed)) continue;
      if (await kind.reseal(record, sealer.seal(sealer.open(record.sealed)))) n += 1;
    }
    counts[kind.name] = n;
  }
  await audit(db, actor, { action: 'secrets.rekey', outcome: 'success', details: { key_id: sealer.keyId, ...counts } });
  return counts;
}
