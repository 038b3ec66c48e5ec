import * as recoveryCodes from '../../db/queries/recovery-codes.js';
import { hashCode, normaliseCode, randomCode } from '../secrets.js';
import type { Deps } from '../deps.js';
import { beginAttempt } from '../attempts.js';

/** Ten codes of 12 characters (about 59 bits each), shown as XXXX-XXXX-XXXX. */
export function newRecoveryCodes(count: number): { plain: string[]; hashes: string[] } {
  const raw = Array.from({ length: count }, () => randomCode(12));
  return {
    plain: raw.map((c) => c.match(/.{4}/g)!.join('-')),
    hashes: raw.map(hashCode),
  };
}

/**
 * Uses a recovery code once: the stored hash is marked used by one
 * conditional UPDATE. Wrong codes count with wrong authenticator codes.
 */
export async function useRecoveryCode(deps: Deps, userId: string, input: string, ip: string): Promise<boolean> {
  const attempt = await beginAttempt(deps, { kind: 'second-factor', account: userId, userId, ip });
  const code = normaliseCode(input);
  const ok = await attempt.guard(async () => /^[A-Z0-9]{12}$/.test(code) && (await recoveryCodes.consumeRecoveryCode(deps.db, userId, hashCode(code))));
  await (ok ? attempt.succeeded() : attempt.failed());
  return ok;
}

export function unusedRecoveryCodes(deps: Deps, userId: string): Promise<number> {
  return recoveryCodes.countUnusedRecoveryCodes(deps.db, userId);
}
