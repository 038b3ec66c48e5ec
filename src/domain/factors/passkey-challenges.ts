import type { Deps } from '../deps.js';
import { InvalidInput, Rejected } from '../errors.js';

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

/** What a challenge is for: registering, proving a known person, or finding the person (passkey alone). */
export type Ceremony = 'register' | 'second-factor' | 'sign-in';

export interface StoredChallenge { challenge: string; ceremony: Ceremony; userId?: string }

export function relyingParty(deps: Pick<Deps, 'settings'>): { rpID: string; origin: string; name: string } {
  const url = new URL(deps.settings.issuer);
  return { rpID: url.hostname, origin: url.origin, name: deps.settings.totp.issuer };
}

const challengeKey = (bindTo: string) => `webauthn:challenge:${bindTo}`;

/** What a sign-in's challenge is bound to. */
export const boundToInteraction = (uid: string) => `interaction:${uid}`;
/** What an account page's challenge is bound to: the person and their sign-in session. */
export const boundToSession = (userId: string, sessionId: string) => `account:${userId}:${sessionId}`;

export async function keepChallenge(deps: Deps, bindTo: string, stored: StoredChallenge): Promise<void> {
  await deps.store.set(challengeKey(bindTo), JSON.stringify(stored), CHALLENGE_SECONDS);
}

/** The challenge bound here, taken (it never works twice); Rejected when none is waiting for this ceremony. */
export async function takeChallenge(deps: Deps, bindTo: string, ceremony: Ceremony): Promise<StoredChallenge> {
  const raw = await deps.store.take(challengeKey(bindTo));
  const stored = raw ? (JSON.parse(raw) as StoredChallenge) : undefined;
  if (!stored || stored.ceremony !== ceremony) {
    throw new Rejected('That took too long, or the page was used already. Try again.', 'credential');
  }
  return stored;
}

/** A credential id as WebAuthn sends it: base64url, at most 1023 bytes (1364 characters). */
const CREDENTIAL_ID = /^[A-Za-z0-9_-]{1,1400}$/;

/**
 * The credential the browser sent (a JSON string from the page's script);
 * InvalidInput when it is not one. The form gate saw one string: what its
 * JSON escapes hide (a NUL, a lone surrogate) is refused here, by shape,
 * before the id is looked up or anything of it is written.
 */
export function parseCredential<T>(raw: string | undefined): T & { id: string } {
  if (!raw) throw new InvalidInput('Your browser did not send a passkey. Try again, or use another way to sign in.', 'credential');
  try {
    const value = JSON.parse(raw) as { id?: unknown; rawId?: unknown; response?: unknown } | null;
    if (value && typeof value === 'object' && !Array.isArray(value) && typeof value.id === 'string' && CREDENTIAL_ID.test(value.id)
      && value.rawId === value.id && value.response && typeof value.response === 'object' && !Array.isArray(value.response)) {
      return value as T & { id: string };
    }
  } catch { /* refused below */ }
  throw new InvalidInput('Your browser sent something that is not a passkey. Try again.', 'credential');
}

/**
 * Whether the browser says the ceremony ran in a frame on another site
 * (clientDataJSON's `crossOrigin`). pharmid's pages are never framed
 * (frame-ancestors 'none'), so such an answer was not made on them: the
 * library checks `topOrigin` only when it is sent, and not at all for a
 * registration, so it is refused here for both.
 */
export function madeInAFrame(response: { response: unknown }): boolean {
  const data = (response.response as { clientDataJSON?: unknown }).clientDataJSON;
  if (typeof data !== 'string') return false;
  try {
    return (JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as { crossOrigin?: unknown }).crossOrigin === true;
  } catch {
    return false; // not JSON: the library refuses it
  }
}
