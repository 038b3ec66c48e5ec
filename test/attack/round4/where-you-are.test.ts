import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser, formAction } from '../../helpers/browser.js';
import { Portal } from '../../helpers/portal.js';
import { makeClient, makePerson, makeSite } from '../../helpers/factories.js';
import { signInTo } from '../../helpers/sign-in.js';
import { looksLikeStackTrace, openAuthorization, textOf, withAuthenticator } from '../../helpers/pages.js';
import { cookieValue, logoutReceiver, silently, type LogoutReceiver } from '../../helpers/portals.js';
import { consoleBrowser, csrfOn, staff } from '../../integration/admin-support.js';

/**
 * Round 4, the pages that say where you are: a portal's registered name on
 * the sign-in, sign-out and error pages (HTML in it stays text); input a
 * request carries is never drawn back raw; and "sign out of just this one"
 * leaves a session that is still whole: listed, ended by an administrator,
 * and not reachable with the cookie it had before.
 */
let p: TestPharmid;
const receivers: LogoutReceiver[] = [];
beforeAll(async () => { p = await startTestPharmid(); });
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await p.stop();
});

async function portalNamed(name: string) {
  const receiver = await logoutReceiver();
  receivers.push(receiver);
  const client = await makeClient(p.deps, { name, backchannelLogoutUri: receiver.url });
  return { receiver, client, portal: await Portal.connect(p.config.issuer, client) };
}

const HOSTILE = '<img src=x onerror=alert(1)>"\'><script>alert(2)</script>';
const h1 = (html: string) => textOf(/<h1>([\s\S]*?)<\/h1>/.exec(html)?.[1] ?? '');
/** The name drawn as markup, not as text (escaped, it reads &lt;img ...). */
const raw = (html: string) => /<script>alert|<img src=x/.test(html);

test('a portal whose registered name is HTML is named as text on the sign-in, sign-out and error pages', async () => {
  const { portal } = await portalNamed(HOSTILE);
  const other = await portalNamed('PharmOutcomes');
  const browser = new Browser(p.url);
  const { res } = await openAuthorization(portal, browser);
  expect(raw(res.text)).toBe(false);
  expect(h1(res.text)).toBe(`Sign in to ${HOSTILE}`);

  const wrong = await new Browser(p.url).open((await portal.authorizationRequest({ redirect_uri: 'https://attacker.example/cb' })).url);
  expect(wrong.status).toBe(400);
  expect(raw(wrong.text)).toBe(false);

  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const signedIn = new Browser(p.url);
  await signInTo(other.portal, signedIn, person, p.clock);
  const at = await signInTo(portal, signedIn, person, p.clock);
  const url = new URL(portal.config.serverMetadata().end_session_endpoint!);
  url.searchParams.set('id_token_hint', at.tokens.id_token!);
  const confirm = await signedIn.open(url.href);
  expect(confirm.status).toBe(200);
  expect(raw(confirm.text)).toBe(false);
  expect(textOf(confirm.text)).toContain(`Sign out of just this one (${HOSTILE})`);
  const done = await signedIn.submit(formAction(confirm.text, '/session/end/confirm')!, {});
  expect(raw(done.text)).toBe(false);
});

test('what a request carries (client_id, state, redirect_uri, a path) is never drawn back raw on an error page', async () => {
  const { client } = await portalNamed('PharmRefer');
  const tries = [
    `/auth?client_id=${encodeURIComponent(HOSTILE)}&redirect_uri=http://localhost:8080/callback&response_type=code&scope=openid`,
    `/auth?client_id=${client.client_id}&redirect_uri=${encodeURIComponent('javascript:alert(1)//')}&response_type=code&scope=openid&state=${encodeURIComponent(HOSTILE)}`,
    `/auth?client_id=${client.client_id}&redirect_uri=http://localhost:8080/callback&response_type=${encodeURIComponent(HOSTILE)}&scope=openid`,
    `/interaction/${encodeURIComponent('<script>alert(1)</script>')}`,
    `/session/end?client_id=${encodeURIComponent(HOSTILE)}`,
    `/session/end?id_token_hint=${encodeURIComponent(HOSTILE)}`,
  ];
  for (const path of tries) {
    const res = await new Browser(p.url).agent.get(path).redirects(0);
    // Something was answered: a page with a heading, the request sent back to the portal that made it (a bad
    // response_type with a registered redirect_uri), or an OAuth error body (an unknown client at /session/end);
    // without this, "nothing drawn raw" would also hold of an empty answer.
    expect({ path, raw: raw(res.text), js: /href="javascript:/i.test(res.text), trace: looksLikeStackTrace(res.text), fine: res.status < 500, drawn: /<h1[\s>]/.test(res.text) || ([302, 303].includes(res.status) && !!res.headers.location) || /^\{"error":"\w+"/.test(res.text) })
      .toEqual({ path, raw: false, js: false, trace: false, fine: true, drawn: true });
  }
});

test('after "just this one", the session left is whole: listed for an administrator, ended by them, and its old cookie is worth nothing', async () => {
  const site = await makeSite(p.deps, 'Hilltop Pharmacy');
  const admin = await staff(p, site.ods_code, 'site-admin', 'Bea Admin');
  const { browser: consoleB } = await consoleBrowser(p, admin);
  const person = await withAuthenticator(p.deps, await makePerson(p.deps, { site: site.ods_code, name: 'Lou Leaving' }), p.clock);
  const a = await portalNamed('PharmOutcomes');
  const b = await portalNamed('PharmRefer');
  const browser = new Browser(p.url);
  await signInTo(a.portal, browser, person, p.clock);
  const atB = await signInTo(b.portal, browser, person, p.clock);
  const before = cookieValue(browser, '_session')!;
  const beforeSig = cookieValue(browser, '_session.sig');
  /** A browser holding only these session cookies (the value, and its signature when there is one). */
  const holding = (value: string, sig: string | undefined) => {
    const b = new Browser(p.url);
    const host = new URL(p.url).hostname;
    b.agent.jar.setCookie(`_session=${value}; Path=/`, host, '/');
    if (sig) b.agent.jar.setCookie(`_session.sig=${sig}; Path=/`, host, '/');
    return b;
  };

  const url = new URL(b.portal.config.serverMetadata().end_session_endpoint!);
  url.searchParams.set('id_token_hint', atB.tokens.id_token!);
  const confirm = await browser.open(url.href);
  const justThisOne = [...confirm.text.matchAll(/<form[^>]*>([\s\S]*?)<\/form>/g)].map((m) => m[1]!).find((f) => f.includes('sign-out-one'))!;
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(justThisOne)![1]!;
  const left = await browser.agent.post(new URL(formAction(confirm.text, '/session/end/confirm')!).pathname).type('form').send({ xsrf }).redirects(0);
  expect(left.status).toBe(303);
  await b.receiver.received(1);

  // The cookie from before the sign-out of PharmRefer opens nothing.
  const stale = holding(before, beforeSig);
  expect((await silently(b.portal, stale)).params.error).toBe('login_required');
  expect((await silently(a.portal, stale)).params.error).toBe('login_required');
  // While the cookie the browser holds now still opens PharmOutcomes (so the old one was really tried).
  const current = holding(cookieValue(browser, '_session')!, cookieValue(browser, '_session.sig'));
  expect((await silently(a.portal, current)).params.code).toBeTruthy();
  expect(cookieValue(browser, '_session')).not.toBe(before);

  // The administrator sees the one session left, and ending it signs the person out of PharmOutcomes too.
  const page = await consoleB.open(`/admin/people/${person.id}`);
  const ids = [...page.text.matchAll(/data-session-id="([^"]+)"/g)].map((m) => m[1]!);
  expect(ids).toHaveLength(1);
  const ended = await consoleB.agent.post(`/admin/people/${person.id}/sessions/${encodeURIComponent(ids[0]!)}/end`).type('form')
    .send({ _csrf: csrfOn(page.text) }).redirects(0);
  expect(ended.status).toBe(303);
  await a.receiver.received(1);
  expect((await silently(a.portal, browser)).params.error).toBe('login_required');
});
