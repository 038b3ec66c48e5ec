import { withTransaction, type Db } from '../db/pool.js';
import * as passwords from '../db/queries/passwords.js';
import * as recoveryCodes from '../db/queries/recovery-codes.js';
import * as users from '../db/queries/users.js';
import type { UserRow } from '../db/queries/users.js';
import { InvalidInput, Rejected, TooManyAttempts } from './errors.js';
import { checkNewPassword } from './passwords.js';
import { checkPassword } from './sign-in.js';
import { beginEnrolment, checkTotp, codeAdvice, confirmEnrolment, hasAuthenticator, viewEnrolment, type EnrolmentView } from './factors/authenticators.js';
import { newRecoveryCodes } from './factors/recovery-codes.js';
import { audit } from './audit.js';
import { tellPerson } from './person-notices.js';
import type { Deps } from './deps.js';

/**
 * What a signed-in person changes for themselves on the account page. Each
 * change first proves the factor it replaces (the current password, the
 * current authenticator code), under the same brute-force limits as sign-in.
 *
 * What a proof unlocks (the new authenticator's secret, new recovery codes)
 * belongs to the sign-in session that gave the proof: it is kept under that
 * session's id, so another browser of the same person, signed in but
 * without the proof, finds nothing. A new password or authenticator refuses
 * every token issued before it (Postgres, checked on every use); the
 * caller ends the person's other sessions. The person is told by email.
 */

/**
 * Every token issued before now is refused (see tokenStillValid). Tokens are
 * dated in whole seconds, so one issued later in this same second would be
 * refused too: the answer waits for the next second, and whatever the
 * person's browser does next gets tokens that count.
 */
async function refuseEarlierTokens(tx: Db, userId: string): Promise<() => Promise<void>> {
  const at = new Date();
  await users.refuseEarlierTokens(tx, userId, at);
  return () => new Promise((resolve) => { setTimeout(resolve, 1000 - (at.getTime() % 1000) + 5); });
}

/** Who did it, as a notice to the person says. */
const BY_YOU = 'you, on your pharmid account page';

/** How long a person has, after proving their code, to finish setting up a new authenticator. */
const CHANGE_WINDOW = 15 * 60;
/** New recovery codes wait this long to be shown, once. */
const SHOW_WINDOW = 10 * 60;

const changeKey = (userId: string, sessionId: string) => `account:new-authenticator:${userId}:${sessionId}`;
const codesKey = (userId: string, sessionId: string) => `account:new-recovery-codes:${userId}:${sessionId}`;

/** New recovery codes waiting to be shown once, to the session that asked for them. */
async function keepCodesToShow(deps: Deps, user: UserRow, sessionId: string, codes: string[]): Promise<void> {
  await deps.store.set(codesKey(user.id, sessionId), JSON.stringify({ sealed: deps.sealer.seal(JSON.stringify(codes)) }), SHOW_WINDOW);
}

/** Same field name on the account page as at sign-in, so a lock names the right input. */
function onField<T>(field: string, work: () => Promise<T>): Promise<T> {
  return work().catch((err: unknown) => {
    if (err instanceof TooManyAttempts) throw new TooManyAttempts(err.message, field, err.retryAfterSeconds);
    throw err;
  });
}

export async function changePassword(deps: Deps, user: UserRow, current: string, next: string, ip: string): Promise<void> {
  if (!current) throw new InvalidInput('Enter your current password', 'current_password');
  if (!next) throw new InvalidInput('Enter a new password', 'new_password');
  const checked = await onField('current_password', () => checkPassword(deps, user.email, current, ip));
  if (!checked.ok || checked.user?.id !== user.id) throw new Rejected('Your current password is not right', 'current_password');
  if (next === current) throw new InvalidInput('Your new password must be different from your current one', 'new_password');
  checkNewPassword(next, user.email);
  // Held to this address's share of the argon2 places, like every hash a request asks for.
  const hash = await deps.passwords.hash(next, ip);
  const nextSecond = await withTransaction(deps.db, async (tx) => {
    // The person's row lock first, as every change to a person's password or codes takes it.
    await users.lockUserRow(tx, user.id);
    await passwords.upsertPasswordHash(tx, user.id, hash);
    await audit(tx, { kind: 'user', id: user.id }, { action: 'account.change-password', outcome: 'success', targetUser: user.id, ip });
    return refuseEarlierTokens(tx, user.id);
  });
  await Promise.all([tellPerson(deps, user, { change: 'password-changed', by: BY_YOU }), nextSecond()]);
}

/** Checks the code from the person's current authenticator (brute-force limited; a code works once). */
export async function proveAuthenticator(deps: Deps, user: UserRow, input: string, ip: string): Promise<void> {
  const code = input.replace(/\s+/g, '');
  if (!code) throw new InvalidInput('Enter the 6-digit code from your authenticator app', 'code');
  if (!/^\d{6}$/.test(code)) throw new InvalidInput('The code is 6 digits, like 123456', 'code');
  const verdict = await checkTotp(deps, user.id, code, ip);
  if (verdict !== 'ok') throw new Rejected(codeAdvice(verdict), 'code');
}

/** After the current code was proved in session `sessionId`: a new secret, pending (for that session only) until a code from it confirms it. */
export async function startAuthenticatorChange(deps: Deps, user: UserRow, sessionId: string): Promise<void> {
  const credentialId = await beginEnrolment(deps, user.id);
  await deps.store.set(changeKey(user.id, sessionId), credentialId, CHANGE_WINDOW);
}

/** The new authenticator this session is setting up (QR code, manual key); undefined when it started none, or it expired. */
export async function pendingAuthenticator(deps: Deps, user: UserRow, sessionId: string): Promise<EnrolmentView | undefined> {
  const credentialId = await deps.store.get(changeKey(user.id, sessionId));
  return credentialId ? viewEnrolment(deps, user.id, user.email, credentialId) : undefined;
}

/**
 * Confirms the new authenticator this session is setting up with one of its
 * codes: it becomes the only one (the old stops working at once), every
 * token issued before is refused, and new recovery codes replace the old,
 * kept to be shown once to this session. For a person who had no app (a
 * passkey proved the change) it is their first: `added` says so, and their
 * email says an app was added rather than changed.
 */
export async function finishAuthenticatorChange(deps: Deps, user: UserRow, sessionId: string, input: string, ip: string): Promise<{ added: boolean }> {
  const code = input.replace(/\s+/g, '');
  if (!code) throw new InvalidInput('Enter the 6-digit code from your new authenticator', 'code');
  const credentialId = await deps.store.get(changeKey(user.id, sessionId));
  if (!credentialId) throw new InvalidInput('This change has expired. Start again.', 'code');
  let nextSecond = async () => {};
  const added = !(await hasAuthenticator(deps, user.id));
  // The one place an authenticator is replaced without a recovery code: the current code (or a passkey) was proved.
  const codes = await confirmEnrolment(deps, user.id, credentialId, code, {
    replaces: 'current',
    async alsoInTransaction(tx) {
      await audit(tx, { kind: 'user', id: user.id }, { action: 'account.change-authenticator', outcome: 'success', targetUser: user.id, ip, ...(added ? { details: { first_app: true } } : {}) });
      nextSecond = await refuseEarlierTokens(tx, user.id);
    },
  });
  await deps.store.del(changeKey(user.id, sessionId));
  await keepCodesToShow(deps, user, sessionId, codes);
  await Promise.all([tellPerson(deps, user, { change: added ? 'authenticator-added' : 'authenticator-changed', by: BY_YOU }), nextSecond()]);
  return { added };
}

/** Ten new recovery codes replace every old one (used or not); kept to be shown once, to this session. */
export async function regenerateRecoveryCodes(deps: Deps, user: UserRow, sessionId: string, ip: string): Promise<void> {
  const { plain, hashes } = newRecoveryCodes(deps.settings.recoveryCodes.count);
  await withTransaction(deps.db, async (tx) => {
    await recoveryCodes.replaceRecoveryCodes(tx, user.id, hashes);
    await audit(tx, { kind: 'user', id: user.id }, { action: 'account.regenerate-recovery-codes', outcome: 'success', targetUser: user.id, ip });
  });
  await keepCodesToShow(deps, user, sessionId, plain);
  await tellPerson(deps, user, { change: 'recovery-codes-renewed', by: BY_YOU });
}

/**
 * The new recovery codes, once, to the session they were made for: the
 * first look claims them atomically (two racing looks cannot both see
 * them), a second finds nothing.
 */
export async function takeNewRecoveryCodes(deps: Deps, user: UserRow, sessionId: string): Promise<string[] | undefined> {
  const key = codesKey(user.id, sessionId);
  const raw = await deps.store.get(key);
  if (!raw || !(await deps.store.claimJsonField(key, 'taken', Date.now()))) return undefined;
  await deps.store.del(key);
  return JSON.parse(deps.sealer.open((JSON.parse(raw) as { sealed: string }).sealed)) as string[];
}
