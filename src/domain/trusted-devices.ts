import { createHash, randomBytes } from 'node:crypto';

/**
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
 * Cookies"). A browser in which a person signed in is trusted for that
 * person's account: its tries are counted in a bucket of its own, so the
 * account-wide wait that strangers built up does not keep the person out of
 * their usual browser, and a browser that itself keeps failing waits alone.
 *
 * The cookie's value lists the accounts signed in from the browser (a shared
 * pharmacy computer serves several people), each with a device id and the
 * time it was issued. The HTTP layer signs it with the cookie keys, so it
 * cannot be made or altered; nothing in it is secret. Accounts are named by a
 * digest of their email key, not the email itself.
 */
export const DEVICE_TRUST_DAYS = 180;
const MAX_ACCOUNTS = 10;
const ENTRY = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{22})\.([0-9a-z]{1,10})$/;

interface Entry { tag: string; id: string; issued: number }

function tagOf(emailKey: string): string {
  return createHash('sha256').update(`pharmid device:${emailKey}`).digest('base64url').slice(0, 22);
}

function entriesOf(value: string | undefined, now: Date): Entry[] {
  const oldest = now.getTime() / 1000 - DEVICE_TRUST_DAYS * 86_400;
  const out: Entry[] = [];
  for (const part of (value ?? '').split('~').slice(0, MAX_ACCOUNTS)) {
    const m = ENTRY.exec(part);
    if (!m) continue;
    const issued = parseInt(m[3]!, 36);
    if (issued > oldest) out.push({ tag: m[1]!, id: m[2]!, issued });
  }
  return out;
}

/** The device id this (verified) cookie value holds for the account, if its browser signed in to it. */
export function deviceFor(value: string | undefined, emailKey: string | undefined, now: Date): string | undefined {
  if (!value || !emailKey) return undefined;
  const tag = tagOf(emailKey);
  return entriesOf(value, now).find((e) => e.tag === tag)?.id;
}

/**
 * The cookie value after a sign-in to the account: a new device id for it
 * (a fresh one at every sign-in), first in the list; the oldest accounts drop
 * off past ten.
 */
export function trustDevice(value: string | undefined, emailKey: string, now: Date): string {
  const tag = tagOf(emailKey);
  const fresh: Entry = { tag, id: randomBytes(16).toString('base64url'), issued: Math.floor(now.getTime() / 1000) };
  const kept = entriesOf(value, now).filter((e) => e.tag !== tag);
  return [fresh, ...kept].slice(0, MAX_ACCOUNTS).map((e) => `${e.tag}.${e.id}.${e.issued.toString(36)}`).join('~');
}
