import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Redis } from 'ioredis';
import { makeClient, makePerson, uniqueOds } from '../helpers/factories.js';
import { Portal } from '../helpers/portal.js';
import { signInTo } from '../helpers/sign-in.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser, resetMfa } from '../../src/domain/users.js';
import { OWN_PORTAL_ID, setPortalDisabled } from '../../src/domain/clients.js';
import { setRolloutPolicy } from '../../src/domain/rollout.js';
import { apiToken, consoleBrowser, grant, staff, uniqueEmail } from './admin-support.js';

/** The admin API takes only pharmid's own access tokens, of a live sign-in with MFA, from a first-party portal or one granted the admin scope. */
let p: TestPharmid;
const cli = { kind: 'cli' } as const;
let site: string;

beforeAll(async () => {
  p = await startTestPharmid();
  site = (await addSite(p.deps, cli, { ods: 'API01', name: 'API Pharmacy', userCap: null })).ods_code;
});
afterAll(() => p.stop());

const get = (path: string, token?: string) => {
  const r = request(p.url).get(`/api/admin${path}`);
  return token === undefined ? r : r.set('Authorization', `Bearer ${token}`);
};

async function signedInAdmin() {
  const admin = await staff(p, site, 'site-admin');
  const { browser } = await consoleBrowser(p, admin);
  return { admin, browser, token: await apiToken(p, browser, admin) };
}

test('no token, a malformed one or one pharmid never issued: 401 with WWW-Authenticate, as JSON', async () => {
  for (const token of [undefined, '', 'not a token', 'x'.repeat(43), 'eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo']) {
    const res = await get(`/sites/${site}/people`, token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="pharmid"/);
    expect(res.body).toMatchObject({ error: 'rejected', error_description: expect.any(String) });
  }
});

test('a person\'s token works, and lists come a page at a time', async () => {
  const { token } = await signedInAdmin();
  for (let i = 0; i < 4; i += 1) await createUser(p.deps, cli, { email: uniqueEmail(), name: `Paged Person ${i}`, site });
  const first = await get(`/sites/${site}/people?per_page=2`, token);
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ page: 1, per_page: 2 });
  expect(first.body.items).toHaveLength(2);
  expect(first.body.total).toBeGreaterThanOrEqual(5);
  const second = await get(`/sites/${site}/people?per_page=2&page=2`, token);
  expect(second.body.items).toHaveLength(2);
  expect(second.body.items.map((x: { id: string }) => x.id)).not.toEqual(first.body.items.map((x: { id: string }) => x.id));
  expect(first.body.items[0]).toEqual({
    id: expect.any(String), email: expect.any(String), name: expect.any(String), status: expect.any(String), role: expect.any(String),
    enrolled: expect.any(Boolean), locked: false, last_sign_in_at: null,
  });
  const me = await get('/me', token);
  expect(me.body).toMatchObject({ org_roles: [], every_site: false });
  const end = await get(`/sites/${site}/people?per_page=2&page=999`, token);
  expect(end.body.items).toEqual([]);
});

test('a token issued to a portal that is not first-party cannot administer unless the person granted it the admin scope', async () => {
  const { admin, browser } = await signedInAdmin();
  const thirdParty = await makeClient(p.deps, { name: 'Third-party portal', firstParty: false });
  const portal = await Portal.connect(p.url, thirdParty);
  const { tokens } = await signInTo(portal, browser, admin, p.clock, {}, { consent: true });
  const res = await get(`/sites/${site}/people`, tokens.access_token);
  expect(res.status).toBe(403);
  expect(res.body.error_description).toMatch(/admin scope/);

  // The same portal asks for the admin scope; the consent page says what it means, and the person allows it.
  const start = await browser.open((await portal.authorizationRequest({ scope: 'openid admin' })).url);
  expect(start.text).toContain('Administer the sites and people you look after, as you');
  const granted = await signInTo(portal, browser, admin, p.clock, { scope: 'openid admin' }, { consent: true });
  const allowed = await get(`/sites/${site}/people`, granted.tokens.access_token);
  expect(allowed.status).toBe(200);
});

test('other kinds of token are refused: an ID token, a refresh token', async () => {
  const { admin, browser } = await signedInAdmin();
  const portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'Offline portal' }));
  const { tokens } = await signInTo(portal, browser, admin, p.clock, { scope: 'openid offline_access', prompt: 'consent' });
  expect(tokens.refresh_token).toBeDefined();
  for (const t of [tokens.id_token!, tokens.refresh_token!]) {
    expect((await get(`/sites/${site}/people`, t)).status).toBe(401);
  }
});

test('a token stops working when the person is reset, when they sign out, or when its portal is disabled', async () => {
  // Reset: sessions and tokens from before it are refused.
  const one = await signedInAdmin();
  expect((await get(`/sites/${site}/people`, one.token)).status).toBe(200);
  await resetMfa(p.deps, cli, one.admin.email);
  expect((await get(`/sites/${site}/people`, one.token)).status).toBe(401);

  // Signing out ends the session the token belongs to.
  const two = await signedInAdmin();
  const account = await two.browser.open('/account');
  const confirm = await two.browser.submit(formAction(account.text, '/portal/sign-out')!, {});
  await two.browser.submit(formAction(confirm.text, '/session/end')!, {});
  expect((await get(`/sites/${site}/people`, two.token)).status).toBe(401);

  // A disabled portal's tokens are not accepted.
  const three = await signedInAdmin();
  const portals = await p.deps.db.query("SELECT client_id FROM clients WHERE name = 'Admin scripts'");
  await setPortalDisabled(p.deps, cli, portals.rows[0].client_id, true);
  try {
    const res = await get(`/sites/${site}/people`, three.token);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/disabled or removed/);
  } finally {
    await setPortalDisabled(p.deps, cli, portals.rows[0].client_id, false);
  }
});

test('the API takes JSON only, and answers unknown paths and methods with a JSON 404', async () => {
  const { token } = await signedInAdmin();
  const before = (await p.deps.db.query('SELECT count(*)::int AS n FROM users')).rows[0].n;
  const form = await request(p.url).post(`/api/admin/sites/${site}/people`).set('Authorization', `Bearer ${token}`)
    .type('form').send({ email: uniqueEmail(), name: 'Form Person' });
  expect(form.status).toBe(400);
  expect(form.body.error).toBe('invalid_input');
  const broken = await request(p.url).post(`/api/admin/sites/${site}/people`).set('Authorization', `Bearer ${token}`)
    .set('Content-Type', 'application/json').send('{"email": ');
  expect(broken.status).toBe(400);
  expect((await p.deps.db.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(before);
  const unknown = await get('/nothing/here', token);
  expect(unknown.status).toBe(404);
  expect(unknown.body.error).toBe('not_found');
  // A browser session cookie is not a bearer token: the console's cookies do not open the API.
  const browser = new Browser(p.url);
  expect((await browser.agent.get(`/api/admin/sites/${site}/people`)).status).toBe(401);
});

describe('a token admits only as what it was issued for', () => {
  /** A site where MFA is off (a rollout policy), and a site administrator there who has no authenticator yet. */
  async function passwordOnlyAdmin() {
    const relaxed = (await addSite(p.deps, cli, { ods: uniqueOds(), name: 'Relaxed Pharmacy', userCap: null })).ods_code;
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site: relaxed, state: 'off' });
    const admin = await makePerson(p.deps, { site: relaxed, role: 'site-admin' });
    return { relaxed, admin };
  }

  test('a password-only token is refused, even after the same browser steps up to MFA', async () => {
    const { relaxed, admin } = await passwordOnlyAdmin();
    const portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'Rollout admin scripts' }));
    const browser = new Browser(p.url);
    const pwd = await signInTo(portal, browser, admin, p.clock, { scope: 'openid admin' });
    expect(pwd.claims).toMatchObject({ acr: 'pwd' });
    const refused = await get(`/sites/${relaxed}/people`, pwd.tokens.access_token);
    expect(refused.status).toBe(403);

    // The same browser steps up: password-only no more, the session is now an MFA one.
    const mfa = await signInTo(portal, browser, admin, p.clock, { scope: 'openid admin', acr_values: 'mfa' });
    expect(mfa.claims).toMatchObject({ acr: 'mfa' });
    expect(mfa.steps).toEqual(expect.arrayContaining(['enrol']));
    expect((await get(`/sites/${relaxed}/people`, mfa.tokens.access_token)).status).toBe(200);
    // The earlier token was issued after a password alone: that is what it stays.
    const after = await get(`/sites/${relaxed}/people`, pwd.tokens.access_token);
    expect(after.status).toBe(403);
    expect(after.body.error_description).toMatch(/authenticator/);

    // Renewed with a refresh token, each keeps what its sign-in was.
    const renewedPwd = await portal.refresh(pwd.tokens.refresh_token!);
    expect((await get(`/sites/${relaxed}/people`, renewedPwd.access_token)).status).toBe(403);
    const renewedMfa = await portal.refresh(mfa.tokens.refresh_token!);
    expect((await get(`/sites/${relaxed}/people`, renewedMfa.access_token)).status).toBe(200);
  });

  test('a first-party portal\'s token needs the admin scope too', async () => {
    const admin = await staff(p, site, 'site-admin');
    const { browser } = await consoleBrowser(p, admin);
    const portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'First-party without admin', firstParty: true }));
    const { tokens } = await signInTo(portal, browser, admin, p.clock);
    const res = await get(`/sites/${site}/people`, tokens.access_token);
    expect(res.status).toBe(403);
    expect(res.body.error_description).toMatch(/admin scope/);
  });

  test('a token of pharmid\'s own portal (the account and admin pages) is never a bearer credential, a superadmin\'s included', async () => {
    const admin = await staff(p, site, 'site-admin');
    await grant(p, admin.email, 'superadmin');
    await consoleBrowser(p, admin);
    const redis = new Redis(p.backends_.redisUrl);
    try {
      const prefix = `${p.backends_.redisKeyPrefix}oidc:AccessToken:`;
      const keys = await redis.keys(`${prefix}*`);
      const own: string[] = [];
      for (const key of keys) {
        const t = JSON.parse((await redis.get(key))!) as { clientId?: string; accountId?: string };
        if (t.clientId === OWN_PORTAL_ID && t.accountId === admin.id) own.push(key.slice(prefix.length));
      }
      expect(own.length).toBeGreaterThan(0);
      for (const token of own) {
        const res = await get('/me', token);
        expect([401, 403]).toContain(res.status);
        expect((await get(`/sites/${site}/people`, token)).status).not.toBe(200);
      }
    } finally {
      redis.disconnect();
    }
  });
});
