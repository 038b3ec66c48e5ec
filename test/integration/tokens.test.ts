import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction, unescapeHtml } from '../helpers/browser.js';
import { Portal, type AuthorizationRequest, type PortalClient } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo, stepOf } from '../helpers/sign-in.js';
import { disableUser, resetMfa, resetPassword } from '../../src/domain/users.js';

let pharmid: TestPharmid;
let client: PortalClient;
let portal: Portal;
/** One person signed in once; most tests reach a new portal through single sign-on, so each has a grant of its own. */
let browser: Browser;
let person: Awaited<ReturnType<typeof makePerson>>;

beforeAll(async () => {
  // Cheaper password hashing: these tests are about tokens, and sign in several people.
  // Some tests sign three people in at once from this one address: room for all their hashes.
  pharmid = await startTestPharmid({ ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', ARGON2_PER_ADDRESS: '4' });
  client = await makeClient(pharmid.deps);
  portal = await Portal.connect(pharmid.config.issuer, client);
  person = await makePerson(pharmid.deps, { name: 'Sam Anne Patel' });
  browser = new Browser(pharmid.url);
  await signInTo(portal, browser, person, pharmid.clock);
});
afterAll(async () => { await pharmid.stop(); });

/** A new portal of its own (so a grant of its own), reached through the shared signed-in browser. */
async function freshPortal(name = 'Fresh Portal') {
  const c = await makeClient(pharmid.deps, { name });
  const p = await Portal.connect(pharmid.config.issuer, c);
  const result = await signInTo(p, browser, person, pharmid.clock);
  expect(result.steps).toEqual([]); // single sign-on: no page shown
  return { client: c, portal: p, ...result };
}

/** A new person signed in to the portal in a browser of their own. */
async function signedIn(name = 'Sam Patel') {
  const someone = await makePerson(pharmid.deps, { name });
  const own = new Browser(pharmid.url);
  const result = await signInTo(portal, own, someone, pharmid.clock);
  return { person: someone, browser: own, ...result };
}

/** The OAuth error code a rejected openid-client call carries. */
async function oauthError(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (e) {
    if (e instanceof oidc.ResponseBodyError) return e.error;
    throw e;
  }
  throw new Error('expected the request to be refused');
}

describe('refresh tokens', () => {
  test('the refresh grant issues new tokens and rotates the refresh token', async () => {
    const { tokens, portal } = await freshPortal();
    const refreshed = await portal.refresh(tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    // The new access token works.
    const info = await portal.userinfo(refreshed.access_token, person.id);
    expect(info.email).toBe(person.email);
    // And the rotated one refreshes again.
    const again = await portal.refresh(refreshed.refresh_token!);
    expect(again.refresh_token).not.toBe(refreshed.refresh_token);
  });

  test('a refresh token used again is refused and the whole grant is revoked', async () => {
    const { tokens, portal } = await freshPortal();
    const first = await portal.refresh(tokens.refresh_token!);
    expect(await oauthError(portal.refresh(tokens.refresh_token!))).toBe('invalid_grant');
    // Reuse means the token leaked: the newest refresh token and its access token die too.
    expect(await oauthError(portal.refresh(first.refresh_token!))).toBe('invalid_grant');
    expect((await portal.introspect(first.access_token)).active).toBe(false);
  });

  test('two concurrent refreshes of one refresh token: exactly one succeeds (three grants at once)', async () => {
    // One after another: sign-ins racing in one browser lose each other's grants (see the failing test below).
    const grants = [await freshPortal(), await freshPortal(), await freshPortal()];
    const races = await Promise.all(grants.map(({ tokens, portal }) =>
      Promise.allSettled([portal.refresh(tokens.refresh_token!), portal.refresh(tokens.refresh_token!)])));
    for (const results of races) {
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
      expect(rejected.reason).toBeInstanceOf(oidc.ResponseBodyError);
      expect((rejected.reason as oidc.ResponseBodyError).error).toBe('invalid_grant');
    }
  });

  test('a revoked refresh token no longer refreshes, and introspects inactive', async () => {
    const { tokens, portal } = await freshPortal();
    expect((await portal.introspect(tokens.refresh_token!)).active).toBe(true);
    await portal.revoke(tokens.refresh_token!);
    expect((await portal.introspect(tokens.refresh_token!)).active).toBe(false);
    expect(await oauthError(portal.refresh(tokens.refresh_token!))).toBe('invalid_grant');
  });

  test('an administrative reset or disabling ends the person\'s refresh and access tokens', async () => {
    const people = await Promise.all([signedIn(), signedIn(), signedIn()]);
    // Sign-ins in the same second as a reset are still honoured (auth_time has whole seconds): wait for the next one.
    await new Promise((r) => setTimeout(r, 1_020 - (Date.now() % 1_000)));
    const resets = [resetMfa, (d: typeof pharmid.deps, a: { kind: 'cli' }, e: string) => resetPassword(d, a, e), disableUser];
    for (const [i, { person, tokens }] of people.entries()) {
      expect((await portal.userinfo(tokens.access_token, person.id)).sub).toBe(person.id);
      await resets[i]!(pharmid.deps, { kind: 'cli' }, person.email);
      expect(await oauthError(portal.refresh(tokens.refresh_token!))).toBe('invalid_grant');
      await expect(portal.userinfo(tokens.access_token, person.id)).rejects.toThrow();
      // Nor does introspection call it active: a resource server asking the portal's way is told the same.
      expect((await portal.introspect(tokens.access_token)).active).toBe(false);
    }
  });

  test('an unknown refresh token is refused', async () => {
    expect(await oauthError(portal.refresh('not-a-refresh-token'))).toBe('invalid_grant');
  });
});

describe('introspection and revocation', () => {
  test('an access token introspects active with its subject and client; once revoked, inactive', async () => {
    const { tokens, portal, client } = await freshPortal();
    const live = await portal.introspect(tokens.access_token);
    expect(live.active).toBe(true);
    expect(live.sub).toBe(person.id);
    expect(live.client_id).toBe(client.client_id);
    expect(String(live.scope).split(' ')).toEqual(expect.arrayContaining(['openid', 'email', 'profile', 'sites']));
    expect(live.exp).toBeGreaterThan(Date.now() / 1000);

    await portal.revoke(tokens.access_token);
    const dead = await portal.introspect(tokens.access_token);
    expect(dead.active).toBe(false);
    expect(dead.sub).toBeUndefined();
    await expect(portal.userinfo(tokens.access_token, person.id)).rejects.toThrow();
  });

  test('an access token records how its sign-in was made when it was issued, and a renewed one keeps it', async () => {
    const { tokens, portal, claims } = await freshPortal();
    const live = await portal.introspect(tokens.access_token);
    expect(live).toMatchObject({ acr: claims.acr, amr: claims.amr, auth_time: claims.auth_time });
    const renewed = await portal.refresh(tokens.refresh_token!);
    expect(await portal.introspect(renewed.access_token)).toMatchObject({ acr: claims.acr, amr: claims.amr, auth_time: claims.auth_time });
  });

  test('nonsense introspects inactive', async () => {
    expect((await portal.introspect('definitely-not-a-token')).active).toBe(false);
  });

  test('another portal can neither introspect nor revoke this portal\'s tokens', async () => {
    const { tokens, portal } = await freshPortal();
    const other = await Portal.connect(pharmid.config.issuer, await makeClient(pharmid.deps, { name: 'Other Portal' }));
    const seen = await other.introspect(tokens.access_token);
    expect(seen.active).toBe(false);
    expect(seen.sub).toBeUndefined();
    await other.revoke(tokens.refresh_token!).catch(() => undefined);
    await other.revoke(tokens.access_token).catch(() => undefined);
    expect((await portal.introspect(tokens.access_token)).active).toBe(true);
    expect((await portal.refresh(tokens.refresh_token!)).access_token).toBeTruthy();
  });
});

describe('claims', () => {
  /** Userinfo for an access token that was asked for with `scope` (the browser is already signed in). */
  async function userinfoFor(scope: string) {
    const { tokens, steps } = await signInTo(portal, browser, person, pharmid.clock, { scope });
    expect(steps).toEqual([]); // single sign-on: no page shown
    return { info: await portal.userinfo(tokens.access_token, person.id), claims: tokens.claims()! };
  }

  test('openid alone: the subject and nothing about the person', async () => {
    const { info } = await userinfoFor('openid');
    expect(info.sub).toBe(person.id);
    for (const claim of ['email', 'email_verified', 'name', 'given_name', 'family_name', 'sites', 'site']) {
      expect(info).not.toHaveProperty(claim);
    }
  });

  test('email scope: email and email_verified only', async () => {
    const { info } = await userinfoFor('openid email');
    expect(info).toMatchObject({ sub: person.id, email: person.email, email_verified: true });
    for (const claim of ['name', 'given_name', 'family_name', 'sites', 'site']) expect(info).not.toHaveProperty(claim);
  });

  test('profile scope: name, given_name and family_name only', async () => {
    const { info } = await userinfoFor('openid profile');
    expect(info).toMatchObject({ name: 'Sam Anne Patel', given_name: 'Sam Anne', family_name: 'Patel' });
    for (const claim of ['email', 'email_verified', 'sites', 'site']) expect(info).not.toHaveProperty(claim);
  });

  test('sites scope: sites and site only', async () => {
    const { info } = await userinfoFor('openid sites');
    expect(info.sites).toEqual([{ ods: person.site, name: 'High Street Pharmacy', role: 'member' }]);
    expect(info.site).toBe(person.site);
    for (const claim of ['email', 'name']) expect(info).not.toHaveProperty(claim);
  });

  test('the ID token carries sub, auth_time, amr and acr whatever the scope', async () => {
    const { claims } = await userinfoFor('openid');
    expect(claims.sub).toBe(person.id);
    expect(claims.acr).toBe('mfa');
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(typeof claims.auth_time).toBe('number');
  });
});

describe('ID token signature', () => {
  test('is RS256 with a kid published at /jwks, and verifies against that key', async () => {
    const fresh = await freshPortal();
    const idToken = fresh.tokens.id_token!;
    const header = decodeProtectedHeader(idToken);
    expect(header.alg).toBe('RS256');
    expect(header.kid).toEqual(expect.any(String));

    const jwks = (await request(pharmid.url).get('/jwks').expect(200)).body as { keys: JWK[] };
    const key = jwks.keys.find((k) => k.kid === header.kid);
    expect(key).toMatchObject({ kty: 'RSA', kid: header.kid });
    // Only public parts are published.
    for (const k of jwks.keys) for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k).not.toHaveProperty(priv);

    const { payload } = await jwtVerify(idToken, await importJWK(key!, 'RS256'), {
      issuer: pharmid.config.issuer, audience: fresh.client.client_id, algorithms: ['RS256'],
    });
    expect(payload.sub).toBe(person.id);
    expect((await fresh.portal.verifyIdToken(idToken)).sub).toBe(person.id);

    // The same token with its payload changed no longer verifies.
    const [h, , sig] = idToken.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'someone-else' })).toString('base64url')}.${sig}`;
    await expect(jwtVerify(forged, createRemoteJWKSet(new URL(`${pharmid.url}/jwks`)))).rejects.toThrow(/signature/);
  });
});

describe('discovery', () => {
  let meta: Record<string, unknown>;
  beforeAll(async () => {
    meta = (await request(pharmid.url).get('/.well-known/openid-configuration').expect(200)).body;
  });

  test('names the issuer and its endpoints', () => {
    expect(meta.issuer).toBe(pharmid.config.issuer);
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint']) {
      expect(String(meta[endpoint])).toMatch(new RegExp(`^${pharmid.config.issuer}/`));
    }
  });

  test('code flow only, PKCE with S256 only', () => {
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(meta.grant_types_supported).not.toContain('implicit');
  });

  test('scopes openid, email, profile and sites; acr values phr, mfa and pwd; RS256 ID tokens', () => {
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'profile', 'sites']));
    expect([...(meta.acr_values_supported as string[])].sort()).toEqual(['mfa', 'phr', 'pwd']);
    expect(meta.id_token_signing_alg_values_supported).toContain('RS256');
    expect(meta.claims_supported).toEqual(expect.arrayContaining(['sub', 'email', 'email_verified', 'name', 'given_name', 'family_name', 'sites', 'site', 'acr', 'amr', 'auth_time']));
  });

  test('an implicit or plain-PKCE request is refused back to the portal', async () => {
    const browser = new Browser(pharmid.url);
    const implicit = new URL(`${pharmid.config.issuer}/auth`);
    implicit.search = new URLSearchParams({ client_id: client.client_id, redirect_uri: 'http://localhost:8080/callback', response_type: 'id_token', scope: 'openid', nonce: 'n' }).toString();
    const r1 = await browser.open(implicit.href);
    expect(r1.status).toBe(303);
    expect(r1.headers.location).toMatch(/unsupported_response_type/);

    const plain = await portal.authorizationRequest({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    const r2 = await browser.open(plain.url);
    expect(r2.status).toBe(303);
    expect(new URL(r2.headers.location!).searchParams.get('error')).toBe('invalid_request');
  });
});

describe('authorization codes', () => {
  test('a code used twice: the second exchange is invalid_grant and the first tokens are revoked', async () => {
    const { portal } = await freshPortal();
    const req = await portal.authorizationRequest();
    const res = await browser.open(req.url);
    const callback = res.headers.location!;
    expect(new URL(callback).searchParams.get('code')).toBeTruthy();

    const tokens = await portal.exchange(callback, req);
    expect((await portal.introspect(tokens.access_token)).active).toBe(true);
    expect(await oauthError(portal.exchange(callback, req))).toBe('invalid_grant');
    expect((await portal.introspect(tokens.access_token)).active).toBe(false);
  });

  test('two concurrent exchanges of one code: exactly one succeeds (three codes at once)', async () => {
    const codes: { portal: Portal; req: AuthorizationRequest; callback: string }[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { portal } = await freshPortal();
      const req = await portal.authorizationRequest();
      codes.push({ portal, req, callback: (await browser.open(req.url)).headers.location! });
    }
    const races = await Promise.all(codes.map(({ portal, req, callback }) =>
      Promise.allSettled([portal.exchange(callback, req), portal.exchange(callback, req)])));
    for (const results of races) {
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
      expect((rejected.reason as oidc.ResponseBodyError).error).toBe('invalid_grant');
    }
  });

  test('a code with the wrong PKCE verifier is refused', async () => {
    const { portal } = await freshPortal();
    const req = await portal.authorizationRequest();
    const callback = (await browser.open(req.url)).headers.location!;
    expect(await oauthError(portal.exchange(callback, { ...req, verifier: oidc.randomPKCECodeVerifier() }))).toBe('invalid_grant');
  });
});

describe('single sign-on', () => {
  // Each authorization request loads the whole session, records its portal's
  // grant in it and saves it back. Requests that overlap (a browser restoring
  // several portal tabs at once) would overwrite each other, and every portal
  // but the last would find its session-bound code "not found"; the store
  // merges the sessions' authorizations atomically instead.
  test('five portals reached at once from one signed-in browser all get their tokens', async () => {
    const someone = await makePerson(pharmid.deps);
    const own = new Browser(pharmid.url);
    await signInTo(portal, own, someone, pharmid.clock);
    const portals: Portal[] = [];
    for (let i = 0; i < 5; i += 1) portals.push(await Portal.connect(pharmid.config.issuer, await makeClient(pharmid.deps, { name: `Tab ${i}` })));
    const results = await Promise.allSettled(portals.map((p) => signInTo(p, own, someone, pharmid.clock)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
  });
});

describe('RP-initiated logout', () => {
  test('the sign-out page, then the post-logout redirect, then the sign-in page again', async () => {
    const { browser, tokens } = await signedIn();

    // Signed in: a new authorization request goes straight back to the portal.
    const sso = await browser.open((await portal.authorizationRequest()).url);
    expect(sso.status).toBe(303);
    expect(sso.headers.location).toMatch(/^http:\/\/localhost:8080\/callback\?code=/);

    const endSession = oidc.buildEndSessionUrl(portal.config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: 'http://localhost:8080/signed-out',
      state: 'bye-123',
    });
    const page = await browser.open(endSession.href);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Sign out of pharmid?');
    const action = formAction(page.text)!;
    const xsrf = unescapeHtml(/name="xsrf" value="([^"]+)"/.exec(page.text)![1]!);
    expect(xsrf.length).toBeGreaterThan(10);

    const done = await browser.submit(action, { xsrf, logout: 'yes' });
    expect(done.status).toBe(303);
    const to = new URL(done.headers.location!);
    expect(`${to.origin}${to.pathname}`).toBe('http://localhost:8080/signed-out');
    expect(to.searchParams.get('state')).toBe('bye-123');

    const next = await browser.open((await portal.authorizationRequest()).url);
    expect(next.status).toBe(200);
    expect(stepOf(next.text)).toBe('password');
  });

  test('a sign-out without the xsrf value does not sign out', async () => {
    const { browser, tokens } = await signedIn();
    const endSession = oidc.buildEndSessionUrl(portal.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://localhost:8080/signed-out' });
    const page = await browser.open(endSession.href);
    const res = await browser.submit(formAction(page.text)!, { xsrf: 'forged', logout: 'yes' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const sso = await browser.open((await portal.authorizationRequest()).url);
    expect(sso.status).toBe(303);
    expect(sso.headers.location).toMatch(/code=/);
  });
});

describe('operations endpoints', () => {
  test('/healthz answers 200', async () => {
    const res = await request(pharmid.url).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  test('/readyz answers 200 with postgres and redis ok', async () => {
    const res = await request(pharmid.url).get('/readyz').expect(200);
    expect(res.body).toMatchObject({ status: 'ready', postgres: 'ok', redis: 'ok' });
  });

  test('/metrics counts sign-in steps and times HTTP requests (after the sign-in in beforeAll)', async () => {
    const res = await request(pharmid.url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^# TYPE pharmid_sign_in_steps_total counter$/m);
    expect(res.text).toMatch(/^pharmid_sign_in_steps_total\{[^}]*step="password"[^}]*\} [1-9]\d*$/m);
    expect(res.text).toMatch(/^# TYPE pharmid_http_request_duration_seconds histogram$/m);
    expect(res.text).toMatch(/^pharmid_http_request_duration_seconds_count\{[^}]*\} [1-9]\d*$/m);
    expect(res.text).toMatch(/^pharmid_http_request_duration_seconds_count\{[^}]*route="token"[^}]*\} [1-9]\d*$/m);
  });
});
