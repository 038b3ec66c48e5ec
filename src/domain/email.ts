import { InvalidInput } from './errors.js';

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/u;

/**
 * The email as stored (trimmed, Unicode NFC) and its key: the form two
 * addresses share when they name the same mailbox for pharmid (lower-case).
 */
export function normaliseEmail(input: string): { email: string; key: string } {
  const email = input.normalize('NFC').trim();
  if (email.length > 254 || !EMAIL.test(email)) throw new InvalidInput('Enter an email address in the correct format, like name@example.nhs.uk', 'email');
  return { email, key: email.toLowerCase() };
}

/** The key for looking an email up, or undefined when it cannot be an address. */
export function emailKey(input: string): string | undefined {
  try {
    return normaliseEmail(input).key;
  } catch {
    return undefined;
  }
}
