import { actorWords, describeEvent, type EventFacts } from '../../src/domain/admin/audit-words.js';

const base: EventFacts = { action: 'user.reset-mfa', outcome: 'success', actor: 'Sam Taylor', target: 'Priya Shah', self: false, details: {} };

test('acts on people read as sentences with names', () => {
  expect(describeEvent(base)).toBe("Sam Taylor reset Priya Shah's authenticator");
  expect(describeEvent({ ...base, action: 'user.role', site: 'High Street Pharmacy', details: { from: 'member', to: 'site-admin' } }))
    .toBe("Sam Taylor changed Priya Shah's role at High Street Pharmacy to site administrator");
  expect(describeEvent({ ...base, action: 'sign-in', actor: 'Priya Shah', self: true, portal: 'PharmRefer' })).toBe('Priya Shah signed in to PharmRefer');
  expect(describeEvent({ ...base, action: 'account.change-password', actor: 'Priya Shah', self: true })).toBe('Priya Shah changed their password');
  expect(describeEvent({ ...base, action: 'lock.otp', actor: 'pharmid', details: { failures: 5, seconds: 900 } }))
    .toBe("Priya Shah's account was locked for 15 minutes after 5 wrong codes");
});

test('a refusal says what was tried and why; an action not yet known is words, never its code or details', () => {
  expect(describeEvent({ ...base, outcome: 'denied', details: { reason: 'Priya Shah also works at a site you do not administer.' } }))
    .toBe("Sam Taylor tried to reset Priya Shah's authenticator and was refused: Priya Shah also works at a site you do not administer");
  const unknown = describeEvent({ ...base, action: 'user.merge-accounts', details: { from: 'a@b', to: 'c@d' } });
  expect(unknown).toBe('Sam Taylor did this: merge accounts for Priya Shah');
  expect(unknown).not.toMatch(/user\.|[{}]/);
});

test('activation codes and corrected details', () => {
  expect(describeEvent({ ...base, action: 'user.activation-code', details: { code_to: 'person' } })).toBe('Sam Taylor sent Priya Shah a new activation code by email');
  expect(describeEvent({ ...base, action: 'user.activation-code', details: { code_to: 'caller' } })).toBe('Sam Taylor made a new activation code for Priya Shah');
  expect(describeEvent({ ...base, action: 'user.edit', details: { changed: ['email'] } })).toBe("Sam Taylor changed Priya Shah's email address");
});

test('who acted, by name', () => {
  expect(actorWords('user:1', { person: 'Sam Taylor' })).toBe('Sam Taylor');
  expect(actorWords('client:x', { portal: 'PharmRefer' })).toBe('PharmRefer');
  expect(actorWords('cli', {})).toBe('An operator (command line)');
  expect(actorWords('anonymous', {})).toBe('pharmid');
});

test('passkey events and a reset that removed keys read as sentences on the trail', () => {
  expect(describeEvent({ ...base, action: 'passkey.add', actor: 'Priya Shah', self: true, details: { name: 'Blue key' } }))
    .toBe('Priya Shah added the passkey or security key "Blue key" to their account');
  expect(describeEvent({ ...base, details: { passkeys_removed: ['Blue key'] } }))
    .toBe('Sam Taylor reset Priya Shah\'s authenticator, and removed the passkey or security key "Blue key"');
});
