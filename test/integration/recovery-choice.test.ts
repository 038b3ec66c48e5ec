import { usePharmidWithPortal } from '../helpers/setup.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makePerson } from '../helpers/factories.js';
import { textOf, withAuthenticator } from '../helpers/pages.js';
import { driveSignIn } from '../helpers/sign-in.js';
import { useRecoveryCode } from '../../src/domain/factors/recovery-codes.js';

/**
 * A recovery code stands in for the authenticator once; it does not, by
 * itself, replace it. The recovery page says what happens next before the
 * code is spent; afterwards the person chooses: carry on (the phone is at
 * home) or set up a new authenticator now. The codes left are shown, with a
 * warning at two or fewer.
 */
const t = usePharmidWithPortal();

async function toRecoveryPage(email: string, password: string) {
  const browser = new Browser(t.pharmid.url);
  const first = await browser.open((await t.portal.authorizationRequest()).url);
  const otpPage = await browser.submit(formAction(first.text, '/interaction/')!, { email, password });
  const recovery = await browser.open(formAction(otpPage.text, '/interaction/')!.replace(/otp$/, 'recovery'));
  return { browser, recovery };
}

test('the recovery page says, before a code is spent, what comes next and how many codes are left', async () => {
  const { pharmid: p } = t;
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { recovery } = await toRecoveryPage(person.email, person.password);
  const text = textOf(recovery.text);
  expect(text).toContain('After the code, you choose: carry on with your authenticator app as it is');
  expect(text).toContain('You have 10 left.');
});

test('after a recovery code, "carry on" reaches the portal and leaves the authenticator as it was', async () => {
  const { pharmid: p } = t;
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const result = await driveSignIn(new Browser(p.url), (await t.portal.authorizationRequest()).url, person, p.clock, { useRecoveryCode: true, afterRecovery: 'carry-on' });
  expect(result.steps).toEqual(['password', 'otp', 'recovery', 'after-recovery']);
  expect(result.callback).toContain('code=');
  // The same app still signs in.
  p.clock.advance(30);
  const again = await driveSignIn(new Browser(p.url), (await t.portal.authorizationRequest()).url, person, p.clock);
  expect(again.steps).toEqual(['password', 'otp']);
  expect(again.callback).toContain('code=');
});

test('after a recovery code, "set up a new authenticator now" enrols one that replaces the old', async () => {
  const { pharmid: p } = t;
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const oldSecret = person.totpSecret;
  const result = await driveSignIn(new Browser(p.url), (await t.portal.authorizationRequest()).url, person, p.clock, { useRecoveryCode: true, afterRecovery: 'new-authenticator' });
  expect(result.steps).toEqual(['password', 'otp', 'recovery', 'after-recovery', 'enrol', 'recovery-codes']);
  expect(person.totpSecret).not.toBe(oldSecret);
});

test('the choice page shows the codes left, and warns at two or fewer', async () => {
  const { pharmid: p } = t;
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { browser, recovery } = await toRecoveryPage(person.email, person.password);
  const choice = await browser.submit(formAction(recovery.text, '/interaction/')!, { recovery_code: person.recoveryCodes.shift()! });
  expect(textOf(choice.text)).toContain('You have 9 recovery codes left.');
  expect(choice.text).not.toContain('id="few-codes-left"');

  for (const code of person.recoveryCodes.splice(0, 6)) expect(await useRecoveryCode(p.deps, person.id, code, '192.0.2.7')).toBe(true);
  const second = await toRecoveryPage(person.email, person.password);
  const few = await second.browser.submit(formAction(second.recovery.text, '/interaction/')!, { recovery_code: person.recoveryCodes.shift()! });
  expect(textOf(few.text)).toContain('You have 2 recovery codes left.');
  expect(few.text).toContain('id="few-codes-left"');
  // Nothing chosen is not a choice.
  const none = await second.browser.submit(formAction(few.text, '/interaction/')!, {});
  expect(none.status).toBe(400);
});
