import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo, totpCode } from '../helpers/sign-in.js';
import { answer, errorPageText, looksLikeStackTrace, openAuthorization, textOf, withAuthenticator } from '../helpers/pages.js';
import { logoutReceiver, silently, type LogoutReceiver } from '../helpers/portals.js';
import { setPortalDisabled } from '../../src/domain/clients.js';

/**
 * Pages that say where you are: the sign-in page names the portal that
 * asked; the sign-out confirmation lists every portal it will sign out of
 * and can leave just the one that asked; and no protocol error reaches a
 * person raw: each says in plain words what happened and what to do next.
 */

let p: TestPharmid;
const receivers: LogoutReceiver[] = [];
beforeAll(async () => { p = await startTestPharmid(); });
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await p.stop();
});

async function portalNamed(name: string, extra: Parameters<typeof makeClient>[1] = {}) {
  const receiver = await logoutReceiver();
  receivers.push(receiver);
  const client = await makeClient(p.deps, { name, backchannelLogoutUri: receiver.url, ...extra });
  return { receiver, client, portal: await Portal.connect(p.config.issuer, client) };
}

const h1 = (html: string) => textOf(/<h1>([\s\S]*?)<\/h1>/.exec(html)?.[1] ?? '');
const title = (html: string) => textOf(/<title>([\s\S]*?)<\/title>/.exec(html)?.[1] ?? '');
const listed = (html: string, id: string) =>
  [...(new RegExp(`<ul id="${id}">([\\s\\S]*?)</ul>`).exec(html)?.[1] ?? '').matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => textOf(m[1]!));
/** What a person reads on an error page, leaving out the small line for the helpdesk (where the code may be). */
const plainText = (html: string) => errorPageText(html.replace(/<p class="nhsuk-body-s">[\s\S]*?<\/p>/g, ''));
const PROTOCOL_WORDS = /invalid_|client_id|redirect_uri|interaction|session not found|request has expired|client is invalid|oauth|oidc/i;

function expectPlainPage(res: { status: number; text: string; headers: Record<string, string> }, status: number, heading: RegExp) {
  expect({ status: res.status, heading: h1(res.text) }).toEqual({ status, heading: expect.stringMatching(heading) });
  expect(res.headers.location).toBeUndefined();
  expect(plainText(res.text)).not.toMatch(PROTOCOL_WORDS);
  expect(looksLikeStackTrace(res.text)).toBe(false);
}

describe('the sign-in page names the portal that asked', () => {
  test('a portal: "Sign in to PharmRefer", in the heading and the page title', async () => {
    const { portal } = await portalNamed('PharmRefer');
    const { res } = await openAuthorization(portal, new Browser(p.url));
    expect(h1(res.text)).toBe('Sign in to PharmRefer');
    expect(title(res.text)).toBe('Sign in to PharmRefer – pharmid');
    expect(textOf(res.text)).toContain('PharmRefer uses pharmid to sign you in.');
  });

  test('pharmid\'s own pages: "Sign in to your pharmid account"', async () => {
    const res = await new Browser(p.url).open('/account');
    expect(h1(res.text)).toBe('Sign in to your pharmid account');
    expect(title(res.text)).toBe('Sign in to your pharmid account – pharmid');
    expect(textOf(res.text)).not.toContain('uses pharmid to sign you in');
  });
});

describe('signing out: every portal listed, and "just this one"', () => {
  async function signedInToTwo() {
    const a = await portalNamed('PharmOutcomes');
    const b = await portalNamed('PharmRefer');
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const atA = await signInTo(a.portal, browser, person, p.clock);
    const atB = await signInTo(b.portal, browser, person, p.clock);
    return { a, b, browser, atA, atB };
  }

  /** The confirmation page a portal's "Sign out" opens (no page of its own to come back to). */
  async function confirmation(browser: Browser, portal: Portal, idToken: string) {
    const url = new URL(portal.config.serverMetadata().end_session_endpoint!);
    url.searchParams.set('id_token_hint', idToken);
    const page = await browser.open(url.href);
    expect(page.status).toBe(200);
    return { page, action: formAction(page.text, '/session/end/confirm')! };
  }

  test('the confirmation lists both portals; "just this one" signs out of PharmRefer only, and PharmOutcomes stays signed in', async () => {
    const { a, b, browser, atA, atB } = await signedInToTwo();
    const { page, action } = await confirmation(browser, b.portal, atB.tokens.id_token!);
    expect(listed(page.text, 'signed-in-portals').sort()).toEqual(['PharmOutcomes', 'PharmRefer']);
    expect(textOf(page.text)).toContain('Sign out of just this one (PharmRefer)');
    expect(textOf(page.text)).toContain('Sign out of all');

    // "Just this one" is the second form: the form secret alone, without logout=yes.
    const justThisOne = [...page.text.matchAll(/<form[^>]*>([\s\S]*?)<\/form>/g)].map((m) => m[1]!).find((f) => f.includes('sign-out-one'))!;
    expect(justThisOne).not.toContain('name="logout"');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(justThisOne)![1]!;
    const left = await browser.agent.post(new URL(action).pathname).type('form').send({ xsrf }).redirects(0);
    expect(left.status).toBe(303);
    const done = await browser.open(left.headers.location!);
    expect(done.status).toBe(200);
    expect(h1(done.text)).toBe('You have signed out');
    expect(listed(done.text, 'signed-out-of')).toEqual(['PharmRefer']);
    expect(listed(done.text, 'still-signed-in')).toEqual(['PharmOutcomes']);

    // PharmRefer was told and its tokens are gone; PharmOutcomes was not told and a silent sign-in still works.
    await b.receiver.received(1);
    await expect(b.portal.refresh(atB.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await silently(a.portal, browser)).params.code).toBeTruthy();
    expect(a.receiver.tokens).toHaveLength(0);
    await expect(a.portal.refresh(atA.tokens.refresh_token!)).resolves.toBeTruthy();
  });

  test('"Sign out of all" signs out of both, and the signed-out page names both', async () => {
    const { a, b, browser, atA } = await signedInToTwo();
    const { action } = await confirmation(browser, a.portal, atA.tokens.id_token!);
    // The first form, "Sign out of all", as a browser sends it.
    const done = await browser.submit(action, {});
    expect(done.status).toBe(200);
    expect(listed(done.text, 'signed-out-of').sort()).toEqual(['PharmOutcomes', 'PharmRefer']);
    expect(listed(done.text, 'still-signed-in')).toEqual([]);
    await a.receiver.received(1);
    await b.receiver.received(1);
    expect((await silently(a.portal, browser)).params.error).toBe('login_required');
  });

  test('with one portal there is nothing to keep: one "Sign out" button, and the portal named', async () => {
    const a = await portalNamed('Outcomes4Health');
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const atA = await signInTo(a.portal, browser, person, p.clock);
    const { page } = await confirmation(browser, a.portal, atA.tokens.id_token!);
    expect(listed(page.text, 'signed-in-portals')).toEqual(['Outcomes4Health']);
    expect(page.text).not.toContain('sign-out-one');
  });
});

describe('no raw protocol error reaches a person', () => {
  const authorize = (params: Record<string, string>) => {
    const url = new URL('/auth', p.url);
    url.search = new URLSearchParams({ redirect_uri: 'http://localhost:8080/callback', response_type: 'code', scope: 'openid', ...params }).toString();
    return url.href;
  };

  test('an unknown portal: 400, "pharmid does not know this portal", and a warning about links in emails', async () => {
    const res = await new Browser(p.url).open(authorize({ client_id: 'no-such-portal' }));
    expectPlainPage(res, 400, /^pharmid does not know this portal$/);
    expect(plainText(res.text)).toMatch(/link in an email/);
    // The code is there for a helpdesk, in the small print.
    expect(res.text).toContain('(invalid_client)');
  });

  test('a portal an administrator switched off: 400, named, and the person told nothing is wrong with their account', async () => {
    const { client, portal } = await portalNamed('PharmRefer');
    const req = await portal.authorizationRequest();
    await setPortalDisabled(p.deps, { kind: 'cli' }, client.client_id, true);
    const res = await new Browser(p.url).open(req.url);
    expectPlainPage(res, 400, /^PharmRefer is switched off$/);
    expect(plainText(res.text)).toMatch(/Nothing is wrong with your account/);
  });

  test('a redirect address the portal did not register: 400, the portal named, a link back to it, never a redirect', async () => {
    const { portal } = await portalNamed('PharmRefer');
    const res = await new Browser(p.url).open((await portal.authorizationRequest({ redirect_uri: 'https://attacker.example/callback' })).url);
    expectPlainPage(res, 400, /^PharmRefer sent you here with a wrong address$/);
    expect(res.text).toMatch(/<a href="http:\/\/localhost:8080\/" id="next-step">Go back to PharmRefer<\/a>/);
  });

  test('an expired sign-in (the sign-in gone from the store): 400, names the portal, with a link to start again there', async () => {
    const { portal } = await portalNamed('PharmRefer');
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const uid = formAction(res.text, '/interaction/')!.split('/')[2]!;
    await p.deps.store.del(`oidc:Interaction:${uid}`);
    const gone = await browser.open(`/interaction/${uid}`);
    expectPlainPage(gone, 400, /^This sign-in has expired$/);
    expect(plainText(gone.text)).toMatch(/Start again from PharmRefer/);
    expect(gone.text).toMatch(/id="next-step">Go back to PharmRefer</);
  });

  test('the portal is remembered once, when the sign-in starts, not again on each view of its pages', async () => {
    const { portal, client } = await portalNamed('PharmRefer');
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const uid = formAction(res.text, '/interaction/')!.split('/')[2]!;
    expect(JSON.parse((await p.deps.store.get(`sign-in-memory:${uid}`))!)).toEqual({ clientId: client.client_id, finished: false });
    await p.deps.store.del(`sign-in-memory:${uid}`);
    for (let i = 0; i < 3; i++) expect((await browser.open(`/interaction/${uid}`)).status).toBe(200);
    expect(await p.deps.store.get(`sign-in-memory:${uid}`)).toBeNull();
  });

  test('a sign-in page opened in another browser (its cookie missing): the same expired page', async () => {
    const { portal } = await portalNamed('PharmRefer');
    const { res } = await openAuthorization(portal, new Browser(p.url));
    const gone = await new Browser(p.url).open(formAction(res.text, '/interaction/')!);
    expectPlainPage(gone, 400, /^This sign-in has expired$/);
  });

  test('a sign-in nobody remembers (no portal known): says plainly to go back to the portal and start again', async () => {
    const gone = await new Browser(p.url).open('/interaction/aaaaaaaaaaaaaaaaaaaaa');
    expectPlainPage(gone, 400, /^This sign-in has expired$/);
    expect(plainText(gone.text)).toMatch(/Go back to the portal you were using/);
  });

  test('a sign-in page used again after it finished (second tab, back button): 409, "already signed in", the portal named', async () => {
    const { portal } = await portalNamed('PharmRefer');
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const { res: passwordPage } = await openAuthorization(portal, browser);
    const otpPage = await answer(browser, passwordPage, { email: person.email, password: person.password });
    const otpAction = formAction(otpPage.text, '/interaction/')!;
    const finished = await answer(browser, otpPage, { code: totpCode(person.totpSecret, p.clock.now()) });
    expect(finished.status).toBe(303);

    for (const again of [
      await answer(browser, otpPage, { code: '123456' }, otpAction),
      await answer(browser, passwordPage, { email: person.email, password: person.password }),
      await browser.open(otpAction.replace(/\/otp$/, '')),
      // The provider's resume address opened again.
      await browser.open(`/auth/${otpAction.split('/')[2]}`),
    ]) {
      expectPlainPage(again, 409, /^You have already signed in with this page$/);
      expect(again.text).toMatch(/id="next-step">Go back to PharmRefer</);
    }
  });
});
