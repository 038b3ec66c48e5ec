import { PASSKEY_PHRASES } from '../../src/domain/factors/passkey-words.js';

/** The audit page's sentences for passkey events (what the trail says in words, beside its codes). */
const say = (action: string, details: Record<string, unknown>, whose = "Priya Shah's") => PASSKEY_PHRASES[action]!({ details }, whose, 'Priya Shah');

test('adding, using, renaming and removing a passkey read in plain words, naming the key', () => {
  expect(say('passkey.add', { name: 'Blue key', synced: false }, 'their')[0]).toBe('added the passkey or security key "Blue key" to their account');
  expect(say('passkey.use', { passkey: 'id', user_verified: true })[0]).toBe('used a passkey or security key, with its PIN, fingerprint or face check');
  expect(say('passkey.use', { passkey: 'id', user_verified: false })[0]).toBe('used a passkey or security key');
  expect(say('passkey.rename', { name: 'Till 2' }, 'their')[0]).toBe('renamed one of their passkeys or security keys to "Till 2"');
  expect(say('passkey.remove', { name: 'Blue key' })[0]).toBe('removed the passkey or security key "Blue key" from Priya Shah\'s account');
  expect(say('passkey.add', {})[1]).toBe("add a passkey or security key to Priya Shah's account");
});

test('an MFA reset names the keys it removed, and reads as before when there were none', () => {
  expect(say('user.reset-mfa', { code_to: 'caller', passkeys_removed: ['Blue key', 'Dispensary PC'] })[0])
    .toBe('reset Priya Shah\'s authenticator, and removed the passkeys and security keys "Blue key", "Dispensary PC"');
  expect(say('user.reset-mfa', { code_to: 'caller', passkeys_removed: ['Blue key'] })[0]).toBe('reset Priya Shah\'s authenticator, and removed the passkey or security key "Blue key"');
  expect(say('user.reset-mfa', { code_to: 'caller' })[0]).toBe("reset Priya Shah's authenticator");
  // Details are data from the trail: anything that is not a list of names is ignored, never printed.
  expect(say('user.reset-mfa', { passkeys_removed: { evil: 1 } })[0]).toBe("reset Priya Shah's authenticator");
});
