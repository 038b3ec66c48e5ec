import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { Portal } from '../helpers/portal.js';
import { signInTo } from '../helpers/sign-in.js';
import { answer, expectPage, inputValue, openAuthorization, portalRedirect, textOf } from '../helpers/pages.js';
import { mailTo } from '../helpers/mail.js';
import { addSite } from '../../src/domain/sites.js';
import { setRolloutPolicy } from '../../src/domain/rollout.js';

/**
 * A first authenticator goes on an account only after the password proved
 * in the same sign-in: a step-up from a password-only session (rollout off
 * or in grace) for someone with no authenticator asks the password again,
 * for the session's own person, then the set-up. Every first authenticator
 * set up at sign-in is emailed to the person, so one a stranger set up is
 * noticed. (The stolen-session attack itself: test/attack/round3/stolen-session-enrols.)
 */
const ADDED = 'An authenticator was set up for your pharmid account';

let p: TestPharmid;
let site: string;
let outcomes: Portal;
let scripts: Portal;
beforeAll(async () => {
  p = await startTestPharmid();
  site = (await addSite(p.deps, { kind: 'cli' }, { ods: 'SSU01', name: 'Step Up Pharmacy', userCap: null })).ods_code;
  await setRolloutPolicy(p.deps, { kind: 'cli' }, { scope: 'site', site, state: 'off' } as never);
  outcomes = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes', requireMfa: false }));
  scripts = await Portal.connect(p.url, await makeClient(p.deps, { name: 'Admin scripts', requireMfa: true, firstParty: true }));
});
afterAll(() => p.stop());

/** Someone with no authenticator, signed in with the password only (their site's rollout is off). */
async function passwordOnlySession() {
  const person = await makePerson(p.deps, { site, role: 'site-admin' });
  const browser = new Browser(p.url);
  const first = await signInTo(outcomes, browser, person, p.clock);
  expect(first.claims.acr).toBe('pwd');
  p.clock.advance(31);
  return { person, browser };
}

test('a step-up with no authenticator yet: the password again (for this person only), then the set-up; the person is emailed', async () => {
  const { person, browser } = await passwordOnlySession();
  expect(mailTo(p, person.email).filter((m) => m.subject === ADDED)).toHaveLength(0);

  const after = await signInTo(scripts, browser, person, p.clock, { scope: 'openid admin' }, { consent: true });
  expect(after.steps).toEqual(['password', 'enrol', 'recovery-codes', 'consent']);
  expect(after.claims).toMatchObject({ sub: person.id, acr: 'mfa' });
  const me = await request(p.url).get('/api/admin/me').set('Authorization', `Bearer ${after.tokens.access_token}`);
  expect(me.status).toBe(200);

  const added = mailTo(p, person.email).filter((m) => m.subject === ADDED);
  expect(added).toHaveLength(1);
  expect(added[0]!.body).toContain('Admin scripts');
  expect(added[0]!.body).not.toContain(person.totpSecret!.replace(/\s+/g, ''));
  for (const code of person.recoveryCodes!) expect(added[0]!.body).not.toContain(code);
});

test('the password asked at a step-up is the session person\'s: a wrong one is refused, and another person\'s email and password do not count', async () => {
  const { person, browser } = await passwordOnlySession();
  const other = await makePerson(p.deps, { site });
  const { res } = await openAuthorization(scripts, browser, { scope: 'openid admin' });
  const page = expectPage(res, 'password');
  // The page names whose password it is, and has no email box to change it.
  expect(textOf(page.text)).toContain(person.email);
  expect(inputValue(page.text, 'email')).toBeUndefined();

  const wrong = await answer(browser, page, { password: 'not the password at all' });
  expectPage(wrong, 'password', 401);
  const someoneElse = await answer(browser, wrong, { email: other.email, password: other.password });
  expectPage(someoneElse, 'password', 401);
  expect(portalRedirect(someoneElse)).toBeUndefined();
  // Nothing was set up on either account, and neither was told of one.
  expect(mailTo(p, person.email).filter((m) => m.subject === ADDED)).toHaveLength(0);
  expect(mailTo(p, other.email).filter((m) => m.subject === ADDED)).toHaveLength(0);
});

test('a first authenticator set up at an ordinary first sign-in is emailed too', async () => {
  const enforced = await makeSite(p.deps, 'Enforced Pharmacy');
  const person = await makePerson(p.deps, { site: enforced.ods_code });
  const first = await signInTo(scripts, new Browser(p.url), person, p.clock);
  expect(first.steps).toEqual(['password', 'enrol', 'recovery-codes']);
  expect(mailTo(p, person.email).filter((m) => m.subject === ADDED)).toHaveLength(1);
});
