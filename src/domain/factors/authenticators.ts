import { withTransaction, type Db } from '../../db/pool.js';
import * as totpCredentials from '../../db/queries/totp-credentials.js';
import * as passkeys from '../../db/queries/passkeys.js';
import * as recoveryCodes from '../../db/queries/recovery-codes.js';
import * as users from '../../db/queries/users.js';
import { AccountChanged, InvalidInput } from '../errors.js';
import { groupKey, matchStep, newTotpSecret, qrDataUri, totpFor } from './totp.js';
import { newRecoveryCodes } from './recovery-codes.js';
import type { Deps } from '../deps.js';
import { beginAttempt } from '../attempts.js';
import { tellPerson } from '../person-notices.js';
import { proofsStillCount, type FlowState } from '../sign-in-flows.js';

export interface EnrolmentView {
  credentialId: string;
  otpauthUri: string;
  secretGrouped: string;
  qrDataUri: string;
  issuer: string;
  accountName: string;
}

export async function hasAuthenticator(deps: Deps, userId: string): Promise<boolean> {
  return (await totpCredentials.findConfirmedTotp(deps.db, userId)) !== undefined;
}

/** Starts enrolment: a new secret, kept sealed and unconfirmed until a code proves it. */
export async function beginEnrolment(deps: Deps, userId: string): Promise<string> {
  const row = await totpCredentials.insertPendingTotp(deps.db, userId, deps.sealer.seal(newTotpSecret()));
  return row.id;
}

export async function viewEnrolment(deps: Deps, userId: string, email: string, credentialId: string): Promise<EnrolmentView | undefined> {
  const row = await totpCredentials.findTotpCredential(deps.db, credentialId, userId);
  if (!row || row.confirmed_at) return undefined;
  const secret = deps.sealer.open(row.secret_sealed);
  const totp = totpFor(secret, email, deps.settings.totp);
  const otpauthUri = totp.toString();
  return {
    credentialId,
    otpauthUri,
    secretGrouped: groupKey(secret),
    qrDataUri: await qrDataUri(otpauthUri),
    issuer: deps.settings.totp.issuer,
    accountName: email,
  };
}

/** Why a code was or was not accepted: each gets its own advice. */
export type CodeVerdict = 'ok' | 'wrong' | 'used' | 'clock';

/** Steps either side that still count as "your device clock is off", not "wrong code". */
const CLOCK_DRIFT_WINDOW = 10;

/** What to tell a person whose code was not accepted (sign-in, enrolment, the account page alike). */
export function codeAdvice(verdict: Exclude<CodeVerdict, 'ok'>, wrong = 'The code is not right. Enter the 6-digit code your app shows now.'): string {
  switch (verdict) {
    case 'used': return 'That code has been used already. Wait for your app to show a new code, then enter it.';
    case 'clock': return 'That code is from a different time: the clock on your phone or computer may be wrong. Set its date and time to update automatically, then enter a new code.';
    default: return wrong;
  }
}

/**
 * Accepts the code if it is right for this secret and its time step is later
 * than any step used before with this authenticator. The step is claimed in
 * the store with one atomic compare-and-raise, so a code works once, even
 * when two requests race on two processes. Steps are kept per authenticator
 * (each has its own secret, so a code of one is never a code of another): a
 * new app's first code, in the same 30 seconds as the old app's last, is
 * accepted. A code from a step just outside the window means the device
 * clock is off.
 */
async function judgeCode(deps: Deps, userId: string, credentialId: string, secret: string, code: string): Promise<CodeVerdict> {
  const s = deps.settings.totp;
  const totp = totpFor(secret, 'x', s);
  const now = deps.now().getTime();
  const step = matchStep(totp, code, now, s.window);
  if (step === undefined) return matchStep(totp, code, now, CLOCK_DRIFT_WINDOW) === undefined ? 'wrong' : 'clock';
  return (await deps.store.raiseTo(`totp:last-step:${userId}:${credentialId}`, step, s.period * (2 * s.window + 2))) ? 'ok' : 'used';
}

/**
 * What a new authenticator may take the place of:
 * - nothing (the default): the person has none, and confirming fails if one
 *   was confirmed meanwhile (by another sign-in, say);
 * - `{ credentialId }`: that one, which a recovery code stood in for at
 *   sign-in; fails if it was replaced or removed meanwhile;
 * - `'current'`: whatever is confirmed now (the account page, after the
 *   person proved their current code).
 */
export type Replaces = undefined | { credentialId: string } | 'current';

/** Confirms per `replaces`, in `tx`; false when the account no longer is as the caller saw it. */
async function confirmIn(tx: Db, userId: string, credentialId: string, replaces: Replaces): Promise<boolean> {
  if (replaces === 'current') return totpCredentials.replaceTotp(tx, credentialId, userId);
  if (replaces && !(await totpCredentials.deleteConfirmedTotp(tx, replaces.credentialId, userId))) return false;
  if (!(await totpCredentials.confirmOnlyTotp(tx, credentialId, userId))) return false;
  await totpCredentials.deletePendingTotp(tx, userId, credentialId);
  return true;
}

/** The id of the person's confirmed authenticator, if any (what a recovery code stands in for). */
export async function currentAuthenticator(deps: Deps, userId: string): Promise<string | undefined> {
  return (await totpCredentials.findConfirmedTotp(deps.db, userId))?.id;
}

/**
 * Throws AccountChanged unless the person's authenticator is still what a
 * new one may replace (`replaces`): checked before a set-up is drawn or a
 * code is judged, so the person is told at once; the write decides anyway.
 */
export async function assertStillReplaceable(deps: Deps, userId: string, replaces: Replaces): Promise<void> {
  if (replaces === 'current') return;
  const current = await currentAuthenticator(deps, userId);
  if (current !== (replaces ? replaces.credentialId : undefined)) throw new AccountChanged();
}

/**
 * Confirms the pending secret with one valid code. In one transaction the
 * secret becomes the person's authenticator (in place of what `replaces`
 * allows, and of nothing else: AccountChanged when that no longer holds), a
 * new set of recovery codes replaces the old, and `alsoInTransaction` does
 * what must land with them (it may throw to undo it all); the codes are
 * returned once, to be shown once.
 */
export async function confirmEnrolment(
  deps: Deps, userId: string, credentialId: string, code: string,
  terms: {
    replaces?: Replaces;
    /** A first factor (enrolment at sign-in): refused when another sign-in set up a passkey meanwhile, as a first passkey is refused beside an app. */
    first?: boolean;
    alsoInTransaction?: (tx: Db) => Promise<void>;
    /**
     * The sign-in setting it up: refused (AccountChanged) when its proofs stopped counting (an administrator's
     * reset or disable) before the row lock was had, so nothing is set up after a reset or disable it never saw.
     */
    signIn?: FlowState;
  } = {},
): Promise<string[]> {
  await assertStillReplaceable(deps, userId, terms.replaces);
  const row = await totpCredentials.findTotpCredential(deps.db, credentialId, userId);
  if (!row || row.confirmed_at) throw new InvalidInput('This set-up has expired. Start again.', 'code');
  const verdict = await judgeCode(deps, userId, credentialId, deps.sealer.open(row.secret_sealed), code);
  if (verdict !== 'ok') throw new InvalidInput(codeAdvice(verdict), 'code');
  const { plain, hashes } = newRecoveryCodes(deps.settings.recoveryCodes.count);
  await withTransaction(deps.db, async (tx) => {
    // The person's row lock before any code row (an MFA-reset code spent below), as every change to a person's codes takes them.
    const person = await users.lockUserRow(tx, userId);
    if (terms.signIn && !proofsStillCount(person, terms.signIn)) throw new AccountChanged();
    if (terms.first && (await passkeys.countPasskeys(tx, userId)) > 0) throw new AccountChanged();
    // What must be spent with it (an MFA-reset code) first: it settles which of two racing sign-ins wins.
    await terms.alsoInTransaction?.(tx);
    if (!(await confirmIn(tx, userId, credentialId, terms.replaces))) {
      if (terms.replaces === 'current') throw new InvalidInput('This set-up was already confirmed.', 'code');
      throw new AccountChanged();
    }
    await recoveryCodes.replaceRecoveryCodes(tx, userId, hashes);
  });
  return plain;
}

/**
 * Emails the person that a first authenticator was set up at sign-in. Their
 * password was proved in that sign-in, but a password can be stolen too: if
 * it was not them, the mail is how they find out (and whom to tell).
 */
export async function tellAuthenticatorAdded(deps: Deps, userId: string, portalName: string): Promise<void> {
  const user = await users.findUserById(deps.db, userId);
  if (user) await tellPerson(deps, user, { change: 'authenticator-added', by: 'you, while signing in', detail: `signing in to ${portalName}` });
}

/** Checks an authenticator code at sign-in, under the second-factor brute-force limits. */
export async function checkTotp(deps: Deps, userId: string, code: string, ip: string): Promise<CodeVerdict> {
  const attempt = await beginAttempt(deps, { kind: 'second-factor', account: userId, userId, ip });
  const verdict = await attempt.guard(async () => {
    const row = await totpCredentials.findConfirmedTotp(deps.db, userId);
    return row ? judgeCode(deps, userId, row.id, deps.sealer.open(row.secret_sealed), code) : 'wrong';
  });
  await (verdict === 'ok' ? attempt.succeeded() : attempt.failed());
  return verdict;
}

/** The same check, as a yes or no. */
export async function verifyTotp(deps: Deps, userId: string, code: string, ip: string): Promise<boolean> {
  return (await checkTotp(deps, userId, code, ip)) === 'ok';
}
