import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, unescapeHtml } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { signInTo } from '../helpers/sign-in.js';
import { textOf } from '../helpers/pages.js';
import { makeSite } from '../helpers/factories.js';
import { consoleBrowser, grant, staff } from './admin-support.js';

/** A superadmin registers a portal in the console, and it signs people in; its secret rotates; it can be disabled. */
let p: TestPharmid;
beforeAll(async () => { p = await startTestPharmid(); });
afterAll(() => p.stop());

const codeOf = (html: string, id: string) => unescapeHtml(new RegExp(`id="${id}">([^<]+)<`).exec(html)?.[1] ?? '');

test('register, sign in, rotate the secret, disable', async () => {
  const site = (await makeSite(p.deps)).ods_code;
  const root = await staff(p, site, 'member', 'Root Admin');
  await grant(p, root.email, 'superadmin');
  const { browser, page: home } = await consoleBrowser(p, root);
  expect(home.text).toContain('href="/admin/portals"');

  await browser.open('/admin/portals/new');
  const registered = await browser.submit('/admin/portals', {
    name: 'PharmRefer', redirect_uris: 'http://localhost:8080/callback\r\nhttp://localhost:8080/other',
    post_logout_redirect_uris: 'http://localhost:8080/signed-out', backchannel_logout_uri: '', first_party: 'on', require_mfa: 'on',
  });
  expect(registered.status).toBe(201);
  const clientId = codeOf(registered.text, 'client-id');
  const secret = codeOf(registered.text, 'client-secret');
  expect(secret.length).toBeGreaterThan(30);
  // Shown once: the list does not show it again, and it is stored sealed.
  const list = await browser.open('/admin/portals');
  expect(list.text).toContain(clientId);
  expect(list.text).not.toContain(secret);
  const stored = await p.deps.db.query('SELECT secret_sealed, first_party, require_mfa, metadata FROM clients WHERE client_id = $1', [clientId]);
  expect(stored.rows[0]).toMatchObject({ first_party: true, require_mfa: true });
  expect(stored.rows[0].secret_sealed).not.toContain(secret);
  expect(stored.rows[0].metadata.redirect_uris).toEqual(['http://localhost:8080/callback', 'http://localhost:8080/other']);

  // The portal signs a person in (first-party: no consent page).
  const person = await staff(p, site, 'member', 'Pia Person');
  const portal = await Portal.connect(p.url, { client_id: clientId, client_secret: secret });
  const { tokens, steps, claims } = await signInTo(portal, new Browser(p.url), person, p.clock);
  expect(steps).toEqual(['password', 'otp']);
  expect(claims.sub).toBe(person.id);

  // A new secret: the old one stops working at once, the new one works.
  const rotated = await browser.submit(`/admin/portals/${clientId}/rotate-secret`, {});
  expect(rotated.status).toBe(200);
  const newSecret = codeOf(rotated.text, 'client-secret');
  expect(newSecret).not.toBe(secret);
  await expect(portal.introspect(tokens.access_token)).rejects.toThrow();
  const renewed = await Portal.connect(p.url, { client_id: clientId, client_secret: newSecret });
  expect((await renewed.introspect(tokens.access_token)).active).toBe(true);

  // Disabled: its tokens are refused and it cannot start a sign-in.
  await browser.open('/admin/portals');
  const disabled = await browser.submit(`/admin/portals/${clientId}/disable`, {});
  expect(textOf(disabled.text)).toContain('The portal is disabled');
  await expect(renewed.userinfo(tokens.access_token, person.id)).rejects.toThrow();
  const start = await new Browser(p.url).open((await renewed.authorizationRequest()).url);
  expect(start.status).toBe(400);
  expect(textOf(start.text)).toMatch(/client/i);
  await browser.open('/admin/portals');
  await browser.submit(`/admin/portals/${clientId}/enable`, {});
  const back = await signInTo(renewed, new Browser(p.url), person, (p.clock.advance(30), p.clock));
  expect(back.claims.sub).toBe(person.id);

  // pharmid's own portal is not for changing here.
  const own = await browser.agent.post('/admin/portals/pharmid/disable').type('form')
    .send({ _csrf: /name="_csrf" value="([^"]+)"/.exec(list.text)![1] }).redirects(0);
  expect(own.status).toBe(409);
});
