import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { driveSignIn, signInTo, totpCode } from '../helpers/sign-in.js';

/**
 * Attack: session fixation with a cookie planted before any sign-in, login
 * CSRF into pharmid's own pages, and a forged logout (GET and POST).
 */
let p: TestPharmid;
let portal: Portal;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
});
afterAll(() => p.stop());

type Jar = { getCookies(opts: unknown): { name: string; value: string }[]; setCookie(c: string, domain: string, path: string): void };
const jarOf = (b: Browser) => (b.agent as unknown as { jar: Jar }).jar;
const cookies = (b: Browser) => jarOf(b).getCookies({ domain: 'localhost', path: '/', secure: false, script: false });

test('a session cookie obtained anonymously and planted in the victim\'s browser before they sign in is worth nothing afterwards', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const attacker = new Browser(p.url);
  await attacker.open((await portal.authorizationRequest()).url);
  const planted = cookies(attacker).filter((c) => c.name.startsWith('_session'));
  // No session cookie before a sign-in at all is the protection itself; with one, it must not survive the sign-in.
  if (planted.length === 0) return;
  const browser = new Browser(p.url);
  for (const c of planted) jarOf(browser).setCookie(`${c.name}=${c.value}; Path=/`, 'localhost', '/');
  const { callback } = await driveSignIn(browser, (await portal.authorizationRequest()).url, victim, p.clock);
  expect(callback).toMatch(/code=/);
  const silent = await attacker.agent.get(new URL((await portal.authorizationRequest({ prompt: 'none' })).url).pathname + new URL((await portal.authorizationRequest({ prompt: 'none' })).url).search).redirects(0);
  expect(silent.headers.location ?? '').not.toMatch(/code=/);
});

test('login CSRF: the attacker\'s own callback to pharmid\'s pages, opened in the victim\'s browser, signs nobody in', async () => {
  const attackerPerson = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const attacker = new Browser(p.url);
  const first = await attacker.agent.get('/account').redirects(0);
  // Drive the attacker's sign-in up to the redirect to /portal/callback, and stop there.
  let res = await attacker.open(first.headers.location!);
  res = await attacker.submit(formAction(res.text, '/interaction/')!, { email: attackerPerson.email, password: attackerPerson.password });
  const last = await attacker.agent.post(formAction(res.text, '/interaction/')!).type('form')
    .send({ _csrf: /name="_csrf" value="([^"]+)"/.exec(res.text)![1]!, code: totpCode(attackerPerson.totpSecret!, p.clock.now()) }).redirects(0);
  let next = last.headers.location!;
  for (let i = 0; i < 5 && !next.includes('/portal/callback'); i += 1) {
    next = (await attacker.agent.get(new URL(next, p.url).pathname + new URL(next, p.url).search).redirects(0)).headers.location!;
  }
  expect(next).toContain('/portal/callback');
  const victim = new Browser(p.url);
  await victim.agent.get('/account').redirects(0); // the victim has a login of their own pending, even
  const opened = await victim.agent.get(new URL(next, p.url).pathname + new URL(next, p.url).search).redirects(0);
  void opened;
  const account = await victim.agent.get('/account').redirects(0);
  expect(account.status).not.toBe(200);
});

test('a forged logout: a cross-site GET or POST to the end-session endpoint, and to its confirmation, ends nothing', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const browser = new Browser(p.url);
  const { tokens } = await signInTo(portal, browser, victim, p.clock);
  await browser.agent.post('/session/end').type('form').send({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://localhost:8080/signed-out' }).redirects(0);
  await browser.agent.get(`/session/end?id_token_hint=${tokens.id_token!}`).redirects(0);
  for (const body of [{ logout: 'yes' }, { logout: 'yes', xsrf: '' }, { logout: 'yes', xsrf: 'x'.repeat(64) }, {}]) {
    await browser.agent.post('/session/end/confirm').type('form').send(body).redirects(0);
  }
  const silent = await portal.authorizationRequest({ prompt: 'none' });
  const res = await browser.agent.get(new URL(silent.url).pathname + new URL(silent.url).search).redirects(0);
  expect(res.headers.location).toMatch(/code=/);
});
