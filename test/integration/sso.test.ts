import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo, type Person } from '../helpers/sign-in.js';
import { answer, withAuthenticator, errorMessages, expectPage, openAuthorization } from '../helpers/pages.js';
import { disableUser, resetMfa, resetPassword } from '../../src/domain/users.js';

let pharmid: TestPharmid;
let outcomes: Portal;
let referrals: Portal;

beforeAll(async () => {
  pharmid = await startTestPharmid();
  outcomes = await Portal.connect(pharmid.config.issuer, await makeClient(pharmid.deps, { name: 'PharmOutcomes' }));
  referrals = await Portal.connect(pharmid.config.issuer, await makeClient(pharmid.deps, { name: 'PharmRefer' }));
});
afterAll(async () => { await pharmid.stop(); });

const cli = { kind: 'cli' } as const;

async function signedIn() {
  const person = await withAuthenticator(pharmid.deps, await makePerson(pharmid.deps), pharmid.clock);
  const browser = new Browser(pharmid.url);
  const first = await signInTo(outcomes, browser, person, pharmid.clock);
  expect(first.steps).toEqual(['password', 'otp']);
  return { person, browser, first };
}

test('after one sign-in, a second portal in the same browser gets its code with no form at all', async () => {
  const { person, browser } = await signedIn();

  const second = await signInTo(referrals, browser, person, pharmid.clock);

  expect(second.steps).toEqual([]);
  expect(new URL(second.callback).searchParams.get('code')).toBeTruthy();
  expect((await referrals.userinfo(second.tokens.access_token, person.id)).email).toBe(person.email);
  // Another browser has no session: it is asked to sign in.
  const { res } = await openAuthorization(referrals, new Browser(pharmid.url));
  expectPage(res, 'password');
});

test('a first-party portal that asks for more later is granted it without a form; asking the same again still works', async () => {
  const { person, browser } = await signedIn();
  const narrow = await signInTo(referrals, browser, person, pharmid.clock, { scope: 'openid' });
  expect(narrow.steps).toEqual([]);
  expect(await referrals.userinfo(narrow.tokens.access_token, person.id as string)).not.toHaveProperty('email');
  const wide = await signInTo(referrals, browser, person, pharmid.clock, { scope: 'openid email' });
  expect(wide.steps).toEqual([]);
  expect((await referrals.userinfo(wide.tokens.access_token, person.id as string)).email).toBe(person.email);
  const again = await signInTo(referrals, browser, person, pharmid.clock, { scope: 'openid email' });
  expect((await referrals.userinfo(again.tokens.access_token, person.id as string)).email).toBe(person.email);
});

test("the two portals' ID tokens name the same person, signed in at the same moment, with MFA", async () => {
  const { person, browser, first } = await signedIn();
  const second = await signInTo(referrals, browser, person, pharmid.clock);

  const a = await outcomes.verifyIdToken(first.tokens.id_token!);
  const b = await referrals.verifyIdToken(second.tokens.id_token!);
  expect(a.aud).not.toEqual(b.aud);
  expect(b.sub).toBe(a.sub);
  expect(b.sub).toBe(person.id);
  expect(b.auth_time).toBe(a.auth_time);
  expect(b.acr).toBe('mfa');
  expect(b.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(b.sid).toBe(a.sid);
});

/** Each reset, how the person can sign in after it (undefined: not at all), and the steps they then see. */
const RESETS: [string, string, (person: Person) => Promise<Person | undefined>, string[] | undefined][] = [
  ['an MFA reset', 'a new sign-in with the one-time code enrols a new authenticator', async (p) => {
    const { activationCode } = await resetMfa(pharmid.deps, cli, p.email);
    return { ...p, totpSecret: undefined, resetCode: activationCode };
  }, ['password', 'reset-code', 'enrol', 'recovery-codes']],
  ['a password reset', 'a new sign-in with the new activation code works', async (p) => {
    const { activationCode } = await resetPassword(pharmid.deps, cli, p.email);
    return { ...p, activationCode, password: 'a brand new passphrase' };
  }, ['password', 'activate', 'otp']],
  ['disabling the person', 'their password is refused', async (p) => {
    await disableUser(pharmid.deps, cli, p.email);
    return undefined;
  }, undefined],
];

test.each(RESETS)('%s ends the session and refuses the refresh token from before it; then %s', async (_name, _then, reset, stepsAfter) => {
  const { person, browser, first } = await signedIn();
  // Refreshing works before the reset (and rotates the token).
  const oldRefresh = (await outcomes.refresh(first.tokens.refresh_token!)).refresh_token!;
  expect(oldRefresh).toBeTruthy();

  const after = await reset(person);
  pharmid.clock.advance(30);

  // The same browser, which had a session, is asked to sign in again.
  const { res } = await openAuthorization(referrals, browser);
  expectPage(res, 'password');
  await expect(outcomes.refresh(oldRefresh)).rejects.toMatchObject({ error: 'invalid_grant' });

  if (!after) {
    // Disabled: the password is refused, as any wrong password is.
    const refused = await answer(browser, res, { email: person.email, password: person.password });
    expectPage(refused, 'password', 401);
    expect(errorMessages(refused.text).join(' ')).toMatch(/email address or password is not right/);
    return;
  }
  const again = await signInTo(outcomes, browser, after, pharmid.clock);
  expect(again.steps).toEqual(stepsAfter);
  expect(again.claims.sub).toBe(person.id);
  const refreshed = await outcomes.refresh(again.tokens.refresh_token!);
  expect(refreshed.access_token).toBeTruthy();
  expect(refreshed.claims()?.sub).toBe(person.id);
});
