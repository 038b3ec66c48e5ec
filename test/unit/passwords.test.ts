import { checkNewPassword, PASSWORD_MAX, PASSWORD_MIN, PasswordHasher } from '../../src/domain/passwords.js';
import { Busy, InvalidInput } from '../../src/domain/errors.js';

const email = 'sam.patel@example.nhs.uk';

describe('checkNewPassword', () => {
  test('the limits are 8 and 256', () => {
    expect(PASSWORD_MIN).toBe(8);
    expect(PASSWORD_MAX).toBe(256);
  });

  test('8 and 256 characters are accepted; 7 and 257 are not', () => {
    const word = 'qzvkwpxm'; // eight characters no list of common passwords holds
    expect(() => checkNewPassword(word, email)).not.toThrow();
    expect(() => checkNewPassword(word.repeat(32), email)).not.toThrow();
    expect(() => checkNewPassword(word.slice(0, 7), email)).toThrow(/at least 8/);
    expect(() => checkNewPassword(`${word.repeat(32)}q`, email)).toThrow(/256 characters or fewer/);
  });

  test('common passwords are refused, whatever their length', () => {
    for (const common of ['password', '12345678', 'iloveyou', 'qwertyuiop']) {
      expect(() => checkNewPassword(common, email)).toThrow(/most common/);
    }
  });

  test('control characters are refused', () => {
    expect(() => checkNewPassword('plum orchard\nriver', email)).toThrow(/control characters/);
    expect(() => checkNewPassword('plum\u0000orchard', email)).toThrow(/control characters/);
  });

  test('length counts characters, not UTF-16 units', () => {
    // Eight emoji are 16 UTF-16 units but eight characters.
    expect(() => checkNewPassword('🍑'.repeat(7), email)).toThrow(/at least 8/);
    expect(() => checkNewPassword('🍑'.repeat(8), email)).not.toThrow();
    expect(() => checkNewPassword('🍑'.repeat(256), email)).not.toThrow();
  });

  test('no composition rules: a lower-case passphrase is fine', () => {
    expect(() => checkNewPassword('plum orchard river', email)).not.toThrow();
  });

  test('a password containing the email local part, in any case, is refused', () => {
    expect(() => checkNewPassword('my-SAM.PATEL-password', email)).toThrow(/email name/);
    expect(() => checkNewPassword('sam.patel', email)).toThrow(InvalidInput);
  });

  test('a very short local part does not forbid passwords that happen to contain it', () => {
    expect(() => checkNewPassword('jolly good orchard', 'jo@example.nhs.uk')).not.toThrow();
  });

  test('the error names the new_password field', () => {
    try {
      checkNewPassword('short', email);
      throw new Error('expected a refusal');
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidInput);
      expect((e as InvalidInput).field).toBe('new_password');
    }
  });
});

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher({ memoryKiB: 8_192, timeCost: 1, parallelism: 1, maxConcurrent: 1, maxQueue: 100, perAddress: 100 });

  test('hashes with argon2id and verifies only the right password', async () => {
    const hash = await hasher.hash('plum orchard river', undefined);
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(await hasher.verify(hash, 'plum orchard river', undefined)).toBe(true);
    expect(await hasher.verify(hash, 'plum orchard rivet', undefined)).toBe(false);
    expect(await hasher.verify('not a hash', 'x', undefined)).toBe(false);
    expect(await hasher.verifyNothing('x', undefined)).toBe(false);
  });

  test('runs at most maxConcurrent hashes at once; the rest queue', async () => {
    const work = [hasher.hash('a'.repeat(8), undefined), hasher.hash('b'.repeat(8), undefined), hasher.hash('c'.repeat(8), undefined)];
    expect(hasher.queueDepth).toBe(2);
    await Promise.all(work);
    expect(hasher.queueDepth).toBe(0);
  });

  test('a full line refuses at once (Busy, 503 with Retry-After), and frees its places after', async () => {
    const small = new PasswordHasher({ memoryKiB: 8_192, timeCost: 1, parallelism: 1, maxConcurrent: 1, maxQueue: 2, perAddress: 100 });
    const settled: string[] = [];
    const admitted = [1, 2, 3].map((i) => small.hash(`password ${i}`, undefined).then((h) => { settled.push(`hash ${i}`); return h; }));
    const refused = await small.hash('one too many', undefined).catch((e: unknown) => e);
    // At once: refused before any of the hashes ahead of it has finished, not after waiting in line.
    expect(settled).toEqual([]);
    expect(refused).toBeInstanceOf(Busy);
    expect((refused as Busy).status).toBe(503);
    expect((refused as Busy).retryAfterSeconds).toBeGreaterThan(0);
    await Promise.all(admitted);
    await expect(small.hash('room again', undefined)).resolves.toMatch(/^\$argon2id\$/);
  });

  test('one address holds at most perAddress places; another address still gets in', async () => {
    const shared = new PasswordHasher({ memoryKiB: 8_192, timeCost: 1, parallelism: 1, maxConcurrent: 1, maxQueue: 100, perAddress: 2 });
    const flood = Array.from({ length: 10 }, (_, i) => shared.hash(`flood ${i}`, '203.0.113.9').then(() => 'hashed', (e: unknown) => (e instanceof Busy ? 'busy' : 'other')));
    const other = shared.hash('someone else', '198.51.100.7');
    const outcomes = await Promise.all(flood);
    expect(outcomes.filter((o) => o === 'hashed')).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'busy')).toHaveLength(8);
    await expect(other).resolves.toMatch(/^\$argon2id\$/);
    await expect(shared.hash('later', '203.0.113.9')).resolves.toMatch(/^\$argon2id\$/);
  });

  test('an address holds its places whatever its spelling, and an IPv6 host holds those of its /64', async () => {
    const shared = new PasswordHasher({ memoryKiB: 8_192, timeCost: 1, parallelism: 1, maxConcurrent: 1, maxQueue: 100, perAddress: 2 });
    const from = ['203.0.113.9', '::ffff:203.0.113.9', '203.0.113.9:40001', '2001:db8:1:2::1', '2001:db8:1:2::2', '[2001:db8:1:2::3]:443'];
    const outcomes = await Promise.all(from.map((a) => shared.hash(`from ${a}`, a).then(() => 'hashed', (e: unknown) => (e instanceof Busy ? 'busy' : 'other'))));
    // Two places for 203.0.113.9 and two for 2001:db8:1:2::/64; the third spelling of each is refused.
    expect(outcomes).toEqual(['hashed', 'hashed', 'busy', 'hashed', 'hashed', 'busy']);
  });

  test('needsRehash when the parameters changed', async () => {
    const hash = await hasher.hash('plum orchard river', undefined);
    expect(hasher.needsRehash(hash)).toBe(false);
    const stronger = new PasswordHasher({ memoryKiB: 16_384, timeCost: 2, parallelism: 1, maxConcurrent: 1, maxQueue: 100, perAddress: 100 });
    expect(stronger.needsRehash(hash)).toBe(true);
  });
});
