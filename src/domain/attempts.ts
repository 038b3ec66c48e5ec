import { randomBytes } from 'node:crypto';
import * as users from '../db/queries/users.js';
import { TooManyAttempts } from './errors.js';
import { audit } from './audit.js';
import { tellPerson } from './person-notices.js';
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
 *    (until an administrator unlocks) after a hard limit of wrong codes within
 *    a rolling period (30 days), which the person's right codes do not reset;
 *  - per trusted device: a browser that signed in to the account before (its
 *    signed device cookie, see trusted-devices.ts) has a bucket of its own for
 *    passwords and activation codes, with the same limits, so strangers
 *    spending one try per wait cannot keep the person out of it;
 *  - per address: only failures count, so many staff behind one pharmacy
 *    network address sign in freely.
 *
 * A try is counted BEFORE the secret is checked (one atomic increment whose
 * result is compared after), never checked-then-recorded: parallel tries each
 * see their own number, so a burst cannot slip past a limit while the first
 * answers are still being hashed. Past the free failures, a try must also
 * claim the account's slot (set only if absent), so one try at a time goes
 * through, and no try passes a lock a failure set. The slot passes on once no
 * try of the account is in flight (a short-lived count, so a try whose
 * process died lets go within a minute). Refused and abandoned tries give
 * their points back.
 */
export type AttemptKind = 'password' | 'activation' | 'second-factor';

export interface AttemptOf {
  kind: AttemptKind;
  /** The email key (password, activation) or the user id (codes). */
  account: string;
  /**
   * Known before the check only for codes asked after the person's right
   * password (a password's account may not exist); a lock at such a step is emailed to the person.
   */
  userId?: string;
  ip: string;
  /** The id a trusted device holds for this account (trusted-devices.ts): its tries count in its own bucket. */
  device?: string;
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

const ACCOUNT_WINDOW = 24 * 3600;
/** Device buckets outlast no unlock: their keys carry a mark that each unlock replaces (kept longer than any bucket). */
const DEVICE_MARK_SECONDS = 2 * ACCOUNT_WINDOW;
const deviceMarkKey = (account: string) => `attempts:device-mark:${account}`;

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
    /** Tries being checked now: while any is, the slot does not pass on. */
    inFlight: deps.counters.failures(`${kind}:in-flight`, t.inFlightSeconds),
    /** Counted per address as `addressKey` reads it (IPv4, or an IPv6 /64), whatever its spelling. */
    addressTries: addressTries(deps),
  };
}

type Stores = ReturnType<typeof stores>;

/** The key a try is counted under: the account's, or a trusted device's own bucket for that account. */
async function bucketOf(deps: Deps, of: AttemptOf): Promise<string> {
  if (!of.device) return of.account;
  const mark = (await deps.store.get(deviceMarkKey(of.account))) ?? '-';
  return `${of.account}#device:${mark}:${of.device}`;
}

/**
 * A try leaves the flight (its failure, if any, already counted and its lock
 * set). Once none of the bucket's tries is in flight, the slot passes on; a
 * try lost with its process stops counting when the in-flight count lapses.
 */
async function leave(s: Stores, key: string): Promise<void> {
  await s.inFlight.takeBack(key);
  // The count is read by adding one (so this reading is in it) and giving it back; it errs high, never low.
  const { count } = await s.inFlight.add(key);
  await s.inFlight.takeBack(key);
  if (count <= 1) await s.accountSlot.clear(key);
}

/** A lock on a step after the person's right password: they are told, since someone may know it. */
async function tellOfCodeLock(deps: Deps, userId: string, ip: string, until: string): Promise<void> {
  const user = await users.findUserById(deps.db, userId);
  if (user) await tellPerson(deps, user, { change: 'code-lock', by: `someone at address ${ip}`, detail: until });
}

/**
 * Counts a try before its secret is checked. Throws TooManyAttempts (giving
 * back what it counted) when the account, the device or the address must wait.
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
  const key = await bucketOf(deps, of);
  // In flight before it is numbered, so that a try settling now cannot pass the slot on past it.
  await s.inFlight.add(key);
  const tries = await s.accountTries.add(key);
  const refuse = async (seconds: number, heldSlot: boolean): Promise<never> => {
    await Promise.all([
      s.accountTries.takeBack(key),
      s.addressTries.takeBack(of.ip),
      s.inFlight.takeBack(key),
      heldSlot ? s.accountSlot.clear(key) : undefined,
    ]);
    throw new TooManyAttempts(lockedMessage(of.kind, seconds), field, seconds);
  };
  let holdsSlot = false;
  if (tries.count > freeTries(of.kind, t)) {
    // Held while the try is checked (a failure or success replaces it), at most as long as a try counts in flight.
    const slot = await s.accountSlot.claim(key, t.inFlightSeconds);
    if (!slot.claimed) await refuse(slot.secondsLeft, false);
    holdsSlot = true;
  }
  const locked = await s.accountLock.remaining(key);
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
            s.accountTries.takeBack(key),
            s.addressTries.takeBack(of.ip),
            leave(s, key),
          ]).catch(() => {});
        }
        throw err;
      }
    },

    async failed(userId = of.userId) {
      settle();
      const { count } = await s.accountFailures.add(key);
      const lockSeconds = lockAfter(of.kind, count, t);
      if (lockSeconds) await s.accountLock.set(key, lockSeconds);
      await leave(s, key);

      let hardLocked = false;
      if (of.kind === 'second-factor' && userId) {
        const now = deps.now();
        const within = await users.recordSecondFactorFailure(deps.db, userId, now, t.secondFactorHardLimitPeriod, t.secondFactorHardLimit);
        hardLocked = within >= t.secondFactorHardLimit && (await users.lockUser(deps.db, userId, now));
      }
      // Audited alike whether or not the email belongs to someone, so that neither
      // the answer nor its timing tells an attacker which emails exist.
      if (hardLocked || (lockSeconds && of.kind !== 'password') || lockSeconds >= 60) {
        await audit(deps.db, { kind: 'anonymous' }, {
          action: `lock.${of.kind}`, outcome: 'denied', targetUser: userId, ip: of.ip,
          details: { failures: count, seconds: hardLocked ? null : lockSeconds, until_unlocked: hardLocked, ...(of.device ? { device: true } : {}) },
        });
      }
      if (of.userId && (hardLocked || lockSeconds)) {
        await tellOfCodeLock(deps, of.userId, of.ip, hardLocked ? 'until an administrator unlocks it' : `for ${minutes(lockSeconds)}`);
      }
    },

    async succeeded() {
      settle();
      // A right code ends the run of consecutive failures, not the count towards the hard limit.
      await Promise.all([
        s.addressTries.takeBack(of.ip),
        s.inFlight.takeBack(key),
        s.accountTries.clear(key),
        s.accountFailures.clear(key),
        s.accountLock.clear(key),
        holdsSlot ? s.accountSlot.clear(key) : undefined,
      ]);
    },
  };
  return attempt;
}

/** A temporary lock on one kind of secret, and when it lifts by itself. */
export interface TemporaryLock { kind: AttemptKind; until: Date }

/**
 * The temporary locks on a person now (what an administrator's unlock would
 * lift before their time): passwords and activation codes as counted by the
 * email key, codes after the password by the user id. A trusted device's own
 * bucket is not listed: it keeps out no other browser.
 */
export async function temporaryLocks(deps: Deps, userId: string, emailKey: string): Promise<TemporaryLock[]> {
  const kinds = [['password', emailKey], ['activation', emailKey], ['second-factor', userId]] as const;
  const now = deps.now().getTime();
  const left = await Promise.all(kinds.map(([kind, key]) => stores(deps, kind).accountLock.remaining(key)));
  return kinds.flatMap(([kind], i) => (left[i]! > 0 ? [{ kind, until: new Date(now + left[i]! * 1000) }] : []));
}

/**
 * An administrator lifts every lock on a person: each kind, under each key it
 * is counted by (the email key for passwords and activation codes, the user id
 * for codes after the password), every trusted device's own bucket, and the
 * hard lock with the wrong codes counted towards it.
 */
export async function clearLocks(deps: Deps, userId: string, emailKey: string): Promise<void> {
  for (const kind of ['password', 'activation', 'second-factor'] as const) {
    const s = stores(deps, kind);
    await Promise.all([emailKey, userId].flatMap((account) => [
      s.accountTries.clear(account), s.accountFailures.clear(account), s.accountLock.clear(account), s.accountSlot.clear(account),
    ]));
  }
  await deps.store.set(deviceMarkKey(emailKey), randomBytes(9).toString('base64url'), DEVICE_MARK_SECONDS);
  await users.unlockUser(deps.db, userId);
}
