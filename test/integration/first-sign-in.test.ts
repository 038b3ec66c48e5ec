import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo, enrolmentOf } from '../helpers/sign-in.js';

let pharmid: TestPharmid;

beforeAll(async () => { pharmid = await startTestPharmid(); });
afterAll(async () => { await pharmid.stop(); });

test('a new person activates, enrols an authenticator, saves recovery codes and reaches the portal with MFA', async () => {
  const person = await makePerson(pharmid.deps, { activate: true });
  const client = await makeClient(pharmid.deps);
  const portal = await Portal.connect(pharmid.config.issuer, client);
  const browser = new Browser(pharmid.url);

  const { steps, tokens, claims } = await signInTo(portal, browser, person, pharmid.clock);

  expect(steps).toEqual(['password', 'activate', 'enrol', 'recovery-codes']);
  expect(person.recoveryCodes).toHaveLength(10);
  const verified = await portal.verifyIdToken(tokens.id_token!);
  expect(verified.sub).toBe(person.id);
  expect(claims.acr).toBe('mfa');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  expect(typeof claims.auth_time).toBe('number');
  const info = await portal.userinfo(tokens.access_token, person.id);
  expect(info.email).toBe(person.email);
  expect(info.sites).toEqual([{ ods: person.site, name: 'High Street Pharmacy', role: 'member' }]);
  expect(info.site).toBe(person.site);
  expect(tokens.refresh_token).toBeTruthy();
});
