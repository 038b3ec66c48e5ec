import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator, expectPage } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { afterPasswordStep, stepOf, totpCode } from '../helpers/sign-in.js';
import { resetPassword, disableUser } from '../../src/domain/users.js';
import { consoleBrowser, postForm } from '../integration/admin-support.js';

/**
 * Attack: a sign-in that passed the password step BEFORE the password was
 * reset by an administrator, or changed by the person, is finished AFTER it
 * with the authenticator code (a phishing kit relaying the code in real
 * time, or a thief who also has the authenticator). The flow state says
 * "password passed" and nothing looks again, so the finished sign-in is
 * dated after the reset and counts: the reset (meant to "end the person's
 * sessions") or the change ("signed out everywhere else") does not lock out
 * the one it was aimed at.
 */
let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
});
afterAll(() => p.stop());

async function atOtpStep(email: string, password: string) {
  const { browser, req, res } = await afterPasswordStep(p.url, portal, { email, password });
  expectPage(res, 'otp');
  return { browser, req, res };
}

async function finishOtp(t: Awaited<ReturnType<typeof atOtpStep>>, secret: string) {
  p.clock.advance(31);
  const res = await t.browser.submit(formAction(t.res.text, '/interaction/')!, { code: totpCode(secret, p.clock.now()) });
  const location = res.headers.location ?? '';
  if (!location.includes('code=')) return undefined;
  return t.req && (await portal.exchange(location, t.req).catch(() => undefined));
}

test('a sign-in past its password step before an administrator reset the password does not finish after it', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const thief = await atOtpStep(victim.email, victim.password);
  await resetPassword(p.deps, cli, victim.email);
  await new Promise((r) => setTimeout(r, 1100));
  const tokens = await finishOtp(thief, victim.totpSecret!);
  expect(tokens).toBeUndefined();
});

test('a sign-in past its password step before the person changed their password does not finish after it', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const thief = await atOtpStep(victim.email, victim.password);
  // The person changes the password at /account in their own browser.
  const { browser, page } = await consoleBrowser(p, victim, '/account');
  const form = await browser.agent.get('/account/password');
  const changed = await postForm(browser, form.text, '/account/password', { current_password: victim.password, new_password: 'an entirely new passphrase 42' });
  expect(changed.status).toBe(303);
  void page;
  const tokens = await finishOtp(thief, victim.totpSecret!);
  expect(tokens).toBeUndefined();
});

test('(control) a sign-in past its password step before the person was disabled does not finish', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const thief = await atOtpStep(victim.email, victim.password);
  await disableUser(p.deps, cli, victim.email);
  const tokens = await finishOtp(thief, victim.totpSecret!);
  expect(tokens).toBeUndefined();
});

test('a sign-in past its password step before the person was disabled does not finish after they are enabled again', async () => {
  const { enableUser } = await import('../../src/domain/people.js');
  const { findUserByEmailKey } = await import('../../src/db/queries/users.js');
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const thief = await atOtpStep(victim.email, victim.password);
  await disableUser(p.deps, cli, victim.email);
  await enableUser(p.deps, cli, (await findUserByEmailKey(p.deps.db, victim.email.toLowerCase()))!);
  const tokens = await finishOtp(thief, victim.totpSecret!);
  expect(tokens).toBeUndefined();
});

test('a sign-in waiting at enrolment is not carried through a second MFA reset made to evict it', async () => {
  const { resetMfa } = await import('../../src/domain/users.js');
  const { enrolmentOf } = await import('../helpers/sign-in.js');
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const first = await resetMfa(p.deps, cli, victim.email);
  // Someone (the person, or a thief in the window) has given the code and sits at enrolment.
  const browser = new Browser(p.url);
  const start = await browser.open((await portal.authorizationRequest()).url);
  const code = await browser.submit(formAction(start.text, '/interaction/')!, { email: victim.email, password: victim.password });
  const enrol = await browser.submit(formAction(code.text, '/interaction/')!, { activation_code: first.activationCode });
  expectPage(enrol, 'enrol');
  // The administrator resets the MFA again (a new code, to the person).
  await resetMfa(p.deps, cli, victim.email);
  const again = await browser.open(`/interaction/${formAction(enrol.text, '/interaction/')!.split('/')[2]}`);
  const secret = enrolmentOf(again.text).secret.replace(/\s+/g, '');
  const action = formAction(again.text, '/interaction/');
  const res = secret && action ? await browser.submit(action, { code: totpCode(secret, p.clock.now()) }) : again;
  expect(stepOf(res.text)).not.toBe('recovery-codes');
});
