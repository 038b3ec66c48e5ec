import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makePerson } from '../helpers/factories.js';
import { cookieValue } from '../helpers/portals.js';
import { withAuthenticator } from '../helpers/pages.js';
import { driveSignIn } from '../helpers/sign-in.js';
import { resetMfa } from '../../src/domain/users.js';
import { safeReturnTo } from '../../src/http/own-portal.js';

let p: TestPharmid;
beforeAll(async () => { p = await startTestPharmid(); });
afterAll(() => p.stop());

/** Opens a pharmid page, signing in through pharmid's own portal when asked; returns the page. */
async function openSignedIn(browser: Browser, path: string, person: Parameters<typeof driveSignIn>[2]) {
  const first = await browser.agent.get(path).redirects(0);
  expect(first.status).toBe(302);
  const { page, steps } = await driveSignIn(browser, first.headers.location!, person, p.clock);
  return { page: page!, steps };
}

test('the account page signs people in through pharmid itself, with password and code, and back to the page', async () => {
  const person = await makePerson(p.deps);
  const browser = new Browser(p.url);
  const { page, steps } = await openSignedIn(browser, '/account', person);
  expect(steps).toEqual(['password', 'enrol', 'recovery-codes']);
  expect(page.status).toBe(200);
  expect(page.text).toContain(person.email);
  // Signed in now: the page opens directly.
  expect((await browser.agent.get('/account').redirects(0)).status).toBe(200);
});

test('an administrative reset ends the page session too', async () => {
  const person = await makePerson(p.deps);
  const browser = new Browser(p.url);
  await openSignedIn(browser, '/account', person);
  await resetMfa(p.deps, { kind: 'cli' }, person.email);
  expect((await browser.agent.get('/account').redirects(0)).status).toBe(302);
});

test('signing out ends the page session and pharmid sign-in session', async () => {
  const person = await makePerson(p.deps);
  const browser = new Browser(p.url);
  const { page } = await openSignedIn(browser, '/account', person);
  const out = await browser.submit(formAction(page.text, '/portal/sign-out')!, {});
  // pharmid asks to confirm signing out of everything.
  const confirm = await browser.submit(formAction(out.text, '/session/end')!, {});
  expect(confirm.status).toBeLessThan(400);
  expect((await browser.agent.get('/account').redirects(0)).status).toBe(302);
  const again = await browser.open((await browser.agent.get('/account').redirects(0)).headers.location!);
  expect(again.text).toContain('name="password"');
});

test('the sign-in callback never redirects off pharmid', () => {
  expect(safeReturnTo('/account?x=1')).toBe('/account?x=1');
  for (const bad of ['//evil.example/x', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)', '/a b']) {
    expect(safeReturnTo(bad)).toBe('/account');
  }
});

test('using the account page keeps the sign-in alive; leaving it idle past the timeout ends it', async () => {
  const idle = await startTestPharmid({ SESSION_IDLE_TTL: '2' });
  try {
    const person = await makePerson(idle.deps);
    const browser = new Browser(idle.url);
    const first = await browser.agent.get('/account').redirects(0);
    await driveSignIn(browser, first.headers.location!, person, idle.clock);
    expect((await browser.agent.get('/account').redirects(0)).status).toBe(200);
    // Used within the timeout, again and again past it: still signed in. Each use starts the clock
    // again, on the pharmid sign-in session too (without that, it would end at 2 s and take the page with it).
    for (let i = 0; i < 3; i += 1) {
      await new Promise((r) => setTimeout(r, 1_100));
      expect((await browser.agent.get('/account').redirects(0)).status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 2_600));
    expect((await browser.agent.get('/account').redirects(0)).status).toBe(302);
  } finally {
    await idle.stop();
  }
});

test('a browser signed out from another browser\'s account page is signed out of the account page too', async () => {
  const person = await makePerson(p.deps);
  const desk = new Browser(p.url);
  await openSignedIn(desk, '/account', person);
  p.clock.advance(30);
  const till = new Browser(p.url);
  await openSignedIn(till, '/account', person);
  expect((await till.agent.get('/account').redirects(0)).status).toBe(200);

  // At the desk, end the till's session (the form of the session that is not this browser's).
  const page = await desk.open('/account');
  const endActions = [...page.text.matchAll(/action="(\/account\/sessions\/[^"/]+\/end)"/g)].map((m) => m[1]!);
  expect(endActions).toHaveLength(1);
  const ended = await desk.submit(endActions[0]!, {});
  expect(ended.status).toBeLessThan(400);
  expect((await till.agent.get('/account').redirects(0)).status).toBe(302);
  expect((await desk.agent.get('/account').redirects(0)).status).toBe(200);
});

describe('the CSRF token belongs to the signed-in session', () => {
  const csrfOn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

  test('the CSRF cookie set before a sign-in does not keep its value after it, and a form token from before is refused', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const first = await browser.agent.get('/account').redirects(0);
    const signInPage = await browser.open(first.headers.location!);
    const before = cookieValue(browser, 'pharmid.csrf');
    const tokenBefore = csrfOn(signInPage.text);
    expect(before).toBeTruthy();
    expect(tokenBefore).toBeTruthy();
    p.clock.advance(30);
    const { page } = await driveSignIn(browser, first.headers.location!, person, p.clock);
    expect(page?.status).toBe(200);
    const after = cookieValue(browser, 'pharmid.csrf');
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
    // A token made before the sign-in opens no form after it.
    const res = await browser.agent.post('/account/sessions/end-all').type('form').send({ _csrf: tokenBefore }).redirects(0);
    expect(res.status).toBe(403);
    expect((await browser.agent.get('/account').redirects(0)).status).toBe(200);
  });

  test('a cookie and token taken from one session open no form in another, even with the cookie planted there', async () => {
    const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const attacker = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const theirs = new Browser(p.url);
    const mine = new Browser(p.url);
    await openSignedIn(theirs, '/account', victim);
    p.clock.advance(30);
    const { page } = await openSignedIn(mine, '/account', attacker);
    const value = cookieValue(mine, 'pharmid.csrf')!;
    const token = csrfOn(page.text)!;
    // The attacker's cookie value planted in the victim's browser, with the attacker's own form token.
    const jar = (theirs.agent as unknown as { jar: { setCookie(c: string, domain: string, path: string): void } }).jar;
    jar.setCookie(`pharmid.csrf=${value}; Path=/; HttpOnly`, new URL(p.url).hostname, '/');
    expect(cookieValue(theirs, 'pharmid.csrf')).toBe(value);
    const res = await theirs.agent.post('/account/sessions/end-all').type('form').send({ _csrf: token }).redirects(0);
    expect(res.status).toBe(403);
    expect((await theirs.agent.get('/account').redirects(0)).status).toBe(200);
  });
});
