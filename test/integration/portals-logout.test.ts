import { createRemoteJWKSet, decodeProtectedHeader } from 'jose';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo } from '../helpers/sign-in.js';
import { errorPageText, looksLikeStackTrace, withAuthenticator } from '../helpers/pages.js';
import { logoutReceiver, signAsPharmid, silently, epoch, type LogoutReceiver } from '../helpers/portals.js';
import { listAuditEventsForUser } from '../../src/db/queries/audit-events.js';
import { LOGOUT_EVENT, ReplayCache, validateLogoutToken } from '../../examples/portal/logout-token.js';

/**
 * Single logout: RP-initiated logout ends the pharmid session and every
 * portal that took part is told by back-channel logout, with retries and a
 * timeout; deliveries that still fail are audited. Bad hints are refused
 * with the protocol's error, never a 500.
 */

let p: TestPharmid;
const receivers: LogoutReceiver[] = [];
beforeAll(async () => {
  // Short per-try timeout so a portal that hangs costs the test little.
  p = await startTestPharmid({ BACKCHANNEL_LOGOUT_TIMEOUT_MS: '400', BACKCHANNEL_LOGOUT_ATTEMPTS: '3' });
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await p.stop();
});

async function portalWithReceiver(name: string, answers: (number | 'hang')[] = []) {
  const receiver = await logoutReceiver(answers);
  receivers.push(receiver);
  const client = await makeClient(p.deps, { name, backchannelLogoutUri: receiver.url });
  return { receiver, client, portal: await Portal.connect(p.config.issuer, client) };
}

/** Signs out at pharmid as a portal's "Sign out" does: end_session with the ID token, then the confirmation page. */
async function signOut(browser: Browser, portal: Portal, idToken: string) {
  const url = new URL(portal.config.serverMetadata().end_session_endpoint!);
  url.searchParams.set('id_token_hint', idToken);
  url.searchParams.set('post_logout_redirect_uri', 'http://localhost:8080/signed-out');
  const page = await browser.open(url.href);
  expect(page.status).toBe(200);
  const action = formAction(page.text, '/session/end/confirm');
  expect(action).toBeTruthy();
  const started = Date.now();
  const done = await browser.submit(action!, {});
  return { done, ms: Date.now() - started };
}

async function twoPortalsSignedIn(a: Awaited<ReturnType<typeof portalWithReceiver>>, b: Awaited<ReturnType<typeof portalWithReceiver>>) {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const browser = new Browser(p.url);
  const atA = await signInTo(a.portal, browser, person, p.clock);
  const atB = await signInTo(b.portal, browser, person, p.clock);
  expect(atB.steps).toEqual([]);
  return { person, browser, atA, atB };
}

async function backchannelAudits(userId: string) {
  return (await listAuditEventsForUser(p.deps.db, userId)).filter((e) => e.action === 'logout.backchannel');
}

test('signing out of one portal ends the pharmid session and sends each portal that took part a valid logout token', async () => {
  const a = await portalWithReceiver('PharmOutcomes');
  const b = await portalWithReceiver('PharmRefer');
  const bystander = await portalWithReceiver('Outcomes4Health');
  const { person, browser, atA, atB } = await twoPortalsSignedIn(a, b);

  const { done } = await signOut(browser, b.portal, atB.tokens.id_token!);
  expect(done.status).toBe(303);
  expect(done.headers.location).toMatch(/^http:\/\/localhost:8080\/signed-out/);

  expect(a.receiver.tokens).toHaveLength(1);
  expect(b.receiver.tokens).toHaveLength(1);
  expect(bystander.receiver.tokens).toHaveLength(0);
  const keys = createRemoteJWKSet(new URL(`${p.config.issuer}/jwks`));
  for (const [portal, token, idClaims] of [[a, a.receiver.tokens[0]!, atA.claims], [b, b.receiver.tokens[0]!, atB.claims]] as const) {
    expect(decodeProtectedHeader(token).typ).toBe('logout+jwt');
    const claims = await validateLogoutToken(token, { keys, issuer: p.config.issuer, clientId: portal.client.client_id, replay: new ReplayCache() });
    expect(claims.sub).toBe(person.id);
    expect(claims.sid).toBe(idClaims.sid);
  }
  // The session is over: no silent sign-in, and the portals' refresh tokens are revoked.
  expect((await silently(a.portal, browser)).params.error).toBe('login_required');
  await expect(a.portal.refresh(atA.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(b.portal.refresh(atB.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect(await backchannelAudits(person.id)).toEqual([]);
});

test('a portal that is briefly down (503) gets the logout on the next try, with a fresh token; nothing is audited', async () => {
  const a = await portalWithReceiver('PharmOutcomes', [503]);
  const b = await portalWithReceiver('PharmRefer');
  const { person, browser, atB } = await twoPortalsSignedIn(a, b);

  await signOut(browser, b.portal, atB.tokens.id_token!);

  expect(a.receiver.tokens).toHaveLength(2);
  expect(a.receiver.tokens[1]).not.toBe(a.receiver.tokens[0]);
  expect(b.receiver.tokens).toHaveLength(1);
  expect(await backchannelAudits(person.id)).toEqual([]);
});

test('a portal that never answers: each try times out, the sign-out still finishes promptly, and the failure is audited', async () => {
  const a = await portalWithReceiver('PharmOutcomes', ['hang', 'hang', 'hang']);
  const b = await portalWithReceiver('PharmRefer');
  const { person, browser, atB } = await twoPortalsSignedIn(a, b);

  const { done, ms } = await signOut(browser, b.portal, atB.tokens.id_token!);

  expect(done.status).toBe(303);
  // Three tries of 400 ms and two short waits between them, not oidc-provider's 2.5 s a try.
  expect(ms).toBeLessThan(3000);
  expect(a.receiver.tokens).toHaveLength(3);
  expect(b.receiver.tokens).toHaveLength(1);
  const [failure] = await backchannelAudits(person.id);
  expect(failure).toMatchObject({ outcome: 'failure', target_user: person.id });
  expect(failure!.details).toMatchObject({ client_id: a.client.client_id, attempts: 3, reason: 'timed out' });
});

test('a portal that refuses the logout token (400) is not sent it again, and the refusal is audited', async () => {
  const a = await portalWithReceiver('PharmOutcomes', [400]);
  const b = await portalWithReceiver('PharmRefer');
  const { person, browser, atB } = await twoPortalsSignedIn(a, b);

  await signOut(browser, b.portal, atB.tokens.id_token!);

  expect(a.receiver.tokens).toHaveLength(1);
  const [failure] = await backchannelAudits(person.id);
  expect(failure!.details).toMatchObject({ client_id: a.client.client_id, attempts: 1 });
});

describe('bad sign-out requests get the protocol error, never a 500, and sign nobody out', () => {
  let person: Awaited<ReturnType<typeof twoPortalsSignedIn>>;
  let a: Awaited<ReturnType<typeof portalWithReceiver>>;
  beforeAll(async () => {
    a = await portalWithReceiver('PharmOutcomes');
    const b = await portalWithReceiver('PharmRefer');
    person = await twoPortalsSignedIn(a, b);
  });

  const tamper = (jwt: string, part: number, edit: (s: string) => string) => jwt.split('.').map((s, i) => (i === part ? edit(s) : s)).join('.');
  const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  const withClaims = (jwt: string, change: Record<string, unknown>) =>
    tamper(jwt, 1, () => Buffer.from(JSON.stringify({ ...claimsOf(jwt), ...change })).toString('base64url'));

  const HINTS: [string, () => Promise<string>][] = [
    ['a signature that does not match', async () => tamper(person.atA.tokens.id_token!, 2, (s) => `${s.slice(0, -4)}AAAA`)],
    ['claims changed after signing (another subject)', async () => withClaims(person.atA.tokens.id_token!, { sub: '00000000-0000-4000-8000-000000000000' })],
    ['claims changed after signing (another portal)', async () => withClaims(person.atA.tokens.id_token!, { aud: 'someone-else' })],
    ['no signature at all (alg none)', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${person.atA.tokens.id_token!.split('.')[1]}.`],
    ['not a JWT', async () => 'not-a-token'],
    ['signed by pharmid for a portal that does not exist', async () => signAsPharmid(p.deps, {
      iss: p.config.issuer, aud: 'no-such-portal', sub: person.person.id, iat: epoch(), exp: epoch() + 600,
    }, { typ: 'JWT' })],
  ];

  test.each(HINTS)('id_token_hint with %s: 400 with the protocol error, as JSON or as a page', async (_name, make) => {
    const path = `/session/end?id_token_hint=${encodeURIComponent(await make())}`;
    const json = await person.browser.agent.get(path).set('accept', 'application/json').redirects(0);
    expect(json.status).toBe(400);
    expect(['invalid_request', 'invalid_client']).toContain(json.body.error);
    const page = await person.browser.agent.get(path).set('accept', 'text/html').redirects(0);
    expect(page.status).toBe(400);
    expect(looksLikeStackTrace(page.text)).toBe(false);
    expect(errorPageText(page.text)).toMatch(/problem/i);
    // Still signed in, and no portal told anything.
    expect((await silently(a.portal, person.browser)).params.code).toBeTruthy();
    expect(a.receiver.tokens).toHaveLength(0);
  });

  test('a post_logout_redirect_uri the portal did not register: 400', async () => {
    const url = new URL(`${p.config.issuer}/session/end`);
    url.searchParams.set('id_token_hint', person.atA.tokens.id_token!);
    url.searchParams.set('post_logout_redirect_uri', 'https://evil.example/');
    const res = await person.browser.open(url.href);
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  test('a confirmation without the form secret: 400, still signed in', async () => {
    const res = await person.browser.agent.post('/session/end/confirm').type('form').send({ logout: 'yes', xsrf: 'guessed' }).redirects(0);
    expect(res.status).toBe(400);
    expect(looksLikeStackTrace(res.text)).toBe(false);
    expect((await silently(a.portal, person.browser)).params.code).toBeTruthy();
  });

  test('an ID token from a session that has already ended (its sid unknown): no error page, no 500', async () => {
    const other = await twoPortalsSignedIn(a, await portalWithReceiver('PharmRefer'));
    const { done } = await signOut(other.browser, a.portal, other.atA.tokens.id_token!);
    expect(done.status).toBe(303);
    const url = new URL(`${p.config.issuer}/session/end`);
    url.searchParams.set('id_token_hint', other.atA.tokens.id_token!);
    const again = await other.browser.open(url.href);
    expect(again.status).toBeLessThan(500);
    expect(looksLikeStackTrace(again.text)).toBe(false);
  });
});

test('a logout token carries the back-channel event, the portal as audience and no nonce', async () => {
  const a = await portalWithReceiver('PharmOutcomes');
  const b = await portalWithReceiver('PharmRefer');
  const { browser, atB } = await twoPortalsSignedIn(a, b);
  await signOut(browser, b.portal, atB.tokens.id_token!);
  const claims = JSON.parse(Buffer.from(a.receiver.tokens[0]!.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  expect(claims).toMatchObject({ iss: p.config.issuer, aud: a.client.client_id, events: { [LOGOUT_EVENT]: {} } });
  expect(claims.nonce).toBeUndefined();
  expect(typeof claims.jti).toBe('string');
  expect(Math.abs((claims.iat as number) - epoch())).toBeLessThan(10);
});
