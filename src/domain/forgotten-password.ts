import { randomBytes } from 'node:crypto';
import { withTransaction } from '../db/pool.js';
import * as activationCodes from '../db/queries/activation-codes.js';
import * as passwords from '../db/queries/passwords.js';
import * as users from '../db/queries/users.js';
import type { UserRow } from '../db/queries/users.js';
import { Conflict, InvalidInput, Rejected, TooManyAttempts } from './errors.js';
import { emailKey } from './email.js';
import { addressKey } from './addresses.js';
import { checkNewPassword } from './passwords.js';
import { checkTotp, codeAdvice, hasAuthenticator } from './factors/authenticators.js';
import { hasPasskey } from './factors/passkeys.js';
import { authenticationOptions, provePasskey } from './factors/passkey-ceremonies.js';
import { unusedRecoveryCodes, useRecoveryCode } from './factors/recovery-codes.js';
import { hashCode } from './secrets.js';
import { audit } from './audit.js';
import { tellPerson } from './person-notices.js';
import { isPlainText } from './text.js';
import { lockPerson } from './lock-order.js';
import type { Deps } from './deps.js';

/**
 * "Forgotten your password?" (DESIGN.md, "Codes and who may use them").
 *
 * Asking: every email gets the same answer, in the same time: the lookup is
 * made for every email, and the link is written and mailed after the answer
 * (never awaited by it), so neither the words nor the timing say whether the
 * email belongs to anyone. Asks are counted per email and per address before
 * the lookup, alike for every email.
 *
 * Using: the link's token (256 random bits) is stored hashed with its own
 * purpose, lives 60 minutes and is taken by one conditional DELETE. It opens
 * nothing by itself: where the person has an authenticator, its code (or one
 * of their recovery codes) is proved first, under the sign-in limits. The
 * link sets a password and signs nobody in; the authenticator stays as it
 * was; every session and earlier token of the person ends; the person is
 * told by email.
 */

export const LINK_MINUTES = 60;
/** Links a person can ask for in an hour (each replaces the last), and asks one address may make. */
const PER_EMAIL = 3;
const PER_ADDRESS = 20;
const WINDOW = 3600;

export const SAME_ANSWER = 'If that email address belongs to a pharmid account, we have sent it a link to choose a new password. The link works once, for 60 minutes. Check your inbox and your junk folder.';

function tooMany(secondsLeft: number): TooManyAttempts {
  const m = Math.max(1, Math.ceil(secondsLeft / 60));
  return new TooManyAttempts(`Too many links asked for. Wait ${m <= 1 ? 'a minute' : `${m} minutes`}, then try again.`, 'email', secondsLeft);
}

/** A sign-in (interaction id) the person was in when they asked: they may carry on to its portal afterwards. */
export const isSignInId = (from: unknown): from is string => typeof from === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(from);

/** The link to choose a new password; the token is in the query, so it never reaches the request log (which records the path). */
export function resetLink(issuer: string, token: string, from?: string): string {
  const back = isSignInId(from) ? `&from=${from}` : '';
  return `${issuer.replace(/\/$/, '')}/password/reset?token=${encodeURIComponent(token)}${back}`;
}

async function sendLink(deps: Deps, user: UserRow, from?: string): Promise<void> {
  const token = randomBytes(32).toString('base64url');
  await activationCodes.replaceActivationCode(deps.db, user.id, 'forgotten-password', hashCode(token), LINK_MINUTES * 60, null);
  await audit(deps.db, { kind: 'anonymous' }, { action: 'account.forgotten-password-link', outcome: 'success', targetUser: user.id });
  await deps.mailer.send({
    to: user.email,
    subject: 'Choose a new pharmid password',
    text: [
      `Dear ${user.name},`,
      '',
      'Someone (we hope you) asked for a link to choose a new pharmid password:',
      '',
      resetLink(deps.settings.issuer, token, from),
      '',
      `The link works once, for ${LINK_MINUTES} minutes. If you have an authenticator app or a passkey, you will need it (or one of your recovery codes) too.`,
      '',
      'If you did not ask, you can ignore this email: your password has not changed, and nobody can use the link without your authenticator.',
      '',
      `pharmid (${deps.settings.issuer})`,
      '',
    ].join('\n'),
  });
}

/**
 * Asks for a link for this email. Returns when the answer may be given; the
 * link (for a known, active person) is written and mailed after, and a
 * failure there is only logged by the caller's `onError`.
 */
export async function askForLink(deps: Deps, email: string, ip: string, from?: string, onError: (err: unknown) => void = () => {}): Promise<void> {
  if (!email.trim()) throw new InvalidInput('Enter your email address', 'email');
  if (!isPlainText(email, 320)) throw new InvalidInput('Enter an email address, like name@example.nhs.uk', 'email');
  const key = emailKey(email);
  if (!key) throw new InvalidInput('Enter an email address, like name@example.nhs.uk', 'email');
  const perAddress = await deps.counters.failures('forgotten-password:address', WINDOW).add(addressKey(ip));
  if (perAddress.count > PER_ADDRESS) throw tooMany(perAddress.secondsLeft);
  const perEmail = await deps.counters.failures('forgotten-password:email', WINDOW).add(key);
  if (perEmail.count > PER_EMAIL) throw tooMany(perEmail.secondsLeft);
  const user = await users.findUserByEmailKey(deps.db, key);
  if (user?.status === 'active') void sendLink(deps, user, from).catch(onError);
}

/** What the link's page asks for: nothing when the link is not live. */
export interface LinkPage {
  user: UserRow;
  /** The person has an authenticator app or a passkey: one of them (or a recovery code) comes first. */
  needsSecondFactor: boolean;
  app: boolean;
  passkey: boolean;
  recoveryCodesLeft: number;
}

export async function openLink(deps: Deps, token: string): Promise<LinkPage | undefined> {
  if (!token || !isPlainText(token, 100)) return undefined;
  const userId = await activationCodes.findLiveCodeOwner(deps.db, 'forgotten-password', hashCode(token));
  const user = userId ? await users.findUserById(deps.db, userId) : undefined;
  if (!user || user.status !== 'active') return undefined;
  const [app, passkey, recoveryCodesLeft] = await Promise.all([hasAuthenticator(deps, user.id), hasPasskey(deps, user.id), unusedRecoveryCodes(deps, user.id)]);
  return { user, needsSecondFactor: app || passkey, app, passkey, recoveryCodesLeft };
}

/**
 * What a link's passkey challenge is bound to: the link itself (by its hash),
 * so an answer made for one link's page proves nothing at another's, and the
 * link's page needs no session (nobody is signed in there).
 */
const boundToLink = (token: string) => `password-link:${hashCode(token)}`;

/** The browser's options for proving one of the person's passkeys on the link's page. */
export function linkPasskeyOptions(deps: Deps, token: string, page: LinkPage) {
  return authenticationOptions(deps, boundToLink(token), page.user.id);
}

export const LINK_GONE = 'This link does not work any more: it was used already, or it is more than 60 minutes old. Ask for a new one.';

/** Refused when the person changed between the link's page being read and its write (see useLink); the page shown again asks for what is there now. */
export const ACCOUNT_CHANGED = 'Your account changed while you were choosing a password (an administrator may have reset or disabled it), so nothing was changed. Enter your new password again.';

/**
 * The person as the link's page read them, before the second factor was
 * proved, still stands: active, and no reset, disable or credential change
 * since (each of those moves sessions_revoked_at or tokens_revoked_at).
 */
function unchangedSince(before: UserRow, now: UserRow | undefined): boolean {
  const same = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);
  return !!now && now.status === 'active'
    && same(before.sessions_revoked_at, now.sessions_revoked_at) && same(before.tokens_revoked_at, now.tokens_revoked_at);
}

export interface LinkAnswer { token: string; code?: string; recoveryCode?: string; credential?: string; newPassword: string }

/**
 * Sets the new password from a live link: the new password is checked and
 * hashed first (so a code is not spent on a password that would be refused,
 * nor on a hash refused while this address's argon2 places are full), then
 * the second factor, then the link is taken (one DELETE) in the same transaction
 * that sets the password and refuses every earlier token. The caller ends
 * the person's sessions. That transaction takes the person's row lock first
 * and re-reads them: an administrator's disable, MFA reset or password reset
 * landing after the page was read (the proof takes a moment) would otherwise
 * be followed by the new password, set from a second factor the reset had
 * just removed. Then nothing is written and the link stays as it is.
 */
export async function useLink(deps: Deps, answer: LinkAnswer, ip: string): Promise<UserRow> {
  const page = await openLink(deps, answer.token);
  // On the token: the page shown again finds the link gone and says so (410, with a way to ask for a new one).
  if (!page) throw new Rejected(LINK_GONE, 'token');
  const { user } = page;
  if (!answer.newPassword) throw new InvalidInput('Enter a new password', 'new_password');
  checkNewPassword(answer.newPassword, user.email);
  // Hashed before the proof: a hash refused as busy (503) must not have spent a recovery code or the app's code first.
  const hash = await deps.passwords.hash(answer.newPassword, ip);
  if (page.needsSecondFactor) await proveSecondFactor(deps, user, answer, ip);
  const at = new Date();
  await withTransaction(deps.db, async (tx) => {
    if (!unchangedSince(user, await lockPerson(tx, user.id))) throw new Conflict(ACCOUNT_CHANGED, 'new_password');
    if (!(await activationCodes.consumeActivationCode(tx, user.id, ['forgotten-password'], hashCode(answer.token)))) throw new Rejected(LINK_GONE, 'token');
    await passwords.upsertPasswordHash(tx, user.id, hash);
    await users.refuseEarlierTokens(tx, user.id, at);
    await audit(tx, { kind: 'user', id: user.id }, {
      action: 'account.forgotten-password', outcome: 'success', targetUser: user.id, ip,
      details: { second_factor: page.needsSecondFactor ? secondFactorUsed(answer) : 'none' },
    });
  });
  // Tokens are dated in whole seconds: the next sign-in waits for the next second, so its tokens count.
  await Promise.all([
    tellPerson(deps, user, { change: 'password-forgotten', by: 'you, with a link from the "Forgotten your password?" page' }),
    new Promise((resolve) => { setTimeout(resolve, 1000 - (at.getTime() % 1000) + 5); }),
  ]);
  return user;
}

const secondFactorUsed = (answer: LinkAnswer) => (answer.credential !== undefined ? 'passkey' : answer.recoveryCode !== undefined ? 'recovery' : 'otp');

async function proveSecondFactor(deps: Deps, user: UserRow, answer: LinkAnswer, ip: string): Promise<void> {
  if (answer.credential !== undefined) {
    // One of the person's own keys, against the challenge this link's page was given (taken once).
    await provePasskey(deps, boundToLink(answer.token), answer.credential, { userId: user.id, ip });
    return;
  }
  if (answer.recoveryCode !== undefined) {
    const code = answer.recoveryCode.trim();
    if (!code) throw new InvalidInput('Enter one of your recovery codes', 'recovery_code');
    if (!(await useRecoveryCode(deps, user.id, code, ip))) {
      throw new Rejected('That recovery code is not right, or was used already. Each code works once.', 'recovery_code');
    }
    return;
  }
  const code = (answer.code ?? '').replace(/\s+/g, '');
  if (!code) throw new InvalidInput('Enter the 6-digit code from your authenticator app', 'code');
  if (!/^\d{6}$/.test(code)) throw new InvalidInput('The code is 6 digits, like 123456', 'code');
  const verdict = await checkTotp(deps, user.id, code, ip);
  if (verdict !== 'ok') throw new Rejected(codeAdvice(verdict), 'code');
}
