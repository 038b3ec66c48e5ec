import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { createTestBackends } from '../helpers/backends.js';
import { Browser, formAction, hiddenFields } from '../helpers/browser.js';
import { Portal, type AuthorizationRequest } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { driveSignIn, signInTo, stepOf, totpCode } from '../helpers/sign-in.js';
import { withAuthenticator } from '../helpers/pages.js';

/**
 * The authorization endpoint and the end-session endpoint take a form POST
 * as well as GET (OpenID Connect Core 3.1.2.1; RP-Initiated Logout 1.0 §2),
 * with the cookies that makes possible (SameSite=None; Secure for the
 * session in production) and the protections that stay: CSRF tokens on
 * pharmid's forms, a confirmed logout, a new session id at each sign-in.
 */

/** A portal's auto-submitted form: the request's parameters in a POST body. */
function formOf(url: string): string {
  return new URL(url).searchParams.toString();
}

function cookieValue(res: Response, name: string): string | undefined {
  const all = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const line = all.find((c) => c.startsWith(`${name}=`));
  return line ? line.slice(name.length + 1).split(';')[0] : undefined;
}

describe('development (http)', () => {
  let p: TestPharmid;
  let portal: Portal;
  beforeAll(async () => {
    p = await startTestPharmid();
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  });
  afterAll(() => p.stop());

  /** POSTs the authorization request; returns where pharmid sends the browser. */
  async function postAuthorization(browser: Browser, req: AuthorizationRequest) {
    const res = await browser.agent.post('/auth').type('form').send(formOf(req.url)).redirects(0);
    expect(res.status).toBe(303);
    return res;
  }

  test('a form POST to the authorization endpoint, with PKCE, leads through the sign-in to a code and tokens', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const req = await portal.authorizationRequest();
    const started = await postAuthorization(browser, req);
    expect(started.headers.location).toMatch(/\/interaction\//);
    const { callback, steps } = await driveSignIn(browser, started.headers.location!, person, p.clock);
    expect(steps).toEqual(['password', 'otp']);
    const tokens = await portal.exchange(callback, req);
    expect(tokens.claims()).toMatchObject({ sub: person.id, acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });

    // Single sign-on by POST: the session cookie goes with it, the code comes straight back.
    const again = await portal.authorizationRequest();
    const sso = await postAuthorization(browser, again);
    expect(sso.headers.location).toMatch(/^http:\/\/localhost:8080\/callback\?code=/);
    expect((await portal.exchange(sso.headers.location!, again)).claims()).toMatchObject({ sub: person.id });
  });

  test('a form POST to the end-session endpoint signs out after the confirmation, and back to the portal', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const { tokens } = await signInTo(portal, browser, person, p.clock);
    const endSession = new URL(portal.config.serverMetadata().end_session_endpoint!).pathname;
    const page = await browser.agent.post(endSession).type('form')
      .send({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://localhost:8080/signed-out', state: 'bye' }).redirects(0);
    expect(page.status).toBe(200);
    browser.lastPage = page.text;
    const action = formAction(page.text, '/session/end/confirm')!;
    const done = await browser.submit(action, {});
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('http://localhost:8080/signed-out?state=bye');
    // Signed out: the next sign-in asks for the password again.
    const next = await browser.open((await portal.authorizationRequest()).url);
    expect(stepOf(next.text)).toBe('password');
  });

  test('a forged cross-site POST to the logout confirmation (no per-session secret) ends nothing', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    await signInTo(portal, browser, person, p.clock);
    const forged = await browser.agent.post('/session/end/confirm').type('form').send({ logout: 'yes' }).redirects(0);
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    const req = await portal.authorizationRequest({ prompt: 'none' });
    const still = await browser.agent.get(new URL(req.url).pathname + new URL(req.url).search).redirects(0);
    expect(still.headers.location).toMatch(/\?code=/);
  });

  test('the session id is new at every sign-in, a POSTed one included (no fixation), and the old one is worthless', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const first = await signInTo(portal, browser, person, p.clock);
    expect(first.steps).toEqual(['password', 'otp']);
    const jarBefore = browser.agent.jar.getCookie('_session', { domain: 'localhost', path: '/', secure: false, script: false } as never) as { value: string } | undefined;
    expect(jarBefore?.value).toBeTruthy();
    p.clock.advance(30);
    const req = await portal.authorizationRequest({ prompt: 'login' });
    const started = await postAuthorization(browser, req);
    const { callback } = await driveSignIn(browser, started.headers.location!, person, p.clock);
    await portal.exchange(callback, req);
    const jarAfter = browser.agent.jar.getCookie('_session', { domain: 'localhost', path: '/', secure: false, script: false } as never) as { value: string } | undefined;
    expect(jarAfter?.value).toBeTruthy();
    expect(jarAfter!.value).not.toBe(jarBefore!.value);
    // Someone holding the session cookie from before the sign-in gets no sign-in from it.
    const planted = await request(p.url).post('/auth').type('form').set('Cookie', `_session=${jarBefore!.value}`)
      .send(formOf((await portal.authorizationRequest({ prompt: 'none' })).url)).redirects(0);
    expect(planted.headers.location).toMatch(/error=login_required/);
  });

  test('over http the session cookie is Lax (browsers refuse SameSite=None without Secure)', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const req = await portal.authorizationRequest();
    const started = await postAuthorization(browser, req);
    let res = await browser.open(started.headers.location!);
    res = await browser.submit(formAction(res.text, '/interaction/')!, { email: person.email, password: person.password });
    const otp = await browser.agent.post(new URL(formAction(res.text, '/interaction/')!, p.url).pathname).type('form')
      .send({ ...hiddenFields(res.text, formAction(res.text, '/interaction/')!), code: totpCode(person.totpSecret, p.clock.now()) }).redirects(0);
    const resume = await browser.agent.get(new URL(otp.headers.location!, p.url).pathname).redirects(0);
    const session = ([] as string[]).concat(resume.headers['set-cookie'] ?? []).find((c) => c.startsWith('_session='));
    expect(session).toMatch(/;\s*samesite=lax/i);
    expect(session).not.toMatch(/;\s*secure/i);
  });
});

describe('production (https)', () => {
  test('the session cookie is SameSite=None; Secure; HttpOnly, the interaction and CSRF cookies Lax, and a POSTed sign-in works', async () => {
    const backends = await createTestBackends();
    const prod = await startTestPharmid({ NODE_ENV: 'production', ISSUER: 'https://pharmid.example', TRUST_PROXY: '1' }, {
      backends, secretKey: randomBytes(32).toString('base64'), cookieKey: randomBytes(24).toString('base64url'),
    });
    try {
      const client = await makeClient(prod.deps, { redirectUris: ['https://portal.example/callback'], postLogoutRedirectUris: [] });
      const person = await withAuthenticator(prod.deps, await makePerson(prod.deps), prod.clock);
      // A browser on https: every cookie goes back (Secure ones included), each Set-Cookie line is kept.
      const jar = new Map<string, string>();
      const lines: string[] = [];
      const send = async (method: 'get' | 'post', url: string, form?: Record<string, string> | string) => {
        const { pathname, search } = new URL(url, 'https://pharmid.example');
        const path = pathname + search;
        let r = request(prod.url)[method](path).set('X-Forwarded-Proto', 'https').set('Cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
        if (form !== undefined) r = r.type('form').send(form);
        const res = await r.redirects(0);
        for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
          lines.push(line);
          const [pair] = line.split(';');
          const eq = pair!.indexOf('=');
          jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
        return res;
      };
      const params = new URLSearchParams({
        client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'https://portal.example/callback',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's',
      });
      let res = await send('post', '/auth', params.toString());
      expect(res.status).toBe(303);
      res = await send('get', res.headers.location!);
      let action = formAction(res.text, '/interaction/')!;
      res = await send('post', action, { ...hiddenFields(res.text, action), email: person.email, password: person.password });
      while (res.status === 303 && res.headers.location!.includes('/interaction/')) res = await send('get', res.headers.location!);
      action = formAction(res.text, '/interaction/')!;
      res = await send('post', action, { ...hiddenFields(res.text, action), code: totpCode(person.totpSecret, prod.clock.now()) });
      while (res.status === 303 && !res.headers.location!.startsWith('https://portal.example/')) res = await send('get', res.headers.location!);
      expect(res.headers.location).toMatch(/^https:\/\/portal\.example\/callback\?code=/);

      const byName = (name: string) => lines.filter((l) => l.startsWith(`${name}=`) && !/expires=Thu, 01 Jan 1970/i.test(l));
      expect(byName('_session').length).toBeGreaterThan(0);
      for (const line of byName('_session')) {
        expect(line).toMatch(/;\s*samesite=none/i);
        expect(line).toMatch(/;\s*secure/i);
        expect(line).toMatch(/;\s*httponly/i);
      }
      for (const name of ['_interaction', '_interaction_resume', 'pharmid.csrf']) {
        expect({ name, seen: byName(name).length > 0 }).toEqual({ name, seen: true });
        for (const line of byName(name)) expect(line).toMatch(/;\s*samesite=lax/i);
      }
      for (const line of lines) expect(line).toMatch(/;\s*secure/i);

      // Single sign-on through a POST: the cross-site POST carries the session.
      const sso = await send('post', '/auth', new URLSearchParams({ ...Object.fromEntries(params), prompt: 'none', state: 't' }).toString());
      expect(sso.headers.location).toMatch(/^https:\/\/portal\.example\/callback\?code=.*state=t/);
    } finally {
      await prod.stop();
      await backends.drop();
    }
  });
});
