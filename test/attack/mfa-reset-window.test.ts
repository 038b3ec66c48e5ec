import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator, expectPage } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { afterPasswordStep, enrolmentOf, stepOf, totpCode, driveSignIn } from '../helpers/sign-in.js';
import { resetMfa } from '../../src/domain/users.js';
import { hasAuthenticator } from '../../src/domain/factors/authenticators.js';

/**
 * Attack: someone who holds a person's password but NOT the MFA-reset code
 * (the very thief the code is there to stop) enrols their own authenticator.
 * The reset-code step is decided from "is there still an MFA-reset code?",
 * and the code is consumed before the new authenticator is confirmed: once
 * the person has typed the code, the account has neither an authenticator nor
 * a code, and the password alone leads to enrolment.
 */
let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
});
afterAll(() => p.stop());

/** Opens a sign-in and answers the password page; returns the browser and the page after it. */
async function passwordOnly(email: string, password: string) {
  const { browser, res } = await afterPasswordStep(p.url, portal, { email, password });
  return { browser, res };
}

test('the person typed the MFA-reset code and stopped before enrolling: the password alone does not then lead to enrolment', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { activationCode } = await resetMfa(p.deps, cli, victim.email);
  // The person signs in, gives their code, sees the enrolment page ... and closes the tab.
  const mine = await passwordOnly(victim.email, victim.password);
  expectPage(mine.res, 'reset-code');
  const enrolPage = await mine.browser.submit(formAction(mine.res.text, '/interaction/')!, { activation_code: activationCode });
  expectPage(enrolPage, 'enrol');
  // The thief has the password only.
  const thief = await passwordOnly(victim.email, victim.password);
  expect(stepOf(thief.res.text)).not.toBe('enrol');
});

test('a thief who got to the enrolment page in that window cannot replace the authenticator the person then set up', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { activationCode } = await resetMfa(p.deps, cli, victim.email);
  const mine = await passwordOnly(victim.email, victim.password);
  const enrolPage = await mine.browser.submit(formAction(mine.res.text, '/interaction/')!, { activation_code: activationCode });
  expectPage(enrolPage, 'enrol');
  const thief = await passwordOnly(victim.email, victim.password);
  // The person finishes enrolling.
  const theirs = enrolmentOf(enrolPage.text).secret.replace(/\s+/g, '');
  const done = await mine.browser.submit(formAction(enrolPage.text, '/interaction/')!, { code: totpCode(theirs, p.clock.now()) });
  expect(done.status).toBeLessThan(400);
  expect(await hasAuthenticator(p.deps, victim.id)).toBe(true);
  if (stepOf(thief.res.text) !== 'enrol') return; // the first protection held
  // The thief, still on an enrolment page shown before, confirms an authenticator of their own.
  // Its pending secret was swept away by the person's confirmation; reloading the page draws a new one.
  p.clock.advance(60);
  const again = await thief.browser.open(`/interaction/${formAction(thief.res.text, '/interaction/')!.split('/')[2]}`);
  const stolen = enrolmentOf(again.text).secret.replace(/\s+/g, '');
  const after = await thief.browser.submit(formAction(again.text, '/interaction/')!, { code: totpCode(stolen, p.clock.now()) });
  // The person's own authenticator must still be the one that works.
  const person = { ...victim, totpSecret: theirs };
  const check = new Browser(p.url);
  const { callback } = await driveSignIn(check, (await portal.authorizationRequest()).url, person, p.clock).catch((e: Error) => ({ callback: `failed: ${e.message}` }));
  expect(callback).toMatch(/code=/);
  expect(stepOf(after.text)).not.toBe('recovery-codes');
});
