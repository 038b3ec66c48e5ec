import { randomBytes } from 'node:crypto';
import { generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { driveSignIn, type Person } from '../helpers/sign-in.js';
import { withAuthenticator } from '../helpers/pages.js';
import { PortalVisitor, epoch, signAsPharmid } from '../helpers/portals.js';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
import { LOGOUT_EVENT } from '../../examples/portal/logout-token.js';

/**
 * The demo portal (examples/portal): a relying party on openid-client that
 * signs in through pharmid, shows who and where, calls userinfo, refreshes,
 * signs out (RP-initiated) and takes back-channel logouts — validating each
 * logout token and answering a bad one with 400, never a 500.
 */

let p: TestPharmid;
let outcomes: RunningPortal;
let refer: RunningPortal;
let outcomesId: string;
beforeAll(async () => {
  p = await startTestPharmid();
  [outcomes, refer] = await Promise.all([startPortal({ name: 'PharmOutcomes' }), startPortal({ name: 'PharmRefer' })]);
  for (const portal of [outcomes, refer]) {
    const client = await makeClient(p.deps, {
      name: portal.name,
      redirectUris: [portal.redirectUri],
      postLogoutRedirectUris: [portal.postLogoutRedirectUri],
      backchannelLogoutUri: portal.backchannelLogoutUri,
    });
    if (portal === outcomes) outcomesId = client.client_id;
    await portal.connect({ issuer: p.config.issuer, clientId: client.client_id, clientSecret: client.client_secret });
  }
});
afterAll(async () => {
  await Promise.all([outcomes.close(), refer.close()]);
  await p.stop();
});

/** Clicks "Sign in with pharmid" at a demo portal and answers pharmid's pages; returns the portal's page afterwards. */
async function signInAt(visitor: PortalVisitor, browser: Browser, person: Person, params = '') {
  const start = await visitor.get(`/login${params}`);
  expect(start.status).toBe(303);
  const { callback, steps } = await driveSignIn(browser, start.headers.get('location')!, person, p.clock);
  const back = await visitor.get(callback);
  expect(back.status).toBe(303);
  return { steps, page: await visitor.page('/') };
}

async function someone() {
  return withAuthenticator(p.deps, await makePerson(p.deps, { name: 'Asha Devi' }), p.clock);
}

test('signs in through pharmid and shows who, the site and the claims; userinfo and refresh work', async () => {
  const person = await someone();
  const visitor = new PortalVisitor(outcomes.url);
  const { steps, page } = await signInAt(visitor, new Browser(p.url), person);
  expect(steps).toEqual(['password', 'otp']);
  expect(page).toContain('data-status="signed-in"');
  expect(page).toMatch(/id="signed-in-as">Asha Devi</);
  expect(page).toContain(`(${person.site})`);
  expect(page).toContain('&quot;acr&quot;: &quot;mfa&quot;');

  expect((await visitor.post('/userinfo')).status).toBe(303);
  const withUserinfo = await visitor.page('/');
  expect(withUserinfo).toContain('Userinfo fetched from pharmid.');
  expect(withUserinfo).toMatch(new RegExp(`id="userinfo">[^<]*${person.email.replace(/\./g, '\\.')}`));

  expect((await visitor.post('/refresh')).status).toBe(303);
  expect(await visitor.page('/')).toMatch(/id="refreshes">1</);
});

test('single logout: signing out at one demo portal signs the person out of the other, by back-channel logout', async () => {
  const person = await someone();
  const browser = new Browser(p.url);
  const atOutcomes = new PortalVisitor(outcomes.url);
  const atRefer = new PortalVisitor(refer.url);
  await signInAt(atOutcomes, browser, person);
  const sso = await signInAt(atRefer, browser, person);
  expect(sso.steps).toEqual([]);
  expect(outcomes.openSessions().some((s) => s.sub === person.id)).toBe(true);

  const out = await atRefer.post('/logout');
  expect(out.status).toBe(303);
  const confirm = await browser.open(out.headers.get('location')!);
  const done = await browser.submit(formAction(confirm.text, '/session/end/confirm')!, {});
  expect(done.headers.location).toMatch(new RegExp(`^${refer.postLogoutRedirectUri}`));

  expect(outcomes.openSessions().some((s) => s.sub === person.id)).toBe(false);
  expect(outcomes.backchannelEnded.at(-1)).toMatchObject({ sub: person.id });
  expect(await atOutcomes.page('/')).toContain('pharmid told PharmOutcomes that you signed out');
  expect(await atRefer.page('/')).toContain('data-status="signed-out"');
});

test('prompt=none with no pharmid session: pharmid shows no page, and the portal hears login_required', async () => {
  const visitor = new PortalVisitor(outcomes.url);
  const start = await visitor.get('/login?prompt=none');
  const atPharmid = await new Browser(p.url).open(start.headers.get('location')!);
  expect(atPharmid.status).toBe(303);
  const callback = new URL(atPharmid.headers.location!);
  expect(callback.searchParams.get('error')).toBe('login_required');
  const page = await (await visitor.get(callback.href)).text();
  expect(page).toContain('You are not signed in to pharmid');
});

describe('the back-channel logout endpoint', () => {
  let liveSid: string;
  let liveSub: string;
  beforeAll(async () => {
    const person = await someone();
    await signInAt(new PortalVisitor(outcomes.url), new Browser(p.url), person);
    const live = outcomes.openSessions().find((s) => s.sub === person.id)!;
    liveSid = live.sid!;
    liveSub = live.sub;
  });

  const stillSignedIn = () => expect(outcomes.openSessions().some((s) => s.sid === liveSid)).toBe(true);

  function claims(change: Record<string, unknown> = {}): JWTPayload {
    const base: Record<string, unknown> = {
      iss: p.config.issuer, aud: outcomesId, iat: epoch(), exp: epoch() + 120,
      jti: randomBytes(12).toString('base64url'), sid: liveSid, sub: liveSub, events: { [LOGOUT_EVENT]: {} },
    };
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete base[k];
      else base[k] = v;
    }
    return base as JWTPayload;
  }

  const post = (body: string, type = 'application/x-www-form-urlencoded') =>
    fetch(outcomes.backchannelLogoutUri, { method: 'POST', headers: { 'content-type': type }, body });
  const send = (token: string) => post(new URLSearchParams({ logout_token: token }).toString());

  async function expectRefused(res: Response) {
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
    stillSignedIn();
  }

  const BAD: [string, () => Promise<string>][] = [
    ['signed with a key that is not pharmid\'s', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      return new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt' }).sign(privateKey);
    }],
    ['not signed at all (alg none)', async () => `${Buffer.from('{"alg":"none","typ":"logout+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`],
    ['whose claims were changed after signing', async () => {
      const [h, , s] = (await signAsPharmid(p.deps, claims({ sid: 'another-session' }))).split('.');
      return [h, Buffer.from(JSON.stringify(claims())).toString('base64url'), s].join('.');
    }],
    ['for another portal (aud)', () => signAsPharmid(p.deps, claims({ aud: 'another-portal' }))],
    ['from another issuer', () => signAsPharmid(p.deps, claims({ iss: 'https://idp.evil.example' }))],
    ['without the events claim', () => signAsPharmid(p.deps, claims({ events: undefined }))],
    ['with another event', () => signAsPharmid(p.deps, claims({ events: { 'http://schemas.openid.net/event/other': {} } }))],
    ['with the event not an object', () => signAsPharmid(p.deps, claims({ events: { [LOGOUT_EVENT]: 'yes' } }))],
    ['with a nonce (an ID token, not a logout token)', () => signAsPharmid(p.deps, claims({ nonce: 'n-0S6_WzA2Mj' }))],
    ['naming neither sid nor sub', () => signAsPharmid(p.deps, claims({ sid: undefined, sub: undefined }))],
    ['issued ten minutes ago', () => signAsPharmid(p.deps, claims({ iat: epoch() - 600, exp: epoch() + 60 }))],
    ['that has expired', () => signAsPharmid(p.deps, claims({ iat: epoch() - 100, exp: epoch() - 50 }))],
    ['without iat', () => signAsPharmid(p.deps, claims({ iat: undefined }))],
    ['without jti', () => signAsPharmid(p.deps, claims({ jti: undefined }))],
    ['typed as another kind of token', () => signAsPharmid(p.deps, claims(), { typ: 'at+jwt' })],
    ['that is not a JWT', async () => 'this-is-not-a-token'],
  ];

  test.each(BAD)('a logout token %s: 400 invalid_request, and no one is signed out', async (_name, make) => {
    await expectRefused(await send(await make()));
  });

  test('a valid logout token naming a session the portal does not have: 200, and no one else is signed out', async () => {
    const res = await send(await signAsPharmid(p.deps, claims({ sid: 'no-such-session' })));
    expect(res.status).toBe(200);
    stillSignedIn();
  });

  test('the same logout token sent twice: accepted once, refused as a replay the second time', async () => {
    const token = await signAsPharmid(p.deps, claims({ sid: 'some-ended-session' }));
    expect((await send(token)).status).toBe(200);
    await expectRefused(await send(token));
  });

  test('requests that are not a logout: no token, two tokens, JSON, GET — 400 or 405, never a 500', async () => {
    await expectRefused(await post(''));
    await expectRefused(await post('logout_token=a&logout_token=b'));
    await expectRefused(await post(JSON.stringify({ logout_token: 'x' }), 'application/json'));
    const get = await fetch(outcomes.backchannelLogoutUri);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  test('a valid logout token for the live session ends it: 200', async () => {
    const res = await send(await signAsPharmid(p.deps, claims()));
    expect(res.status).toBe(200);
    expect(outcomes.openSessions().some((s) => s.sid === liveSid)).toBe(false);
  });
});
