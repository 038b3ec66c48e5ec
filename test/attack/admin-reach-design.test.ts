import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { makeClient } from '../helpers/factories.js';
import { Portal } from '../helpers/portal.js';
import { signInTo, type Person } from '../helpers/sign-in.js';
import { addSite } from '../../src/domain/sites.js';
import { apiToken, consoleBrowser, csrfOn, staff, uniqueEmail } from '../integration/admin-support.js';

/**
 * Attacks on reach that go round the reach rule rather than through it.
 */
let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;
let X: string;
let Y: string;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
  X = (await addSite(p.deps, cli, { ods: 'ATX01', name: 'Xylo Pharmacy', userCap: null })).ods_code;
  Y = (await addSite(p.deps, cli, { ods: 'ATY02', name: 'Yew Pharmacy', userCap: null })).ods_code;
}, 30_000);
afterAll(() => p.stop());

/**
 * Pre-account hijacking: the administrator of X creates an account for an
 * email that is not theirs (a colleague about to start at Y), is shown its
 * activation code, activates it and enrols an authenticator of their own.
 * When Y's administrator later adds the real person, pharmid says the email
 * already has an account and Y links it as a locum: the administrator of X
 * now holds a working sign-in at Y. Nothing ever proved that the person
 * holding the credentials owns the email (activation is by a code shown to
 * the creating administrator).
 */
test('an account activated with a code shown to another site\'s administrator does not become a way into a site that administrator does not look after', async () => {
  const adminX = await staff(p, X, 'site-admin', 'Xena Admin');
  const adminY = await staff(p, Y, 'site-admin', 'Yuri Admin');
  const bx = await consoleBrowser(p, adminX, '/account');
  const by = await consoleBrowser(p, adminY, '/account');
  const tokenX = await apiToken(p, bx.browser, adminX);
  const tokenY = await apiToken(p, by.browser, adminY);
  const newHire = uniqueEmail('new.hire');
  // X creates the account and keeps the code.
  const made = await request(p.url).post(`/api/admin/sites/${X}/people`).set('Authorization', `Bearer ${tokenX}`).send({ email: newHire, name: 'Nia Hire' });
  expect(made.status).toBe(201);
  const hijacker: Person = { email: newHire, password: 'hijacker chosen passphrase 7', activationCode: made.body.activation_code };
  await signInTo(portal, new Browser(p.url), hijacker, p.clock);
  // Y tries to add the real new hire, is told the email has an account, and links it instead.
  const add = await request(p.url).post(`/api/admin/sites/${Y}/people`).set('Authorization', `Bearer ${tokenY}`).send({ email: newHire, name: 'Nia Hire' });
  expect(add.status).toBe(409);
  const link = await request(p.url).post(`/api/admin/sites/${Y}/locums`).set('Authorization', `Bearer ${tokenY}`).send({ email: newHire, role: 'site-admin' });
  // The protection may refuse the link, or keep the credentials from reaching Y; either way X must not sign in at Y.
  if (link.status >= 400) return;
  p.clock.advance(31);
  const { claims, tokens } = await signInTo(portal, new Browser(p.url), hijacker, p.clock, {}, { site: Y });
  const info = await portal.userinfo(tokens.access_token, claims.sub);
  // What the hijacker's sign-in carries to every portal: Y, as its administrator.
  expect({ site: info.site, sites: info.sites }).not.toMatchObject({ site: Y });
});

/**
 * A first-party portal (no consent page) that asks for `admin` gets it
 * silently: every administrator who signs in to it hands it a token for
 * /api/admin. A portal's operator (or whoever compromises it) administers
 * with everyone's reach, a superadmin's included.
 */
test('a first-party portal does not get the admin scope without the person agreeing to it', async () => {
  const adminX = await staff(p, X, 'site-admin', 'Xavi Admin');
  const first = await Portal.connect(p.url, await makeClient(p.deps, { name: 'Referrals (first-party)', firstParty: true }));
  const { tokens, steps } = await signInTo(first, new Browser(p.url), adminX, p.clock, { scope: 'openid admin' });
  const me = await request(p.url).get('/api/admin/me').set('Authorization', `Bearer ${tokens.access_token}`);
  expect({ consentAsked: steps.includes('consent'), me: me.status }).not.toEqual({ consentAsked: false, me: 200 });
});

/**
 * A code shown while the person was entirely in reach outlives that reach:
 * X adds a person (and is shown the activation code); before they activate,
 * Y links them as Y's administrator. X's code still activates the account,
 * now a site administrator of Y. The same holds for a password-reset code
 * shown to X before Y linked the person.
 */
test('a code shown to an administrator stops working once the person also works at a site that administrator does not look after', async () => {
  const adminX = await staff(p, X, 'site-admin', 'Xander Admin');
  const adminY = await staff(p, Y, 'site-admin', 'Yara Admin');
  const tokenX = await apiToken(p, (await consoleBrowser(p, adminX, '/account')).browser, adminX);
  const tokenY = await apiToken(p, (await consoleBrowser(p, adminY, '/account')).browser, adminY);
  const email = uniqueEmail('locum');
  const made = await request(p.url).post(`/api/admin/sites/${X}/people`).set('Authorization', `Bearer ${tokenX}`).send({ email, name: 'Lou Cum' });
  expect(made.status).toBe(201);
  const link = await request(p.url).post(`/api/admin/sites/${Y}/locums`).set('Authorization', `Bearer ${tokenY}`).send({ email, role: 'site-admin' });
  expect(link.status).toBe(201);
  // X's view now says codes go to the person alone...
  const view = await request(p.url).get(`/api/admin/people/${made.body.id}`).set('Authorization', `Bearer ${tokenX}`);
  expect(view.body).toMatchObject({ reset_codes_go_to: 'person' });
  // ...but the code X was shown before still opens the account.
  const holder: Person = { email, password: 'x keeps this passphrase 9', activationCode: made.body.activation_code };
  const outcome = await signInTo(portal, new Browser(p.url), holder, p.clock, {}, { site: Y }).then(() => 'signed in as them', (e: Error) => e.message.slice(0, 80));
  expect(outcome).not.toBe('signed in as them');
});
void csrfOn;
