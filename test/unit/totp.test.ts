import { Secret, TOTP } from 'otpauth';
import { groupKey, matchStep, newTotpSecret, totpFor } from '../../src/domain/factors/totp.js';

const settings = { issuer: 'pharmid', digits: 6, period: 30, window: 1 };
/** RFC 6238 appendix B: the SHA-1 seed is the ASCII string "12345678901234567890". */
const RFC_SECRET = Secret.fromLatin1('12345678901234567890').base32;

describe('groupKey', () => {
  test('groups Base32 in fours and drops padding', () => {
    expect(groupKey('JBSWY3DPEHPK3PXP')).toBe('JBSW Y3DP EHPK 3PXP');
    expect(groupKey('JBSWY3DPEHPK3PX=')).toBe('JBSW Y3DP EHPK 3PX');
    expect(groupKey('ABCDEF')).toBe('ABCD EF');
    expect(groupKey('')).toBe('');
  });

  test('a grouped key read back without spaces is the secret', () => {
    const secret = newTotpSecret();
    expect(groupKey(secret).replace(/ /g, '')).toBe(secret.replace(/=+$/, ''));
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
  });
});

describe('RFC 6238 SHA-1 test vectors', () => {
  const vectors: [number, string][] = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];

  test.each(vectors)('at %i s the 8-digit code is %s and matches its own step', (seconds, code) => {
    const totp = totpFor(RFC_SECRET, 'a@example.nhs.uk', { ...settings, digits: 8 });
    expect(totp.generate({ timestamp: seconds * 1000 })).toBe(code);
    expect(matchStep(totp, code, seconds * 1000, 0)).toBe(Math.floor(seconds / 30));
  });

  test.each(vectors)('at %i s the 6-digit code is the last six digits of %s', (seconds, code) => {
    const totp = totpFor(RFC_SECRET, 'a@example.nhs.uk', settings);
    expect(matchStep(totp, code.slice(-6), seconds * 1000, 1)).toBe(Math.floor(seconds / 30));
    expect(matchStep(totp, code.slice(0, 6), seconds * 1000, 1)).toBeUndefined();
  });
});

describe('matchStep', () => {
  const secret = newTotpSecret();
  const totp = totpFor(secret, 'sam@example.nhs.uk', settings);
  const now = 1_700_000_015_000; // in the middle of a step
  const step = Math.floor(now / 30_000);
  const codeAt = (s: number) => totp.generate({ timestamp: s * 30_000 });

  test('uses SHA-1, 6 digits, 30 s and labels with issuer and email', () => {
    expect(totp.algorithm).toBe('SHA1');
    expect(totp.digits).toBe(6);
    expect(totp.period).toBe(30);
    expect(totp.toString()).toMatch(/^otpauth:\/\/totp\/pharmid:sam%40example\.nhs\.uk\?/);
    expect(totp.toString()).toContain('issuer=pharmid');
  });

  test('accepts the current step and one step either side, naming the step', () => {
    expect(matchStep(totp, codeAt(step), now, 1)).toBe(step);
    expect(matchStep(totp, codeAt(step - 1), now, 1)).toBe(step - 1);
    expect(matchStep(totp, codeAt(step + 1), now, 1)).toBe(step + 1);
  });

  test('rejects codes two steps away', () => {
    expect(matchStep(totp, codeAt(step - 2), now, 1)).toBeUndefined();
    expect(matchStep(totp, codeAt(step + 2), now, 1)).toBeUndefined();
  });

  test('accepts spaces inside the code', () => {
    const c = codeAt(step);
    expect(matchStep(totp, `${c.slice(0, 3)} ${c.slice(3)}`, now, 1)).toBe(step);
  });

  test('rejects non-digits and wrong lengths', () => {
    const c = codeAt(step);
    expect(matchStep(totp, `${c.slice(0, 5)}a`, now, 1)).toBeUndefined();
    expect(matchStep(totp, c.slice(0, 5), now, 1)).toBeUndefined();
    expect(matchStep(totp, `${c}0`, now, 1)).toBeUndefined();
    expect(matchStep(totp, '', now, 1)).toBeUndefined();
    expect(matchStep(totp, `-${c.slice(1)}`, now, 1)).toBeUndefined();
    expect(matchStep(totp, `${c.slice(0, 5)}\u0661`, now, 1)).toBeUndefined(); // Arabic-Indic digit one
  });

  test('a code from another secret is rejected', () => {
    const other = new TOTP({ secret: new Secret({ size: 20 }), digits: 6, period: 30, algorithm: 'SHA1' });
    const code = other.generate({ timestamp: now });
    // One in a million they collide; accept that rather than flake on it.
    if (code !== codeAt(step) && code !== codeAt(step - 1) && code !== codeAt(step + 1)) {
      expect(matchStep(totp, code, now, 1)).toBeUndefined();
    }
  });
});
