import { Redis } from 'ioredis';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo } from '../helpers/sign-in.js';
import { withAuthenticator, expectPage, openAuthorization } from '../helpers/pages.js';
import { cookieValue, epoch, rewriteSession, silently, sleep } from '../helpers/portals.js';
import { sessionTtl } from '../../src/oidc/session-activity.js';
import { resetMfa } from '../../src/domain/users.js';

/**
 * Portals keep people signed in while they work: refresh tokens rotate (a
 * reused one revokes the grant), `prompt=none` signs in silently while the
 * pharmid session lives, and the session ends after an idle timeout or its
 * absolute lifetime, whichever comes first.
 */

async function signedIn(p: TestPharmid, portal: Portal, browser = new Browser(p.url)) {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const first = await signInTo(portal, browser, person, p.clock);
  return { person, browser, first };
}

describe('with the default lifetimes', () => {
  let p: TestPharmid;
  let outcomes: Portal;
  let refer: Portal;
  beforeAll(async () => {
    p = await startTestPharmid();
    outcomes = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmOutcomes' }));
    refer = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmRefer' }));
  });
  afterAll(() => p.stop());

  test('a refresh gives new tokens and a new refresh token; the one it replaced is no longer accepted', async () => {
    const { person, first } = await signedIn(p, outcomes);
    const second = await outcomes.refresh(first.tokens.refresh_token!);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.tokens.refresh_token);
    expect(second.access_token).not.toBe(first.tokens.access_token);
    expect(second.claims()?.sub).toBe(person.id);
    const third = await outcomes.refresh(second.refresh_token!);
    expect((await outcomes.userinfo(third.access_token, person.id)).email).toBe(person.email);
  });

  test('a refresh token used twice is refused, and the whole grant goes: the newer refresh token and its access token too', async () => {
    const { first } = await signedIn(p, outcomes);
    const stolen = first.tokens.refresh_token!;
    const rotated = await outcomes.refresh(stolen);
    await expect(outcomes.refresh(stolen)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(outcomes.refresh(rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await outcomes.introspect(rotated.access_token)).active).toBe(false);
  });

  test('prompt=none with a pharmid session: a code straight back to the portal, no page, the same sign-in', async () => {
    const { person, browser, first } = await signedIn(p, outcomes);
    const { req, callback, params } = await silently(refer, browser);
    expect(params.code).toBeTruthy();
    expect(params.error).toBeUndefined();
    const tokens = await refer.exchange(callback.href, req);
    expect(tokens.claims()).toMatchObject({ sub: person.id, auth_time: first.claims.auth_time, acr: 'mfa' });
  });

  test('prompt=none without a pharmid session: login_required to the portal, with its state, and no page', async () => {
    const { req, callback, params } = await silently(outcomes, new Browser(p.url));
    expect(callback.origin + callback.pathname).toBe(outcomes.redirectUri);
    expect(params).toMatchObject({ error: 'login_required', state: req.state });
    expect(params.code).toBeUndefined();
  });

  test('prompt=none after an administrative reset ended the session: an error to the portal, no code, no page', async () => {
    const { person, browser } = await signedIn(p, outcomes);
    await resetMfa(p.deps, { kind: 'cli' }, person.email);
    const { req, params } = await silently(refer, browser);
    expect(params.code).toBeUndefined();
    expect(params.error).toBe('login_required');
    expect(params.state).toBe(req.state);
  });

  test('the session is kept for the idle timeout from its last use, not the absolute lifetime', async () => {
    const { browser } = await signedIn(p, outcomes);
    const redis = new Redis(p.backends_.redisUrl);
    try {
      const ttl = await redis.ttl(`${p.backends_.redisKeyPrefix}oidc:Session:${cookieValue(browser, '_session')}`);
      expect(ttl).toBeGreaterThan(p.config.ttl.sessionIdle - 10);
      expect(ttl).toBeLessThanOrEqual(p.config.ttl.sessionIdle);
      expect(p.config.ttl.sessionIdle).toBeLessThan(p.config.ttl.session);
    } finally {
      redis.disconnect();
    }
  });

  test('no use keeps a session beyond its absolute lifetime from the sign-in', async () => {
    const { browser } = await signedIn(p, outcomes);
    // As if the person had signed in nearly a whole session lifetime ago (2 s left).
    await rewriteSession(p.deps, browser, (s) => { s.loginTs = epoch() - p.config.ttl.session + 2; });
    // Used now: still signed in, but this use cannot extend it past the absolute end.
    expect((await silently(refer, browser)).params.code).toBeTruthy();
    await sleep(3100);
    expect((await silently(refer, browser)).params.error).toBe('login_required');
    const { res } = await openAuthorization(outcomes, browser);
    expectPage(res, 'password');
  });

  test('the lifetime rule: the idle timeout from now, cut short by the absolute end', () => {
    const now = 1_000_000;
    const ttl = sessionTtl({ session: 12 * 3600, sessionIdle: 2 * 3600 }, () => now);
    expect(ttl(undefined, { loginTs: now })).toBe(2 * 3600);
    expect(ttl(undefined, { loginTs: now - 11 * 3600 })).toBe(3600);
    expect(ttl(undefined, { loginTs: now - 12 * 3600 - 5 })).toBe(1);
    expect(ttl(undefined, {})).toBe(2 * 3600);
    expect(sessionTtl({ session: 600, sessionIdle: 3600 }, () => now)(undefined, { loginTs: now })).toBe(600);
  });
});

describe('with a 3-second idle timeout', () => {
  let p: TestPharmid;
  let outcomes: Portal;
  let refer: Portal;
  beforeAll(async () => {
    p = await startTestPharmid({ SESSION_IDLE_TTL: '3' });
    outcomes = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmOutcomes' }));
    refer = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmRefer' }));
  });
  afterAll(() => p.stop());

  test('an unused session ends: prompt=none answers login_required, and the refresh token bound to it is refused', async () => {
    const { browser, first } = await signedIn(p, outcomes);
    await sleep(3600);
    expect((await silently(refer, browser)).params.error).toBe('login_required');
    await expect(outcomes.refresh(first.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  test('each use of the session starts the idle timeout again', async () => {
    const { browser } = await signedIn(p, outcomes);
    await sleep(1600);
    expect((await silently(refer, browser)).params.code).toBeTruthy();
    await sleep(1600);
    // 3.2 s after the sign-in, 1.6 s after the last use: still signed in.
    expect((await silently(outcomes, browser)).params.code).toBeTruthy();
  });

  test('a portal refreshing its tokens is the person at work: the session stays alive', async () => {
    const { browser, first } = await signedIn(p, outcomes);
    await sleep(1600);
    const refreshed = await outcomes.refresh(first.tokens.refresh_token!);
    await sleep(1600);
    // 3.2 s after the sign-in and no page since: the refresh kept the session.
    expect((await silently(refer, browser)).params.code).toBeTruthy();
    expect((await outcomes.refresh(refreshed.refresh_token!)).access_token).toBeTruthy();
  });
});
