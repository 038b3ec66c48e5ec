import * as users from '../db/queries/users.js';
import { TooManyAttempts } from './errors.js';
import { audit } from './audit.js';
import type { Deps } from './deps.js';

/**
 * Brute-force protection for every secret a person types: passwords,
 * activation codes, authenticator and recovery codes. Counters live in the
 * shared store, so a new interaction, browser or process does not reset them.
 *
 *  - per account: passwords get doubling delays after a few free failures;
 *    codes lock for a while after a few consecutive failures, and for good
 *    (until an administrator unlocks) after a hard limit over any period;
 *  - per address: only failures count, so many staff behind one pharmacy
 *    network address sign in freely.
 */
export type AttemptKind = 'password' | 'activation' | 'second-factor';

export interface Attempt {
  kind: AttemptKind;
  /** The email key (password, activation) or the user id (codes). */
  account: string;
  userId?: string;
  ip: string;
}

const FIELD: Record<AttemptKind, string> = { password: 'password', activation: 'activation_code', 'second-factor': 'code' };

function minutes(seconds: number): string {
  const m = Math.ceil(seconds / 60);
  return m <= 1 ? 'a minute' : `${m} minutes`;
}

function lockedMessage(kind: AttemptKind, seconds: number): string {
  switch (kind) {
    case 'password': return `Too many wrong passwords for this email. Wait ${minutes(seconds)} and try again, or ask your site administrator to reset your password.`;
    case 'activation': return `Too many wrong activation codes. Wait ${minutes(seconds)} and try again, or ask your site administrator for a new code.`;
    default: return `Too many wrong codes. You can try again in ${minutes(seconds)}, or ask your site administrator to unlock your account.`;
  }
}

const HARD_LOCK_MESSAGE = 'Your account is locked after too many wrong codes. Ask your site administrator to unlock it.';

function stores(deps: Deps, kind: AttemptKind) {
  const t = deps.settings.throttle;
  return {
    accountFailures: deps.counters.failures(`${kind}:account`, 24 * 3600),
    accountLock: deps.counters.locks(`${kind}:account`),
    addressFailures: deps.counters.failures('address', t.addressWindow),
    addressLock: deps.counters.locks('address'),
  };
}

/** Throws TooManyAttempts when the account or the address must wait. */
export async function assertMayTry(deps: Deps, a: Attempt): Promise<void> {
  const s = stores(deps, a.kind);
  if (a.kind === 'second-factor' && a.userId) {
    const user = await users.findUserById(deps.db, a.userId);
    if (user?.locked_at) throw new TooManyAttempts(HARD_LOCK_MESSAGE, FIELD[a.kind]);
  }
  const [account, address] = await Promise.all([s.accountLock.remaining(a.account), s.addressLock.remaining(a.ip)]);
  const wait = Math.max(account, address);
  if (wait > 0) throw new TooManyAttempts(lockedMessage(a.kind, wait), FIELD[a.kind], wait);
}

/** Counts a failure and locks when a limit is reached (the lock is audited). */
export async function recordFailure(deps: Deps, a: Attempt): Promise<void> {
  const t = deps.settings.throttle;
  const s = stores(deps, a.kind);
  const [count, fromAddress] = await Promise.all([s.accountFailures.add(a.account), s.addressFailures.add(a.ip)]);
  let lockSeconds = 0;
  if (a.kind === 'password' && count >= t.passwordFreeFailures) {
    lockSeconds = Math.min(2 ** (count - t.passwordFreeFailures), t.passwordMaxDelay);
  } else if (a.kind === 'activation' && count >= t.activationFailures) {
    lockSeconds = t.activationLock;
  } else if (a.kind === 'second-factor' && count % t.secondFactorFailures === 0) {
    lockSeconds = t.secondFactorLock;
  }
  if (lockSeconds) await s.accountLock.set(a.account, lockSeconds);
  if (fromAddress >= t.addressFailures) await s.addressLock.set(a.ip, t.addressLock);

  let hardLocked = false;
  if (a.kind === 'second-factor' && a.userId) {
    hardLocked = (await users.addSecondFactorFailure(deps.db, a.userId, t.secondFactorHardLimit)) === t.secondFactorHardLimit;
  }
  if (a.userId && (hardLocked || (lockSeconds && a.kind !== 'password') || lockSeconds >= 60)) {
    await audit(deps.db, { kind: 'anonymous' }, {
      action: `lock.${a.kind}`, outcome: 'denied', targetUser: a.userId, ip: a.ip,
      details: { failures: count, seconds: hardLocked ? null : lockSeconds, until_unlocked: hardLocked },
    });
  }
}

/** A right answer ends the run of consecutive failures for the account (not for the address). */
export async function recordSuccess(deps: Deps, a: Attempt): Promise<void> {
  const s = stores(deps, a.kind);
  await s.accountFailures.clear(a.account);
  if (a.kind === 'second-factor' && a.userId) await users.clearSecondFactorFailures(deps.db, a.userId);
}

/** An administrator lifts every lock on a person. */
export async function clearLocks(deps: Deps, userId: string, emailKey: string): Promise<void> {
  for (const kind of ['password', 'activation', 'second-factor'] as const) {
    const s = stores(deps, kind);
    const account = kind === 'second-factor' ? userId : emailKey;
    await Promise.all([s.accountFailures.clear(account), s.accountLock.clear(account)]);
  }
  await users.unlockUser(deps.db, userId);
}
