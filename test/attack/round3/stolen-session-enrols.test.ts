import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser } from '../../helpers/browser.js';
import { makeClient, makePerson } from '../../helpers/factories.js';
import { Portal } from '../../helpers/portal.js';
import { driveSignIn, signInTo } from '../../helpers/sign-in.js';
import { addSite } from '../../../src/domain/sites.js';
import { setRolloutPolicy } from '../../../src/domain/rollout.js';

/**
 * Round 3, a sign-in's freshness (src/interactions/router.ts initialState):
 * a step-up from a password-only session is "asked for the second factor
 * alone". For a person who has no second factor yet (their site's rollout
 * is off or in grace), that is the enrolment page, reached with the
 * session's cookie and nothing else: someone holding a stolen password-only
 * session binds an authenticator of their own to the account, without the
 * password, and so turns the stolen session into an MFA one (admin tokens
 * for an administrator) and the account's second factor into theirs.
 * Held would be: the password asked again before a first authenticator is
 * set up from a session. Sessions are the store's either way; one mode.
 */
let p: TestPharmid;
let site: string;
beforeAll(async () => {
  p = await startTestPharmid();
  site = (await addSite(p.deps, { kind: 'cli' }, { ods: 'SSE01', name: 'Elder Pharmacy', userCap: null })).ods_code;
  await setRolloutPolicy(p.deps, { kind: 'cli' }, { scope: 'site', site, state: 'off' } as never);
});
afterAll(() => p.stop());

test('a password-only session (no authenticator yet) cannot set up an authenticator without the password', async () => {
  const person = await makePerson(p.deps, { site, role: 'site-admin', name: 'Gale Grace' });
  const outcomes = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes', requireMfa: false }));
  const victimBrowser = new Browser(p.url);
  const first = await signInTo(outcomes, victimBrowser, person, p.clock);
  expect(first.steps).toEqual(['password']);
  expect(first.claims.acr).toBe('pwd');

  // The thief has the session's cookies (the same browser stands for them) and not the password.
  const refer = await Portal.connect(p.url, await makeClient(p.deps, { name: 'Admin scripts', requireMfa: true, firstParty: true }));
  p.clock.advance(31);
  const thief = { email: person.email, password: 'the thief does not know it' };
  const req = await refer.authorizationRequest({ scope: 'openid admin' });
  const outcome = await driveSignIn(victimBrowser, req.url, thief, p.clock, { consent: true })
    .then(async (r) => {
      const tokens = await refer.exchange(r.callback, req);
      const me = await request(p.url).get('/api/admin/me').set('Authorization', `Bearer ${tokens.access_token}`);
      return { steps: r.steps, acr: tokens.claims()!.acr, adminApi: me.status };
    }, (e: Error) => ({ refused: e.message }));
  // Held: the thief meets the password page (and fails there). Got through: steps [enrol, recovery-codes, ...], acr mfa.
  expect(outcome).not.toEqual(expect.objectContaining({ acr: 'mfa' }));
  expect(JSON.stringify(outcome)).not.toContain('"enrol"');
}, 30_000);
