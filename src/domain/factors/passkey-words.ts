/**
 * Passkey events told as sentences on the audit page, in the shape of the
 * audit trail's phrase table (what was done, in the past tense; what was
 * tried, for a refusal or a failure): "Priya Shah added the passkey or
 * security key "Blue key" to their account". The trail's own table takes
 * these in beside its others; the events' details carry what the sentence
 * needs (the key's name, whether the person was verified on it, the keys a
 * reset removed).
 */

/** What a phrase reads of an event: its details (the rest comes from the trail). */
interface Facts { details: Record<string, unknown> }
type Phrase = (f: Facts, whose: string, whom: string) => [done: string, tried: string];

const KEY = 'a passkey or security key';
const named = (v: unknown) => (typeof v === 'string' && v ? `"${v}"` : undefined);
const names = (v: unknown) => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string' && n !== '').map((n) => `"${n}"`) : []);

export const PASSKEY_PHRASES: Record<string, Phrase> = {
  'passkey.add': (f, whose) => {
    const name = named(f.details.name);
    return [`added ${name ? `the passkey or security key ${name}` : KEY} to ${whose} account`, `add ${KEY} to ${whose} account`];
  },
  'passkey.use': (f) => [
    `used ${KEY}${f.details.user_verified === true ? ', with its PIN, fingerprint or face check' : ''}`,
    `use ${KEY}`,
  ],
  'passkey.rename': (f, whose) => {
    const name = named(f.details.name);
    return [`renamed one of ${whose} passkeys or security keys${name ? ` to ${name}` : ''}`, `rename one of ${whose} passkeys or security keys`];
  },
  'passkey.remove': (f, whose) => {
    const name = named(f.details.name);
    return [`removed ${name ? `the passkey or security key ${name}` : KEY} from ${whose} account`, `remove ${KEY} from ${whose} account`];
  },
  // A reset of two-step sign-in removes the keys too: the sentence names them, so the trail says which stopped working.
  'user.reset-mfa': (f, whose) => {
    const keys = names(f.details.passkeys_removed);
    const removed = keys.length ? `, and removed ${keys.length === 1 ? 'the passkey or security key' : 'the passkeys and security keys'} ${keys.join(', ')}` : '';
    return [`reset ${whose} authenticator${removed}`, `reset ${whose} authenticator`];
  },
};

/** The audit page's filter for these events (a prefix, as the trail's other kinds). */
export const PASSKEY_ACTIONS = [{ value: 'passkey.', label: 'Passkeys and security keys added, used or removed' }] as const;
