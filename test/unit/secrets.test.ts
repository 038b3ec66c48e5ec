import { randomBytes } from 'node:crypto';
import { constantTimeEqual, createSealer, hashCode, keyIdOf, normaliseCode, randomCode } from '../../src/domain/secrets.js';

const key = randomBytes(32);
const sealer = createSealer(key);

describe('seal and open', () => {
  test('a sealed secret opens to the same text, and is not the text', () => {
    const secret = 'JBSWY3DPEHPK3PXP and ünïcödé';
    const envelope = sealer.seal(secret);
    expect(envelope).not.toContain('JBSWY3DPEHPK3PXP');
    expect(envelope.split('.')).toHaveLength(5);
    expect(envelope.startsWith(`v1.${keyIdOf(key)}.`)).toBe(true);
    expect(sealer.open(envelope)).toBe(secret);
  });

  test('sealing twice gives two different envelopes (fresh IV)', () => {
    expect(sealer.seal('same')).not.toBe(sealer.seal('same'));
  });

  test('an empty secret round-trips', () => {
    expect(sealer.open(sealer.seal(''))).toBe('');
  });

  test('a tampered ciphertext, tag or IV is detected', () => {
    const envelope = sealer.seal('a secret worth keeping');
    const parts = envelope.split('.');
    for (const i of [2, 3, 4]) {
      const bytes = Buffer.from(parts[i]!, 'base64url');
      bytes[0] = bytes[0]! ^ 0x01;
      const tampered = [...parts];
      tampered[i] = bytes.toString('base64url');
      expect(() => sealer.open(tampered.join('.'))).toThrow();
    }
  });

  test('a changed key id is refused (it is bound into the authenticated data)', () => {
    const parts = sealer.seal('x').split('.');
    parts[1] = 'abcdefabcdef';
    expect(() => sealer.open(parts.join('.'))).toThrow(/abcdefabcdef/);
  });

  test('an envelope sealed with another key is refused', () => {
    const other = createSealer(randomBytes(32));
    expect(() => other.open(sealer.seal('x'))).toThrow(/sealed with key/);
  });

  test('garbage is not a sealed secret', () => {
    expect(() => sealer.open('not-an-envelope')).toThrow(/not a sealed secret/);
    expect(() => sealer.open('v2.a.b.c.d')).toThrow(/not a sealed secret/);
  });

  test('a key that is not 32 bytes is refused', () => {
    expect(() => createSealer(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('codes', () => {
  test('randomCode has the asked length and only unambiguous characters', () => {
    const codes = Array.from({ length: 200 }, () => randomCode(10));
    for (const c of codes) expect(c).toMatch(/^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{10}$/);
    expect(randomCode(1)).toHaveLength(1);
    expect(randomCode(37)).toHaveLength(37);
    const all = codes.join('');
    for (const lookAlike of ['0', 'O', '1', 'I', 'L']) expect(all).not.toContain(lookAlike);
    expect(new Set(codes).size).toBe(codes.length);
    // Every character of the alphabet turns up in 2,000 draws (no truncated alphabet).
    expect(new Set(all).size).toBe(31);
  });

  test('normaliseCode upper-cases and drops spaces and dashes', () => {
    expect(normaliseCode('abcde-fghjk')).toBe('ABCDEFGHJK');
    expect(normaliseCode('  ab cd\tef -- gh ')).toBe('ABCDEFGH');
    // Full-width characters, as some phone keyboards type them, fold to ASCII.
    expect(normaliseCode('ＡＢＣ１２')).toBe('ABC12');
  });

  test('hashCode is stable, differs per code, and is not the code', () => {
    expect(hashCode('ABCDEFGHJK')).toBe(hashCode('ABCDEFGHJK'));
    expect(hashCode('ABCDEFGHJK')).not.toBe(hashCode('ABCDEFGHJM'));
    expect(hashCode('ABCDEFGHJK')).not.toContain('ABCDEFGHJK');
  });

  test('constantTimeEqual compares whole strings', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});
