import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Secrets at rest (TOTP secrets, signing keys, client secrets) are sealed with
 * AES-256-GCM. Each envelope names the key that sealed it, so a key change can
 * be rolled out record by record.
 *
 *   v1.<key id>.<iv>.<auth tag>.<ciphertext>   (base64url parts)
 */
export interface Sealer {
  readonly keyId: string;
  seal(plaintext: string): string;
  open(envelope: string): string;
}

export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

export function createSealer(key: Buffer): Sealer {
  if (key.length !== 32) throw new Error('the secret key must be 32 bytes');
  const keyId = keyIdOf(key);
  return {
    keyId,
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(keyId));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(envelope) {
      const [version, kid, iv, tag, ct] = envelope.split('.');
      if (version !== 'v1' || !iv || !tag || ct === undefined) throw new Error('not a sealed secret');
      if (kid !== keyId) throw new Error(`sealed with key ${kid}, not the configured key ${keyId}`);
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(keyId));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/** Hash of a high-entropy, single-use code (activation and recovery codes). */
export function hashCode(code: string): string {
  return createHash('sha256').update(code).digest('base64url');
}

export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A code from an alphabet without look-alike characters (no 0/O, 1/I/L). */
export function randomCode(length: number): string {
  const alphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
  let out = '';
  while (out.length < length) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** Upper-case, without spaces or dashes: how people may type a code back. */
export function normaliseCode(input: string): string {
  return input.normalize('NFKC').toUpperCase().replace(/[\s-]+/g, '');
}
