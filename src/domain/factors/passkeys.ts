import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { withTransaction, type Db } from '../../db/pool.js';
import * as passkeys from '../../db/queries/passkeys.js';
import * as totpCredentials from '../../db/queries/totp-credentials.js';
import * as users from '../../db/queries/users.js';
import { AccountChanged, Conflict, InvalidInput, NotFound, Rejected, TooManyAttempts } from '../errors.js';
import { isPlainText } from '../text.js';
import { audit, type Actor } from '../audit.js';
import { tellPerson } from '../person-notices.js';
import { newRecoveryCodes } from '../recovery-codes.js';
import * as recoveryCodes from '../../db/queries/recovery-codes.js';
import type { Deps } from '../deps.js';

/**
 * Passkeys and security keys (WebAuthn). The relying party is the issuer:
 * its host is the RP ID every credential is bound to, its origin the only
 * origin a browser may have used. Moving pharmid to another host makes every
 * registered passkey useless (the browser will not offer them), so the
 * issuer's host must stay stable.
 *
 * A challenge is single-use and short-lived: kept in the store under what it
 * is bound to (a sign-in's interaction, or an account-page session) and taken
 * with one get-and-delete, so a replayed answer finds nothing.
 */

/** How long a browser has to answer a challenge. */
export const CHALLENGE_SECONDS = 5 * 60;

/** What one passkey looks like to the person (and to an administrator). */
export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** Synced between devices (a phone or password manager's passkey): software-held. */
  synced: boolean;
}

/** What a verified passkey proved: whose it is, whether the person was verified on it (PIN, fingerprint), and its RFC 8176 name. */
export interface PasskeyProof {
  userId: string;
  passkeyId: string;
  userVerified: boolean;
  /** `hwk` for a key held in hardware, `swk` for a synced (multi-device) passkey. */
  method: 'hwk' | 'swk';
}

/** What a challenge is for: registering, proving a known person, or finding the person (passkey alone). */
export type Ceremony = 'register' | 'second-factor' | 'sign-in';

interface StoredChallenge { challenge: string; ceremony: Ceremony; userId?: string }

export function relyingParty(deps: Pick<Deps, 'settings'>): { rpID: string; origin: string; name: string } {
  const url = new URL(deps.settings.issuer);
  return { rpID: url.hostname, origin: url.origin, name: deps.settings.totp.issuer };
}

const challengeKey = (bindTo: string) => `webauthn:challenge:${bindTo}`;

/** What a sign-in's challenge is bound to. */
export const boundToInteraction = (uid: string) => `interaction:${uid}`;
/** What an account page's challenge is bound to: the person and their sign-in session. */
export const boundToSession = (userId: string, sessionId: string) => `account:${userId}:${sessionId}`;

async function keepChallenge(deps: Deps, bindTo: string, stored: StoredChallenge): Promise<void> {
  await deps.store.set(challengeKey(bindTo), JSON.stringify(stored), CHALLENGE_SECONDS);
}

/** The challenge bound here, taken (it never works twice); Rejected when none is waiting for this ceremony. */
async function takeChallenge(deps: Deps, bindTo: string, ceremony: Ceremony): Promise<StoredChallenge> {
  const raw = await deps.store.take(challengeKey(bindTo));
  const stored = raw ? (JSON.parse(raw) as StoredChallenge) : undefined;
  if (!stored || stored.ceremony !== ceremony) {
    throw new Rejected('That took too long, or the page was used already. Try again.', 'credential');
  }
  return stored;
}

/** The credential the browser sent (a JSON string from the page's script); InvalidInput when it is not one. */
function parseCredential<T>(raw: string | undefined): T & { id: string } {
  if (!raw) throw new InvalidInput('Your browser did not send a passkey. Try again, or use another way to sign in.', 'credential');
  try {
    const value = JSON.parse(raw) as unknown;
    if (value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string' && (value as { id: string }).id.length <= 1400) {
      return value as T & { id: string };
    }
  } catch { /* refused below */ }
  throw new InvalidInput('Your browser sent something that is not a passkey. Try again.', 'credential');
}

const summary = (row: passkeys.PasskeyRow): PasskeySummary => ({
  id: row.id, name: row.name, createdAt: row.created_at, lastUsedAt: row.last_used_at, synced: row.device_type === 'multiDevice',
});

export async function listPasskeys(deps: Pick<Deps, 'db'>, userId: string): Promise<PasskeySummary[]> {
  return (await passkeys.listPasskeys(deps.db, userId)).map(summary);
}

export async function hasPasskey(deps: Pick<Deps, 'db'>, userId: string): Promise<boolean> {
  return (await passkeys.countPasskeys(deps.db, userId)) > 0;
}

/** A name the person gives a key: plain text, 1 to 60 characters. */
export function checkPasskeyName(input: string | undefined): string {
  const name = (input ?? '').trim().replace(/\s+/g, ' ');
  if (!name) throw new InvalidInput('Give this key a name, like "Blue key" or "Dispensary PC"', 'name');
  if (!isPlainText(name, 60)) throw new InvalidInput('The name must be 60 characters or fewer, letters, numbers and punctuation only', 'name');
  return name;
}

/** Options for the browser to make a new passkey for this person (its challenge kept under `bindTo`). */
export async function registrationOptions(
  deps: Deps, user: { id: string; email: string; name: string }, bindTo: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const rp = relyingParty(deps);
  const existing = await passkeys.listPasskeys(deps.db, user.id);
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.rpID,
    userName: user.email,
    userDisplayName: user.name,
    userID: Buffer.from(user.id.replace(/-/g, ''), 'hex'),
    attestationType: 'none',
    // The same key twice is refused by the browser itself.
    excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: p.transports })),
    // A passkey (found without an email) where the key can keep one; verification (PIN, fingerprint) where it can.
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    timeout: CHALLENGE_SECONDS * 1000,
  });
  await keepChallenge(deps, bindTo, { challenge: options.challenge, ceremony: 'register', userId: user.id });
  return options;
}

/** Verifies the browser's new credential against the challenge bound here; what to store. */
async function verifyNew(deps: Deps, userId: string, bindTo: string, raw: string | undefined): Promise<Omit<passkeys.NewPasskey, 'name'>> {
  const response = parseCredential<RegistrationResponseJSON>(raw);
  const stored = await takeChallenge(deps, bindTo, 'register');
  if (stored.userId !== userId) throw new AccountChanged();
  const rp = relyingParty(deps);
  const verified = await verifyRegistrationResponse({
    response, expectedChallenge: stored.challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpID, requireUserVerification: false,
  }).catch(() => ({ verified: false as const, registrationInfo: undefined }));
  if (!verified.verified) throw new Rejected('pharmid could not check that key. Try again, or use another key.', 'credential');
  const info = verified.registrationInfo;
  return {
    userId,
    credentialId: info.credential.id,
    publicKey: info.credential.publicKey,
    signCount: info.credential.counter,
    transports: (response.response.transports ?? []).filter((t) => typeof t === 'string').slice(0, 8),
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
  };
}

export interface AddTerms {
  /** A first factor (enrolment at sign-in): refused when the person has one already (another sign-in set it up meanwhile). */
  first?: boolean;
  /** What must land with it (recovery codes, an MFA-reset code spent); may throw to undo it all. */
  alsoInTransaction?: (tx: Db) => Promise<void>;
  actor: Actor;
  ip: string;
  /** Who did it, in the person's email ("you, while signing in to PharmOutcomes"). */
  by: string;
}

/**
 * Adds the passkey the browser made (verified against the challenge bound
 * here), named by the person. A credential belongs to one person: one
 * registered already (to anyone) is refused. Audited; the person is emailed.
 */
export async function addPasskey(deps: Deps, user: { id: string; email: string; name: string }, bindTo: string, raw: string | undefined, nameInput: string | undefined, terms: AddTerms): Promise<PasskeySummary> {
  const name = checkPasskeyName(nameInput);
  const verified = await verifyNew(deps, user.id, bindTo, raw);
  const row = await withTransaction(deps.db, async (tx) => {
    await users.lockUserRow(tx, user.id);
    if (terms.first && ((await totpCredentials.findConfirmedTotp(tx, user.id)) || (await passkeys.countPasskeys(tx, user.id)) > 0)) {
      throw new AccountChanged();
    }
    await terms.alsoInTransaction?.(tx);
    const added = await passkeys.insertPasskey(tx, { ...verified, name });
    if (!added) throw new Conflict('That key is registered already. Use another key, or sign in with this one.', 'credential');
    await audit(tx, terms.actor, { action: 'passkey.add', outcome: 'success', targetUser: user.id, ip: terms.ip, details: { passkey: added.id, name, synced: added.device_type === 'multiDevice' } });
    return added;
  });
  await tellPerson(deps, user, { change: 'passkey-added', by: terms.by, detail: `"${name}"` });
  return summary(row);
}

/**
 * A first passkey, set up at sign-in in place of an authenticator app: with
 * it, in one transaction, a new set of recovery codes (returned once, to be
 * shown once) and whatever `alsoInTransaction` must spend (an MFA-reset code).
 * Refused (AccountChanged) when another sign-in set up a factor meanwhile.
 */
export async function enrolFirstPasskey(
  deps: Deps, user: { id: string; email: string; name: string }, bindTo: string, raw: string | undefined, name: string | undefined,
  terms: { alsoInTransaction?: (tx: Db) => Promise<void>; ip: string; by: string },
): Promise<{ passkey: PasskeySummary; codes: string[] }> {
  const { plain, hashes } = newRecoveryCodes(deps.settings.recoveryCodes.count);
  const passkey = await addPasskey(deps, user, bindTo, raw, name, {
    first: true, actor: { kind: 'user', id: user.id }, ip: terms.ip, by: terms.by,
    async alsoInTransaction(tx) {
      await terms.alsoInTransaction?.(tx);
      await recoveryCodes.replaceRecoveryCodes(tx, user.id, hashes);
    },
  });
  return { passkey, codes: plain };
}

/**
 * Options for the browser to prove a passkey. With `userId`, the person's
 * own keys are listed (a second factor, or a proof on the account page);
 * without, the browser offers whatever passkey it holds for pharmid, and
 * user verification is required (a passkey alone is the whole sign-in).
 */
export async function authenticationOptions(deps: Deps, bindTo: string, userId?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const rp = relyingParty(deps);
  const mine = userId ? await passkeys.listPasskeys(deps.db, userId) : [];
  const options = await generateAuthenticationOptions({
    rpID: rp.rpID,
    allowCredentials: mine.map((p) => ({ id: p.credential_id, transports: p.transports })),
    userVerification: userId ? 'preferred' : 'required',
    timeout: CHALLENGE_SECONDS * 1000,
  });
  await keepChallenge(deps, bindTo, { challenge: options.challenge, ceremony: userId ? 'second-factor' : 'sign-in', userId });
  return options;
}

const NOT_ACCEPTED = 'pharmid could not accept that passkey or security key. Try again, or use another way to sign in.';

/**
 * Verifies a passkey the browser used, against the challenge bound here
 * (taken: it never works twice), the issuer's origin and RP ID, the stored
 * public key and the signature counter (which only moves forward). With
 * `userId` the key must be that person's; without, it names its person,
 * who must be active and not locked, and the person must have been verified
 * on the key (a security key without a PIN is only ever a second factor).
 * Each use is audited and updates the key's "last used".
 */
export async function provePasskey(deps: Deps, bindTo: string, raw: string | undefined, expect: { userId?: string; ip: string }): Promise<PasskeyProof> {
  const response = parseCredential<AuthenticationResponseJSON>(raw);
  const stored = await takeChallenge(deps, bindTo, expect.userId ? 'second-factor' : 'sign-in');
  if (stored.userId !== expect.userId) throw new Rejected(NOT_ACCEPTED, 'credential');
  const row = await passkeys.findPasskeyByCredentialId(deps.db, response.id);
  const refuse = async (reason: string, userId?: string): Promise<never> => {
    await audit(deps.db, userId ? { kind: 'user', id: userId } : { kind: 'anonymous' }, {
      action: 'passkey.use', outcome: 'failure', targetUser: userId, ip: expect.ip, details: { reason, passkey: row?.id ?? null },
    });
    throw new Rejected(NOT_ACCEPTED, 'credential');
  };
  // A key that is not registered (or was removed), or is someone else's.
  if (!row) return refuse('unknown credential', expect.userId);
  if (expect.userId && row.user_id !== expect.userId) return refuse('another person\'s credential', expect.userId);
  const rp = relyingParty(deps);
  const checked = await verifyAuthenticationResponse({
    response,
    expectedChallenge: stored.challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.rpID,
    credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: row.sign_count, transports: row.transports as never },
    requireUserVerification: false,
  }).catch((err: unknown) => ({ verified: false as const, reason: err instanceof Error ? err.message : 'not verified' }));
  if (!checked.verified || !('authenticationInfo' in checked)) return refuse('reason' in checked ? checked.reason.slice(0, 200) : 'not verified', row.user_id);
  const info = checked.authenticationInfo;
  if (!expect.userId && !info.userVerified) return refuse('no user verification on a passkey alone', row.user_id);
  const user = await users.findUserById(deps.db, row.user_id);
  if (!user || user.status !== 'active') return refuse('account not active', row.user_id);
  if (user.locked_at) throw new TooManyAttempts('Your account is locked after too many wrong codes. Ask your site administrator to unlock it.', 'credential');
  // The counter moves forward in one conditional write (a clone of the key, or a race, loses).
  if (!(await passkeys.recordPasskeyUse(deps.db, row.id, row.user_id, info.newCounter, new Date()))) return refuse('signature counter did not move forward', row.user_id);
  await audit(deps.db, { kind: 'user', id: row.user_id }, {
    action: 'passkey.use', outcome: 'success', targetUser: row.user_id, ip: expect.ip, details: { passkey: row.id, user_verified: info.userVerified },
  });
  return { userId: row.user_id, passkeyId: row.id, userVerified: info.userVerified, method: info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk' };
}

export async function renamePasskey(deps: Deps, userId: string, passkeyId: string, nameInput: string | undefined, ip: string): Promise<void> {
  const name = checkPasskeyName(nameInput);
  if (!(await passkeys.renamePasskey(deps.db, passkeyId, userId, name))) throw new NotFound('That key is not on your account');
  await audit(deps.db, { kind: 'user', id: userId }, { action: 'passkey.rename', outcome: 'success', targetUser: userId, ip, details: { passkey: passkeyId, name } });
}

/**
 * Removes one of the person's own passkeys. Never their last factor: with no
 * authenticator app and no other passkey, removing it would leave an account
 * without two-step sign-in, so it is refused (an administrator's reset is
 * the way to start again). Audited; the person is emailed.
 */
export async function removePasskey(deps: Deps, user: { id: string; email: string; name: string }, passkeyId: string, terms: { actor: Actor; ip: string; by: string }): Promise<PasskeySummary> {
  const removed = await withTransaction(deps.db, async (tx) => {
    await users.lockUserRow(tx, user.id);
    const others = (await passkeys.countPasskeys(tx, user.id)) - 1;
    const app = await totpCredentials.findConfirmedTotp(tx, user.id);
    const row = await passkeys.deletePasskey(tx, passkeyId, user.id);
    if (!row) throw new NotFound('That key is not on your account');
    if (others < 1 && !app) {
      throw new Conflict('This is your only way to prove it is you after your password. Add another passkey, security key or authenticator app first, then remove this one.', 'passkey');
    }
    await audit(tx, terms.actor, { action: 'passkey.remove', outcome: 'success', targetUser: user.id, ip: terms.ip, details: { passkey: row.id, name: row.name } });
    return row;
  });
  await tellPerson(deps, user, { change: 'passkey-removed', by: terms.by, detail: `"${removed.name}"` });
  return summary(removed);
}

/**
 * Removes every passkey of the person, in the caller's transaction (an
 * administrator's reset of their two-step sign-in). The caller audits and
 * tells the person; returns how many went.
 */
export function removeAllPasskeys(tx: Db, userId: string): Promise<number> {
  return passkeys.deleteAllPasskeys(tx, userId);
}

/** How many passkeys the person has (readiness, the administrator's view). */
export function countPasskeys(deps: Pick<Deps, 'db'>, userId: string): Promise<number> {
  return passkeys.countPasskeys(deps.db, userId);
}
