import * as users from '../db/queries/users.js';
import { TooManyAttempts } from './errors.js';
import { audit } from './audit.js';
import type { Deps } from './deps.js';
import { addressTries, addressWaits } from './address-waits.js';

/**
 * Brute-force protection for every secret a person types: passwords,
 * activation codes, authenticator and recovery codes. Counters live in the
 * shared store (Redis, or Postgres without it), so a new interaction,
 * browser, process or restart does not reset them.
 *
 *  - per account: passwords get doubling delays after a few free failures;
 *    codes lock for a while after a few consecutive failures, and for good
 *    (until an administrator unlocks) after a hard limit over any period;
 *  - per address: only failures count, so many staff behind one pharmacy
 *    network address sign in freely.
 *
 * A try is counted BEFORE the secret is checked (one atomic increment whose
 * result is compared after), never checked-then-recorded: parallel tries each
 * see their own number, so a burst cannot slip past a limit while the first
 * answers are still being hashed. Past the free failures, a try must also
 * claim the account's slot (set only if absent), so one try at a time goes
 * through, and no try passes a lock a failure set. Refused and abandoned
 * tries give their points back.
 */
export type AttemptKind = 'password' | 'activation' | 'second-factor';

export interface AttemptOf {
  kind: AttemptKind;
  /** The email key (password, activation) or the user id (codes). */
  account: string;
  /** Known before the check for codes only (a password's account may not exist). */
  userId?: string;
  ip: string;
}

export interface Attempt {
  /** Runs the check; if it throws, the try is abandoned (its points given back) and the error goes on. */
  guard<T>(work: () => Promise<T>): Promise<T>;
  /** A wrong answer: it stays counted, and a lock follows when a limit is reached (audited). */
  failed(userId?: string): Promise<void>;
  /** A right answer: the account's run of failures ends; the address gets its point back. */
  succeeded(): Promise<void>;
}

const FIELD: Record<AttemptKind, string> = { password: 'password', activation: 'activation_code', 'second-factor': 'code' };

/** How long a try past the free failures holds the account's slot while it is checked (a failure or success replaces it). */
const HOLD_SECONDS = 60;
const ACCOUNT_WINDOW = 24 * 3600;

type Throttle = Deps['settings']['throttle'];

/** Tries an account has before each further one must claim the lock slot. */
function freeTries(kind: AttemptKind, t: Throttle): number {
  if (kind === 'password') return t.passwordFreeFailures;
  if (kind === 'activation') return t.activationFailures;
  return t.secondFactorFailures;
}

/** The lock that follows the `failures`-th consecutive wrong answer, in seconds (0: none). */
function lockAfter(kind: AttemptKind, failures: number, t: Throttle): number {
  if (kind === 'password') {
    return failures >= t.passwordFreeFailures ? Math.min(2 ** (failures - t.passwordFreeFailures), t.passwordMaxDelay) : 0;
  }
  if (kind === 'activation') return failures >= t.activationFailures ? t.activationLock : 0;
  return failures % t.secondFactorFailures === 0 ? t.secondFactorLock : 0;
}

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
    /** Tries counted before the check (failures plus those in flight): what the limits compare. */
    accountTries: deps.counters.failures(`${kind}:account-tries`, ACCOUNT_WINDOW),
    /** Wrong answers only: what decides the length of the next lock. */
    accountFailures: deps.counters.failures(`${kind}:account`, ACCOUNT_WINDOW),
    /** The wait a failure imposes. */
    accountLock: deps.counters.locks(`${kind}:account`),
    /** Held by the one try past the free failures that is being checked now. */
    accountSlot: deps.counters.locks(`${kind}:account-slot`),
    /** Counted per address as `addressKey` reads it (IPv4, or an IPv6 /64), whatever its spelling. */
    addressTries: addressTries(deps),
  };
}

/**
 * Counts a try before its secret is checked. Throws TooManyAttempts (giving
 * back what it counted) when the account or the address must wait.
 */
export async function beginAttempt(deps: Deps, of: AttemptOf): Promise<Attempt> {
  const t = deps.settings.throttle;
  const s = stores(deps, of.kind);
  const field = FIELD[of.kind];
  if (of.kind === 'second-factor' && of.userId) {
    const user = await users.findUserById(deps.db, of.userId);
    if (user?.locked_at) throw new TooManyAttempts(HARD_LOCK_MESSAGE, field);
  }

  const address = await s.addressTries.add(of.ip);
  if (address.count > t.addressFailures) {
    await s.addressTries.takeBack(of.ip);
    throw await addressWaits(deps, of.account, of.ip, address.secondsLeft, field);
  }
  const tries = await s.accountTries.add(of.account);
  const refuse = async (seconds: number, heldSlot: boolean): Promise<never> => {
    await Promise.all([
      s.accountTries.takeBack(of.account),
      s.addressTries.takeBack(of.ip),
      heldSlot ? s.accountSlot.clear(of.account) : undefined,
    ]);
    throw new TooManyAttempts(lockedMessage(of.kind, seconds), field, seconds);
  };
  let holdsSlot = false;
  if (tries.count > freeTries(of.kind, t)) {
    const slot = await s.accountSlot.claim(of.account, HOLD_SECONDS);
    if (!slot.claimed) await refuse(slot.secondsLeft, false);
    holdsSlot = true;
  }
  const locked = await s.accountLock.remaining(of.account);
  if (locked > 0) await refuse(locked, holdsSlot);

  let settled = false;
  const settle = () => {
    if (settled) throw new Error('an attempt is settled once');
    settled = true;
  };
  const attempt: Attempt = {
    async guard(work) {
      try {
        return await work();
      } catch (err) {
        if (!settled) {
          settled = true;
          await Promise.all([
            s.accountTries.takeBack(of.account),
            s.addressTries.takeBack(of.ip),
            holdsSlot ? s.accountSlot.clear(of.account) : undefined,
          ]).catch(() => {});
        }
        throw err;
      }
    },

    async failed(userId = of.userId) {
      settle();
      const { count } = await s.accountFailures.add(of.account);
      const lockSeconds = lockAfter(of.kind, count, t);
      if (lockSeconds) await s.accountLock.set(of.account, lockSeconds);
      // The slot passes to the next try only once every earlier try is settled: while some are
      // still being checked, one of them may be the failure that locks, so the slot stays held
      // (until it lapses, HOLD_SECONDS after it was claimed).
      if (holdsSlot && count >= tries.count) await s.accountSlot.clear(of.account);

      let hardLocked = false;
      if (of.kind === 'second-factor' && userId) {
        hardLocked = (await users.addSecondFactorFailure(deps.db, userId, t.secondFactorHardLimit)) === t.secondFactorHardLimit;
      }
      // Audited alike whether or not the email belongs to someone, so that neither
      // the answer nor its timing tells an attacker which emails exist.
      if (hardLocked || (lockSeconds && of.kind !== 'password') || lockSeconds >= 60) {
        await audit(deps.db, { kind: 'anonymous' }, {
          action: `lock.${of.kind}`, outcome: 'denied', targetUser: userId, ip: of.ip,
          details: { failures: count, seconds: hardLocked ? null : lockSeconds, until_unlocked: hardLocked },
        });
      }
    },

    async succeeded() {
      settle();
      await Promise.all([
        s.addressTries.takeBack(of.ip),
        s.accountTries.clear(of.account),
        s.accountFailures.clear(of.account),
        s.accountLock.clear(of.account),
        holdsSlot ? s.accountSlot.clear(of.account) : undefined,
      ]);
      if (of.kind === 'second-factor' && of.userId) await users.clearSecondFactorFailures(deps.db, of.userId);
    },
  };
  return attempt;
}

/** An administrator lifts every lock on a person. */
export async function clearLocks(deps: Deps, userId: string, emailKey: string): Promise<void> {
  for (const kind of ['password', 'activation', 'second-factor'] as const) {
    const s = stores(deps, kind);
    const account = kind === 'second-factor' ? userId : emailKey;
    await Promise.all([
      s.accountTries.clear(account), s.accountFailures.clear(account), s.accountLock.clear(account), s.accountSlot.clear(account),
    ]);
  }
  await users.unlockUser(deps.db, userId);
}
