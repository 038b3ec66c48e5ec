import { withTransaction, type Db } from '../db/pool.js';
import * as users from '../db/queries/users.js';
import * as passwords from '../db/queries/passwords.js';
import * as activationCodes from '../db/queries/activation-codes.js';
import type { UserRow } from '../db/queries/users.js';
import { emailKey } from './email.js';
import { AccountChanged, InvalidInput, Rejected } from './errors.js';
import { checkNewPassword } from './passwords.js';
import { hashCode, normaliseCode } from './secrets.js';
import type { Deps } from './deps.js';
import { beginAttempt } from './attempts.js';
import { deviceFor } from './trusted-devices.js';

export type PasswordCheck = { ok: true; user: UserRow } | { ok: false; user?: UserRow };

/**
 * Checks an email and password. An unknown email, a person with no password
 * yet, a disabled person and a wrong password all fail alike and spend the
 * same argon2 work, so neither the answer nor its timing tells them apart.
 * `devices` is the browser's verified device cookie: a browser that signed in
 * to this account before is counted on its own (trusted-devices.ts).
 */
export async function checkPassword(deps: Deps, email: string, password: string, ip: string, devices?: string): Promise<PasswordCheck> {
  const key = emailKey(email);
  // No room to hash for this address: refused before anything is counted or looked up.
  deps.passwords.assertRoom(ip);
  // Counted before the hash, so parallel tries cannot pass the limits while earlier ones are hashed.
  const account = key ?? email.trim().toLowerCase();
  const attempt = await beginAttempt(deps, { kind: 'password', account, ip, device: deviceFor(devices, key, deps.now()) });
  const { user, hash, valid } = await attempt.guard(async () => {
    const found = await passwords.findCredentialsByEmailKey(deps.db, key ?? '');
    const stored = found?.hash;
    const ok = stored ? await deps.passwords.verify(stored, password, ip) : await deps.passwords.verifyNothing(password, ip);
    return { user: found?.user, hash: stored, valid: ok };
  });
  if (!user || !valid || user.status === 'disabled') {
    await attempt.failed(user?.id);
    return { ok: false, user };
  }
  await attempt.succeeded();
  if (deps.passwords.needsRehash(hash!)) {
    await passwords.upsertPasswordHash(deps.db, user.id, await deps.passwords.hash(password, ip));
  }
  return { ok: true, user };
}

const ACTIVATION_FAILED = 'The email address or activation code is not right, or the code has expired. Ask your site administrator for a new code.';
/** Exported so "Activate your account" can offer signing in as the next step when it shows this. */
export const MFA_RESET_CODE_HERE = 'That code is for after your password, not for activating an account. Sign in with your email and usual password, and pharmid will then ask for the code.';

/** Codes taken at "Activate your account": never an MFA-reset code, which is asked only after the person's own password. */
const ACTIVATE_PURPOSES = ['activation', 'password-reset'] as const;

/**
 * First sign-in of a person created without a password (or after a password
 * reset): the activation or password-reset code is used once and the chosen
 * password set, in one transaction. An MFA-reset code is refused here: it
 * would otherwise set a password and lead to enrolling a new authenticator,
 * the code alone taking the account.
 */
/** No person has this id: the statements an unknown email runs, so it takes the time a known one does. */
const NO_ONE = '00000000-0000-0000-0000-000000000000';

export async function activate(deps: Deps, email: string, code: string, newPassword: string, ip: string, devices?: string): Promise<UserRow> {
  const key = emailKey(email);
  if (!key) throw new InvalidInput('Enter an email address in the correct format, like name@example.nhs.uk', 'email');
  checkNewPassword(newPassword, email);
  // A person given a password-reset code may be at a browser where they signed in before: it is counted on its own.
  const attempt = await beginAttempt(deps, { kind: 'activation', account: key, ip, device: deviceFor(devices, key, deps.now()) });
  const user = await users.findUserByEmailKey(deps.db, key);
  // Hash before looking at the code, so a wrong code and a right one take the same time.
  // (A busy hasher refuses at once; the try is then given back, not counted.)
  const hash = await attempt.guard(() => deps.passwords.hash(newPassword, ip));
  const codeHash = hashCode(normaliseCode(code));
  // An unknown or disabled email runs the same statements against no one, so the answer takes the same time.
  const subject = user && user.status !== 'disabled' ? user.id : NO_ONE;
  const activated = await withTransaction(deps.db, async (tx) => {
    // The person's row lock before the code row, as every change to a person's codes takes them (no deadlock with a link).
    const locked = await users.lockUserRow(tx, subject);
    const usable = !!locked && locked.status !== 'disabled';
    if (!(await activationCodes.consumeActivationCode(tx, usable ? subject : NO_ONE, ACTIVATE_PURPOSES, codeHash)) || !locked || !usable) return undefined;
    await passwords.upsertPasswordHash(tx, subject, hash);
    if (locked.status === 'invited') await users.setUserStatus(tx, subject, 'active');
    return { ...locked, status: 'active' as const };
  });
  if (!activated) {
    await attempt.failed(user?.id);
    // Only someone holding the person's MFA-reset code learns where it goes instead (asked alike for anyone).
    const misplaced = (await activationCodes.findCodePurpose(deps.db, subject, codeHash)) === 'mfa-reset' && subject !== NO_ONE;
    throw new InvalidInput(misplaced ? MFA_RESET_CODE_HERE : ACTIVATION_FAILED, 'activation_code');
  }
  await attempt.succeeded();
  return activated;
}

/**
 * True when sessions and tokens from a sign-in at `authTime` (epoch seconds)
 * are still honoured: only a sign-in strictly after the last administrative
 * reset counts. auth_time is in whole seconds, so a sign-in in the same second
 * as the reset, but before it, must not pass (see `signInTimestamp`).
 */
export function signInStillValid(user: Pick<UserRow, 'status' | 'sessions_revoked_at'>, authTime: number | undefined): boolean {
  if (user.status === 'disabled') return false;
  if (!user.sessions_revoked_at) return true;
  if (authTime === undefined) return false;
  return authTime * 1000 > user.sessions_revoked_at.getTime();
}

/**
 * True when a token (access or refresh token, authorization code) issued at
 * `issuedAt` (epoch seconds) is still honoured: after a person changed their
 * password or authenticator, only tokens issued strictly after it count. A
 * token issued in the same second as the change is refused too (its time is
 * in whole seconds): the portal signs in again, silently.
 */
export function tokenStillValid(user: Pick<UserRow, 'status' | 'tokens_revoked_at'>, issuedAt: number | undefined): boolean {
  if (user.status === 'disabled') return false;
  if (!user.tokens_revoked_at) return true;
  if (issuedAt === undefined) return false;
  return issuedAt * 1000 > user.tokens_revoked_at.getTime();
}

/**
 * The auth_time (epoch seconds) to record for a sign-in finishing at `now`:
 * whole seconds, and never in the second of the last reset, so that a
 * sign-in just after a reset is not taken for one from before it.
 */
export function signInTimestamp(user: Pick<UserRow, 'sessions_revoked_at'>, now: Date): number {
  const ts = Math.floor(now.getTime() / 1000);
  if (!user.sessions_revoked_at) return ts;
  return Math.max(ts, Math.floor(user.sessions_revoked_at.getTime() / 1000) + 1);
}

/** After an administrator reset the person's MFA, they have a one-time code to give after their password. */
export function awaitsResetCode(deps: Deps, userId: string): Promise<boolean> {
  return activationCodes.hasMfaResetCode(deps.db, userId);
}

/**
 * Checks the one-time code of an MFA reset (under the activation code's
 * brute-force limits) without taking it: the code keeps standing between
 * the password and a new authenticator until one is confirmed, so another
 * browser with the password alone still meets this step, and a set-up left
 * unfinished leaves the gate shut. Returns the proof this sign-in keeps (the
 * code's hash, sealed) to consume the code when its authenticator is
 * confirmed (see spendResetCode).
 */
export async function proveResetCode(deps: Deps, userId: string, code: string, ip: string): Promise<string> {
  const attempt = await beginAttempt(deps, { kind: 'activation', account: userId, userId, ip });
  const codeHash = hashCode(normaliseCode(code));
  if (!(await attempt.guard(() => activationCodes.hasLiveCode(deps.db, userId, 'mfa-reset', codeHash)))) {
    await attempt.failed();
    throw new Rejected('That code is not right, or has expired. Ask your site administrator for a new one.', 'activation_code');
  }
  await attempt.succeeded();
  return deps.sealer.seal(codeHash);
}

/**
 * Uses up the MFA-reset code this sign-in proved, in the transaction that
 * confirms its new authenticator: one DELETE, for MFA-reset codes only,
 * whose row count decides. Two sign-ins that both proved the code cannot
 * both enrol; a code replaced by a later reset, or expired, is not taken.
 */
export async function spendResetCode(deps: Deps, tx: Db, userId: string, proof: string): Promise<void> {
  if (!(await activationCodes.consumeActivationCode(tx, userId, ['mfa-reset'], deps.sealer.open(proof)))) throw new AccountChanged();
}

/** Sign-ins that count as multi-factor: `mfa` (password and code) and `phr` (a passkey), which satisfies `mfa`. */
export function isMultiFactorAcr(acr: unknown): boolean {
  return acr === 'mfa' || acr === 'phr';
}
