import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import * as users from '../../db/queries/users.js';
import type { UserRow } from '../../db/queries/users.js';
import { hasAuthenticator } from './authenticators.js';
import { proveAuthenticator } from '../self-service.js';
import { Conflict, InvalidInput } from '../errors.js';
import type { Deps } from '../deps.js';
import { boundToSession } from './passkey-challenges.js';
import { addPasskey, authenticationOptions, provePasskey, registrationOptions } from './passkey-ceremonies.js';
import { hasPasskey, removePasskey, type PasskeySummary } from './passkeys.js';

/**
 * A person's own passkeys, from the account page. Adding one first proves a
 * factor the person has now (the app's code, or one of their passkeys), as
 * every sensitive change on that page does; the proof lasts a few minutes,
 * for the sign-in session that gave it only. Challenges are bound to that
 * session too.
 */

/** How long a proof made on the account page lets the person add a key. */
const PROOF_WINDOW = 10 * 60;
const BY_YOU = 'you, on your pharmid account page';

const proofKey = (userId: string, sessionId: string) => `account:passkey-proof:${userId}:${sessionId}`;

/**
 * What the person's row said of revoked sessions and tokens when the proof
 * was made: an administrator's reset (or anything else that ends sessions or
 * refuses tokens) after it changes one of them, and the proof no longer counts.
 */
const revocationMark = (row: Pick<UserRow, 'sessions_revoked_at' | 'tokens_revoked_at'> | undefined) =>
  `${row?.sessions_revoked_at?.toISOString() ?? '-'} ${row?.tokens_revoked_at?.toISOString() ?? '-'}`;

const CHANGED_SINCE_PROOF = 'Your account changed after you showed it was you (an administrator may have reset how you sign in). Sign in again, then add the key.';

/** How the person can prove a current factor: the app's code, a passkey (its browser options), or both. */
export async function proofChoices(deps: Deps, user: UserRow, sessionId: string): Promise<{ app: boolean; passkey?: PublicKeyCredentialRequestOptionsJSON }> {
  const [app, keys] = await Promise.all([hasAuthenticator(deps, user.id), hasPasskey(deps, user.id)]);
  return { app, passkey: keys ? await authenticationOptions(deps, boundToSession(user.id, sessionId), user.id) : undefined };
}

/**
 * Proves a factor the person has now, on the account page: one of their
 * passkeys (the browser's answer in `credential`, against a challenge bound
 * to this session) or their app's code.
 */
export async function proveCurrentFactor(deps: Deps, user: UserRow, sessionId: string, form: { code?: string; credential?: string }, ip: string): Promise<void> {
  if (form.credential) {
    await provePasskey(deps, boundToSession(user.id, sessionId), form.credential, { userId: user.id, ip });
  } else if (await hasAuthenticator(deps, user.id)) {
    await proveAuthenticator(deps, user, form.code ?? '', ip);
  } else {
    throw new InvalidInput('Use one of your passkeys or security keys first', 'credential');
  }
}

/** Proves a current factor; the proof lets this session add a key for a few minutes. */
export async function proveForNewPasskey(deps: Deps, user: UserRow, sessionId: string, form: { code?: string; credential?: string }, ip: string): Promise<void> {
  await proveCurrentFactor(deps, user, sessionId, form, ip);
  await deps.store.set(proofKey(user.id, sessionId), revocationMark(await users.findUserById(deps.db, user.id)), PROOF_WINDOW);
}

export async function mayAddPasskey(deps: Deps, user: UserRow, sessionId: string): Promise<boolean> {
  return (await deps.store.get(proofKey(user.id, sessionId))) !== null;
}

/** The browser's options for a new key (only after a proof in this session). */
export function newPasskeyOptions(deps: Deps, user: UserRow, sessionId: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return registrationOptions(deps, user, boundToSession(user.id, sessionId));
}

/**
 * Adds the key the browser made, with the person's name for it; the proof is
 * spent. Under the person's row lock (which an administrator's MFA reset
 * takes too) the proof is checked to still count: a reset that landed
 * between the proof and this write removed every key and ended the session,
 * and a key added after it would outlive the reset.
 */
export async function addOwnPasskey(deps: Deps, user: UserRow, sessionId: string, form: { credential?: string; name?: string }, ip: string): Promise<PasskeySummary> {
  const proof = await deps.store.get(proofKey(user.id, sessionId));
  const added = await addPasskey(deps, user, boundToSession(user.id, sessionId), form.credential, form.name, {
    actor: { kind: 'user', id: user.id }, ip, by: BY_YOU,
    async alsoInTransaction(tx) {
      // addPasskey holds the row lock already: this reads the row as it is now, after any reset that got the lock first.
      if (proof === null || revocationMark(await users.lockUserRow(tx, user.id)) !== proof) throw new Conflict(CHANGED_SINCE_PROOF, 'credential');
    },
  });
  await deps.store.del(proofKey(user.id, sessionId));
  return added;
}

export function removeOwnPasskey(deps: Deps, user: UserRow, passkeyId: string, ip: string): Promise<PasskeySummary> {
  return removePasskey(deps, user, passkeyId, { actor: { kind: 'user', id: user.id }, ip, by: BY_YOU });
}
