import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction, unescapeHtml } from '../helpers/browser.js';
import { makeClient } from '../helpers/factories.js';
import { Portal } from '../helpers/portal.js';
import { driveSignIn, signInTo, stepOf } from '../helpers/sign-in.js';
import { addSite } from '../../src/domain/sites.js';
import { consoleBrowser, staff } from './admin-support.js';

/**
 * The `admin` scope lets a portal act as the person in the admin API, so the
 * person agrees to it on every portal: a first-party portal skips the consent
 * page for the ordinary scopes, never for `admin`.
 */
let p: TestPharmid;
let site: string;
const cli = { kind: 'cli' } as const;

beforeAll(async () => {
  p = await startTestPharmid();
  site = (await addSite(p.deps, cli, { ods: 'CNS01', name: 'Consent Pharmacy', userCap: null })).ods_code;
});
afterAll(() => p.stop());

const me = (token: string) => request(p.url).get('/api/admin/me').set('Authorization', `Bearer ${token}`);

/** Text as a person reads it on the page: tags gone, entities decoded, spaces collapsed. */
const readable = (html: string) => unescapeHtml(html.replace(/<[^>]+>/g, ' ')).replace(/\s+/g, ' ');

test('a first-party portal asking for admin shows the consent page, listing admin alone and saying plainly what it allows', async () => {
  const admin = await staff(p, site, 'site-admin');
  const { browser } = await consoleBrowser(p, admin);
  const portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'Rota tool', firstParty: true }));

  // The ordinary scopes alone: no consent page, as before.
  const ordinary = await signInTo(portal, browser, admin, p.clock);
  expect(ordinary.steps).not.toContain('consent');

  // Asking for admin as well: the person is asked, about admin only (the rest is granted already).
  const req = await portal.authorizationRequest({ scope: 'openid email profile admin' });
  const page = await browser.open(req.url);
  expect(stepOf(page.text)).toBe('consent');
  const text = readable(page.text);
  expect(text).toContain('Allow Rota tool to use your pharmid account?');
  expect(text).toContain('Administer the sites and people you look after, as you');
  expect(text).toMatch(/act in your name in pharmid's administration: add and remove people at the sites you look after, reset their passwords and authenticator apps/);
  expect(text).not.toContain('See your email address');
  const done = await browser.submit(formAction(page.text, '/interaction/')!, {});
  expect(done.status).toBe(303);
  const tokens = await portal.exchange(done.headers.location!, req);
  expect((await me(tokens.access_token)).status).toBe(200);

  // Agreed once in this sign-in: the grant keeps it, and the portal is not asked about again.
  const again = await signInTo(portal, browser, admin, p.clock, { scope: 'openid admin' });
  expect(again.steps).not.toContain('consent');
  expect((await me(again.tokens.access_token)).status).toBe(200);
});

test('a person who does not allow admin to a first-party portal gets no token and the portal an access_denied', async () => {
  const admin = await staff(p, site, 'site-admin');
  const portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'Unknown script', firstParty: true }));
  const browser = new Browser(p.url);
  const { callback, steps } = await driveSignIn(
    browser, (await portal.authorizationRequest({ scope: 'openid admin' })).url, admin, p.clock, { consent: false });
  expect(steps).toContain('consent');
  expect(new URL(callback).searchParams.get('error')).toBe('access_denied');
  expect(new URL(callback).searchParams.get('code')).toBeNull();
  // A sign-in to the same portal later still asks.
  const later = await signInTo(portal, browser, admin, p.clock, { scope: 'openid admin' }, { consent: true });
  expect(later.steps).toEqual(['consent']);
  expect((await me(later.tokens.access_token)).status).toBe(200);
});
