import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { withTransaction, type Db } from '../../db/pool.js';
import * as passkeys from '../../db/queries/passkeys.js';
import * as totpCredentials from '../../db/queries/totp-credentials.js';
import * as users from '../../db/queries/users.js';
import * as recoveryCodes from '../../db/queries/recovery-codes.js';
import { AccountChanged, Conflict, Rejected, TooManyAttempts } from '../errors.js';
import { audit, type Actor } from '../audit.js';
import { tellPerson } from '../person-notices.js';
import { newRecoveryCodes } from './recovery-codes.js';
import type { Deps } from '../deps.js';
import { proofsStillCount, type FlowState } from '../sign-in-flows.js';
import { CHALLENGE_SECONDS, keepChallenge, madeInAFrame, parseCredential, relyingParty, takeChallenge } from './passkey-challenges.js';
import { checkPasskeyName, MAX_PASSKEYS, tooManyPasskeys, toSummary, type PasskeySummary } from './passkeys.js';

/**
 * The WebAuthn ceremonies, checked by @simplewebauthn/server: making a new
 * passkey (registration) and proving one (assertion), each against a
 * challenge taken once (passkey-challenges.ts), the issuer's origin and RP
 * ID, and (for an assertion) the stored public key and signature counter.
 */

/** What a verified passkey proved: whose it is, whether the person was verified on it (PIN, fingerprint), and its RFC 8176 name. */
export interface PasskeyProof {
  userId: string;
  passkeyId: string;
  userVerified: boolean;
  /** `hwk` for a key held in hardware, `swk` for a synced (multi-device) passkey. */
  method: 'hwk' | 'swk';
}

/** The user handle a person's keys are made with: their id's 16 bytes (never their email), as base64url. */
const userIdBytes = (userId: string) => Buffer.from(userId.replace(/-/g, ''), 'hex');
const userHandleOf = (userId: string) => userIdBytes(userId).toString('base64url');

/** Options for the browser to make a new passkey for this person (its challenge kept under `bindTo`). */
export async function registrationOptions(
  deps: Deps, user: { id: string; email: string; name: string }, bindTo: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const rp = relyingParty(deps);
  const existing = await passkeys.listPasskeys(deps.db, user.id);
  // Refused before the browser makes a key that could not be kept.
  if (existing.length >= MAX_PASSKEYS) throw tooManyPasskeys();
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.rpID,
    userName: user.email,
    userDisplayName: user.name,
    userID: userIdBytes(user.id),
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

/** The ways a key is reached (WebAuthn's AuthenticatorTransport): anything else the browser claims is dropped, not stored. */
const TRANSPORTS: ReadonlySet<string> = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

function transportsOf(claimed: unknown): string[] {
  if (!Array.isArray(claimed)) return [];
  return [...new Set(claimed.filter((t): t is string => typeof t === 'string' && TRANSPORTS.has(t)))];
}

/** Verifies the browser's new credential against the challenge bound here; what to store. */
async function verifyNew(deps: Deps, userId: string, bindTo: string, raw: string | undefined): Promise<Omit<passkeys.NewPasskey, 'name'>> {
  const response = parseCredential<RegistrationResponseJSON>(raw);
  const stored = await takeChallenge(deps, bindTo, 'register');
  if (stored.userId !== userId) throw new AccountChanged();
  if (madeInAFrame(response)) throw new Rejected('pharmid could not check that key. Try again, or use another key.', 'credential');
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
    transports: transportsOf(response.response.transports),
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
    if ((await passkeys.countPasskeys(tx, user.id)) >= MAX_PASSKEYS) throw tooManyPasskeys();
    await terms.alsoInTransaction?.(tx);
    const added = await passkeys.insertPasskey(tx, { ...verified, name });
    if (!added) throw new Conflict('That key is registered already. Use another key, or sign in with this one.', 'credential');
    await audit(tx, terms.actor, { action: 'passkey.add', outcome: 'success', targetUser: user.id, ip: terms.ip, details: { passkey: added.id, name, synced: added.device_type === 'multiDevice' } });
    return added;
  });
  await tellPerson(deps, user, { change: 'passkey-added', by: terms.by, detail: `"${name}"` });
  return toSummary(row);
}

/**
 * A first passkey, set up at sign-in in place of an authenticator app: with
 * it, in one transaction, a new set of recovery codes (returned once, to be
 * shown once) and whatever `alsoInTransaction` must spend (an MFA-reset code).
 * Refused (AccountChanged) when another sign-in set up a factor meanwhile,
 * or when the sign-in's proofs stopped counting (an administrator's MFA
 * reset or disable) before the row lock was had: the flow checks them before
 * the step, but a reset landing between that check and this write would
 * otherwise be followed by a key and recovery codes it never saw.
 */
export async function enrolFirstPasskey(
  deps: Deps, user: { id: string; email: string; name: string }, bindTo: string, raw: string | undefined, name: string | undefined,
  terms: { alsoInTransaction?: (tx: Db) => Promise<void>; ip: string; by: string; signIn?: FlowState },
): Promise<{ passkey: PasskeySummary; codes: string[] }> {
  const { plain, hashes } = newRecoveryCodes(deps.settings.recoveryCodes.count);
  const passkey = await addPasskey(deps, user, bindTo, raw, name, {
    first: true, actor: { kind: 'user', id: user.id }, ip: terms.ip, by: terms.by,
    async alsoInTransaction(tx) {
      // addPasskey holds the row lock already: this reads the row as it is now, after any reset that got the lock first.
      if (terms.signIn && !proofsStillCount(await users.lockUserRow(tx, user.id), terms.signIn)) throw new AccountChanged();
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

/**
 * The library's reason for a refusal, fit for the audit trail: it may quote
 * what the browser sent (an origin, a type), so control characters and lone
 * surrogates, which the trail's JSON cannot hold, are made visible as `?`.
 */
function auditable(reason: string): string {
  // eslint-disable-next-line no-control-regex
  return reason.slice(0, 200).replace(/[\u0000-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '?');
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
  if (madeInAFrame(response)) return refuse('answered in a frame on another site', row.user_id);
  // WebAuthn §7.2: a user handle, when sent, names the key's own person (it is never trusted over the key's row).
  const handle = (response.response as { userHandle?: unknown }).userHandle;
  if (handle !== undefined && handle !== null && handle !== userHandleOf(row.user_id)) return refuse('user handle of another person', row.user_id);
  const rp = relyingParty(deps);
  const checked = await verifyAuthenticationResponse({
    response,
    expectedChallenge: stored.challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.rpID,
    credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: row.sign_count, transports: row.transports as never },
    requireUserVerification: false,
  }).catch((err: unknown) => ({ verified: false as const, reason: err instanceof Error ? err.message : 'not verified' }));
  if (!checked.verified || !('authenticationInfo' in checked)) return refuse('reason' in checked ? auditable(checked.reason) : 'not verified', row.user_id);
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
