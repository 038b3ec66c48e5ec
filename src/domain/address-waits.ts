import { createHash } from 'node:crypto';
import type { FailureCounter } from '../store/counters.js';
import { addressKey, typedAddressKey } from './addresses.js';
import { InvalidInput, TooManyAttempts } from './errors.js';
import { audit, type Actor } from './audit.js';
import { listSignInAddresses } from '../db/queries/audit-events.js';
import type { Deps } from './deps.js';

/**
 * The wait an address is made to keep after too many wrong tries from it
 * (ADDRESS_MAX_FAILURES in ADDRESS_WINDOW), and how it is lifted before its
 * time.
 *
 * Many staff of a pharmacy share one network address (NAT), so a wrong
 * password typed by one of them counts for all: someone at the same address
 * can make everyone there wait. The person refused is told that it is their
 * network that waits (not their email), and which address it is, so that
 * their administrator can lift it: `pharmid user unlock --email E` (and the
 * console's and API's unlock) lifts the wait of an address a try for E was
 * refused from while it waited, but only when E has signed in from that
 * address before (OWN_NETWORK_DAYS): that a try named E proves nothing, since
 * anyone may type E's email, and an administrator waiting at their own
 * address could otherwise lift it by typing the email of someone they may
 * unlock. `pharmid address unlock --ip A` lifts one address's wait, whoever
 * was refused.
 */

/** The per-address count of wrong tries (and tries being checked), keyed by the counted unit, never the raw spelling. */
export function addressTries(deps: Deps): FailureCounter {
  const counter = deps.counters.failures('address', deps.settings.throttle.addressWindow);
  return {
    add: (ip) => counter.add(addressKey(ip)),
    takeBack: (ip) => counter.takeBack(addressKey(ip)),
    clear: (ip) => counter.clear(addressKey(ip)),
  };
}

/** The addresses tries for an account were refused from while they waited (the account as counted: email key or user id). */
const refusedFromKey = (account: string) => `address-waits:refused:${createHash('sha256').update(account).digest('base64url')}`;

function minutes(seconds: number): string {
  const m = Math.ceil(seconds / 60);
  return m <= 1 ? 'a minute' : `${m} minutes`;
}

/**
 * The answer to a try refused because its address waits: says so, names the
 * address (as counted) for the administrator, and remembers it against the
 * account tried, so that unlocking that person lifts it.
 */
export async function addressWaits(deps: Deps, account: string, ip: string, seconds: number, field: string): Promise<TooManyAttempts> {
  const key = addressKey(ip);
  await deps.store.addToSet(refusedFromKey(account), key, deps.settings.throttle.addressWindow);
  return new TooManyAttempts(
    `Too many wrong tries from your network. Wait ${minutes(seconds)} and try again, or ask your site administrator to unlock your account: that lifts the wait on your network (${key}).`,
    field, seconds,
  );
}

/** The addresses tries for a person (their email key and user id) were refused from while the address waited, as counted. */
export async function addressesRefusedFor(deps: Deps, accounts: string[]): Promise<string[]> {
  const found = await Promise.all(accounts.map((a) => deps.store.members(refusedFromKey(a))));
  return [...new Set(found.flat())];
}

/** How far back a successful sign-in from an address makes it the person's own network. */
export const OWN_NETWORK_DAYS = 90;

/**
 * Lifts the waits of the addresses that tries for a person (their email key
 * and user id) were refused from AND that are the person's own network: they
 * signed in from there (to the end) within OWN_NETWORK_DAYS. Returns those
 * addresses. The other addresses refused for them are forgotten, not lifted.
 */
export async function liftWaitsRefusedFor(deps: Deps, userId: string, accounts: string[]): Promise<string[]> {
  const keys = accounts.map(refusedFromKey);
  const own = new Set((await listSignInAddresses(deps.db, userId, OWN_NETWORK_DAYS)).map(addressKey));
  const refused = [...new Set((await Promise.all(keys.map((k) => deps.store.members(k)))).flat())];
  const addresses = refused.filter((a) => own.has(a));
  const tries = addressTries(deps);
  await Promise.all(addresses.map((a) => tries.clear(a)));
  await deps.store.del(...keys);
  return addresses;
}

/** An operator lifts one address's wait (any spelling of it, or its /64 as pharmid shows it). Audited. */
export async function unlockAddress(deps: Deps, actor: Actor, typed: string): Promise<{ address: string }> {
  const address = typedAddressKey(typed);
  if (!address) throw new InvalidInput('Give an IPv4 or IPv6 address, like 203.0.113.5 or 2001:db8:1:2::/64', 'ip');
  await addressTries(deps).clear(address);
  await audit(deps.db, actor, { action: 'address.unlock', outcome: 'success', ip: address });
  return { address };
}
