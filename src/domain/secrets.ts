import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * Secrets at rest (TOTP secrets, signing keys, client secrets) are sealed with
 * AES-256-GCM. Each envelope names the key that sealed it, so a key change can
 * be rolled out record by record.
 *
 *   v1.<key id>.<iv>.<auth tag>.<ciphertext>   (base64url parts)
 */
export interface Sealer {
  /** The id of the key that seals. */
  readonly keyId: string;
  seal(plaintext: string): string;
  /** Opens an envelope sealed with the current key or any previous one. */
  open(envelope: string): string;
  /** True when the envelope was sealed with the current key. */
  isCurrent(envelope: string): boolean;
}

export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/**
 * A sealer for the current key; `previous` keys still open what they sealed,
 * so a new key can be rolled out (every process given both) before
 * `pharmid secrets rekey` re-seals the records.
 */
export function createSealer(key: Buffer, previous: Buffer[] = []): Sealer {
  for (const k of [key, ...previous]) if (k.length !== 32) throw new Error('a secret key must be 32 bytes');
  const keyId = keyIdOf(key);
  const keys = new Map([...previous, key].map((k) => [keyIdOf(k), k]));
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
      if (version !== 'v1' || !kid || !iv || !tag || ct === undefined) throw new Error('not a sealed secret');
      const k = keys.get(kid);
      if (!k) throw new Error(`sealed with key ${kid}, which is not configured (PHARMID_SECRET_KEY or PHARMID_PREVIOUS_SECRET_KEYS)`);
      const decipher = createDecipheriv('aes-256-gcm', k, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(kid));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
    isCurrent(envelope) {
      return envelope.startsWith(`v1.${keyId}.`);
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
