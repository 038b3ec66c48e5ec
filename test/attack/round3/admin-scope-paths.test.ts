import request from 'supertest';
import * as oidc from 'openid-client';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser } from '../../helpers/browser.js';
import { makeClient } from '../../helpers/factories.js';
import { Portal } from '../../helpers/portal.js';
import { driveSignIn, signInTo } from '../../helpers/sign-in.js';
import { addSite } from '../../../src/domain/sites.js';
import { consoleBrowser, staff } from '../../integration/admin-support.js';

/**
 * Round 3, the admin scope (src/oidc/policy.ts, provider.ts loadExistingGrant):
 * a first-party portal must not obtain `admin` without the person agreeing on
 * the consent page, by any other road: prompt=none, a refresh token asked
 * for a wider scope, a resource indicator, the claims parameter, or a grant
 * the person gave in another sign-in. Grants and sessions live in the store,
 * so both modes.
 */
describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  let p: TestPharmid;
  let site: string;
  beforeAll(async () => {
    p = await startTestPharmid(modeEnv);
    site = (await addSite(p.deps, { kind: 'cli' }, { ods: `AS${Math.floor(Math.random() * 900 + 100)}`, name: 'Scope Pharmacy', userCap: null })).ods_code;
  }, 30_000);
  afterAll(() => p.stop());

  const me = (token: string) => request(p.url).get('/api/admin/me').set('Authorization', `Bearer ${token}`);

  async function setting() {
    const admin = await staff(p, site, 'site-admin', 'Abi Admin');
    const { browser } = await consoleBrowser(p, admin, '/account');
    const portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'Rota tool', firstParty: true }));
    return { admin, browser, portal };
  }

  test('prompt=none, a resource indicator or the claims parameter gets no admin token without the consent page', async () => {
    const { browser, portal } = await setting();
    const tries: Record<string, string>[] = [
      { scope: 'openid admin', prompt: 'none' },
      { scope: 'openid admin', prompt: 'none', resource: `${p.url}/api/admin` },
      { scope: 'openid admin', prompt: 'none', claims: JSON.stringify({ userinfo: { admin: null }, id_token: { admin: { essential: true } } }) },
      { scope: 'openid admin', prompt: 'none', max_age: '999999' },
    ];
    for (const params of tries) {
      const req = await portal.authorizationRequest(params);
      const res = await browser.agent.get(new URL(req.url).pathname + new URL(req.url).search).redirects(0);
      const location = res.headers.location ?? '';
      // Follow pharmid's own redirects (resume) until the portal's callback.
      let hop = location;
      for (let i = 0; i < 4 && hop.startsWith(p.url) ; i += 1) hop = (await browser.agent.get(new URL(hop).pathname + new URL(hop).search).redirects(0)).headers.location ?? '';
      if (hop.startsWith('http://localhost:8080/callback')) {
        const url = new URL(hop);
        if (url.searchParams.get('code')) {
          const tokens = await portal.exchange(hop, req);
          expect({ params, scope: tokens.scope, me: (await me(tokens.access_token)).status }).toEqual({ params, scope: expect.not.stringContaining('admin'), me: 403 });
        } else {
          expect(url.searchParams.get('error')).toMatch(/consent_required|interaction_required|invalid_request|invalid_target/);
        }
      }
    }
  }, 30_000);

  test('a refresh token from a sign-in without admin cannot be renewed into an admin token', async () => {
    const { admin, browser, portal } = await setting();
    const { tokens } = await signInTo(portal, browser, admin, p.clock, { scope: 'openid email offline_access' });
    expect(tokens.refresh_token).toBeTruthy();
    const widened = await oidc.refreshTokenGrant(portal.config, tokens.refresh_token!, { scope: 'openid email offline_access admin' })
      .then(async (t) => ({ scope: t.scope, me: (await me(t.access_token)).status }), (e: Error & { error?: string }) => ({ refused: e.error ?? e.message }));
    expect(widened).toEqual({ refused: expect.anything() });
    // Even after the person agrees to admin for this portal later in the same sign-in, the old refresh token stays as it was.
    await signInTo(portal, browser, admin, p.clock, { scope: 'openid admin' }, { consent: true });
    const renewed = await oidc.refreshTokenGrant(portal.config, tokens.refresh_token!, { scope: 'openid admin' })
      .then(async (t) => ({ scope: t.scope, me: (await me(t.access_token)).status }), (e: Error & { error?: string }) => ({ refused: e.error ?? e.message }));
    expect(renewed).not.toEqual(expect.objectContaining({ me: 200 }));
  }, 30_000);

  test('admin agreed in one sign-in is asked again in another sign-in (another browser)', async () => {
    const { admin, browser, portal } = await setting();
    await signInTo(portal, browser, admin, p.clock, { scope: 'openid admin' }, { consent: true });
    p.clock.advance(31);
    const other = new Browser(p.url);
    const req = await portal.authorizationRequest({ scope: 'openid admin' });
    const { steps } = await driveSignIn(other, req.url, admin, p.clock, { consent: true });
    expect(steps).toContain('consent');
  }, 30_000);
});
