import { withTransaction, type Db } from '../../db/pool.js';
import * as passkeys from '../../db/queries/passkeys.js';
import * as totpCredentials from '../../db/queries/totp-credentials.js';
import * as users from '../../db/queries/users.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { isPlainText } from '../text.js';
import { audit, type Actor } from '../audit.js';
import { tellPerson } from '../person-notices.js';
import type { Deps } from '../deps.js';

/**
 * A person's passkeys and security keys (WebAuthn credentials): what they
 * have, naming and removing them, and the rule that the last factor is never
 * removed by the person. Making and proving a key are the ceremonies
 * (passkey-ceremonies.ts); challenges and the relying party are in
 * passkey-challenges.ts. A credential belongs to one person (its id is
 * unique across everyone).
 */

/** What one passkey looks like to the person (and to an administrator). */
export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  /** Synced between devices (a phone or password manager's passkey): software-held. */
  synced: boolean;
}

export const toSummary = (row: passkeys.PasskeyRow): PasskeySummary => ({
  id: row.id, name: row.name, createdAt: row.created_at, lastUsedAt: row.last_used_at, synced: row.device_type === 'multiDevice',
});

export async function listPasskeys(deps: Pick<Deps, 'db'>, userId: string): Promise<PasskeySummary[]> {
  return (await passkeys.listPasskeys(deps.db, userId)).map(toSummary);
}

export async function hasPasskey(deps: Pick<Deps, 'db'>, userId: string): Promise<boolean> {
  return (await passkeys.countPasskeys(deps.db, userId)) > 0;
}

/**
 * The most keys one person keeps: enough for a phone, a computer and spare
 * security keys; past it, every key would be listed at each sign-in and a
 * script with one key could fill the table.
 */
export const MAX_PASSKEYS = 10;

export const tooManyPasskeys = () => new Conflict(
  `You have ${MAX_PASSKEYS} passkeys and security keys, the most pharmid keeps. Remove one you no longer use, then add the new one.`, 'credential');

/** A name the person gives a key: plain text, 1 to 60 characters. */
export function checkPasskeyName(input: string | undefined): string {
  const name = (input ?? '').trim().replace(/\s+/g, ' ');
  if (!name) throw new InvalidInput('Give this key a name, like "Blue key" or "Dispensary PC"', 'name');
  if (!isPlainText(name, 60)) throw new InvalidInput('The name must be 60 characters or fewer, letters, numbers and punctuation only', 'name');
  return name;
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
  return toSummary(removed);
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
