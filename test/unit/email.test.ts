import { emailKey, normaliseEmail } from '../../src/domain/email.js';
import { InvalidInput } from '../../src/domain/errors.js';

describe('normaliseEmail', () => {
  test('trims, keeps the case as typed, and keys on lower case', () => {
    expect(normaliseEmail('  Sam.Patel@Example.NHS.uk \n')).toEqual({ email: 'Sam.Patel@Example.NHS.uk', key: 'sam.patel@example.nhs.uk' });
  });

  test('two spellings of one mailbox share a key', () => {
    expect(normaliseEmail('SAM@EXAMPLE.NHS.UK').key).toBe(normaliseEmail('sam@example.nhs.uk').key);
  });

  test('Unicode is normalised to NFC, so composed and decomposed forms are one address', () => {
    const decomposed = 'jose\u0301@example.nhs.uk';
    const composed = 'jos\u00e9@example.nhs.uk';
    expect(normaliseEmail(decomposed).email).toBe(composed);
    expect(normaliseEmail(decomposed).key).toBe(normaliseEmail(composed).key);
  });

  test.each([
    '', 'sam', 'sam@', '@example.nhs.uk', 'sam@example', 'sam patel@example.nhs.uk',
    'sam@@example.nhs.uk', '<sam@example.nhs.uk>', 'sam@example.nhs.uk, jo@example.nhs.uk',
    `${'a'.repeat(250)}@example.nhs.uk`,
  ])('%j is refused as invalid input naming the email field', (input) => {
    expect(() => normaliseEmail(input)).toThrow(InvalidInput);
    try {
      normaliseEmail(input);
    } catch (e) {
      expect((e as InvalidInput).field).toBe('email');
      expect((e as InvalidInput).status).toBe(400);
    }
  });
});

describe('emailKey', () => {
  test('the key, or undefined for what cannot be an address', () => {
    expect(emailKey(' Sam@Example.NHS.uk')).toBe('sam@example.nhs.uk');
    expect(emailKey('not an email')).toBeUndefined();
  });
});
