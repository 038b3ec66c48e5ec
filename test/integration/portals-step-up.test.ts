import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { linkPerson, makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { signInTo, totpCode } from '../helpers/sign-in.js';
import { answer, expectPage, openAuthorization, portalRedirect, withAuthenticator } from '../helpers/pages.js';
import { rewriteSession, silently, sleep } from '../helpers/portals.js';

/**
 * Step-up and site context: a password-only session never reaches a portal
 * that requires MFA (the code alone is asked); prompt=login and max_age
 * force a fresh sign-in with a right auth_time; with the `sites` scope a
 * locum chooses a site, remembered per portal, and can be asked again.
 */

let p: TestPharmid;
let outcomes: Portal;
let refer: Portal;
let relaxed: Portal;
beforeAll(async () => {
  p = await startTestPharmid();
  outcomes = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmOutcomes' }));
  refer = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmRefer', requireMfa: true }));
  // Registered without require_mfa: only acr_values=mfa (or pharmid's own policy) can demand the code.
  relaxed = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'Outcomes4Health', requireMfa: false }));
});
afterAll(() => p.stop());

async function signedIn(portal = outcomes, person?: Awaited<ReturnType<typeof makePerson>>) {
  const who = await withAuthenticator(p.deps, person ?? (await makePerson(p.deps)), p.clock);
  const browser = new Browser(p.url);
  const first = await signInTo(portal, browser, who, p.clock);
  return { person: who, browser, first };
}

/** The session a grace policy leaves: signed in with the password only. */
async function passwordOnly(browser: Browser) {
  await rewriteSession(p.deps, browser, (s) => { s.acr = 'pwd'; s.amr = ['pwd']; });
}

describe('step-up from a password-only session', () => {
  test('a portal asking acr_values=mfa: only the code is asked (not the password), and it gets acr mfa', async () => {
    const { person, browser, first } = await signedIn();
    await passwordOnly(browser);
    p.clock.advance(30);
    const after = await signInTo(relaxed, browser, person, p.clock, { acr_values: 'mfa' });
    expect(after.steps).toEqual(['otp']);
    expect(after.claims).toMatchObject({ sub: person.id, acr: 'mfa' });
    expect(after.claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp', 'mfa']));
    expect(after.claims.auth_time).toBeGreaterThanOrEqual(first.claims.auth_time as number);
  });

  test('a portal registered to require MFA steps up too, with no acr_values', async () => {
    const { person, browser } = await signedIn();
    await passwordOnly(browser);
    p.clock.advance(30);
    const after = await signInTo(refer, browser, person, p.clock);
    expect(after.steps).toEqual(['otp']);
    expect(after.claims.acr).toBe('mfa');
  });

  test('a wrong code at the step-up is refused like at sign-in; the portal gets nothing', async () => {
    const { person, browser } = await signedIn();
    await passwordOnly(browser);
    const { res } = await openAuthorization(refer, browser);
    const wrong = String((Number(totpCode(person.totpSecret, p.clock.now())) + 1) % 1_000_000).padStart(6, '0');
    const refused = await answer(browser, expectPage(res, 'otp'), { code: wrong });
    expectPage(refused, 'otp', 401);
    expect(portalRedirect(refused)).toBeUndefined();
  });

  test('prompt=none with a password-only session: an error to the portal and no code, never a password-only sign-in', async () => {
    const { browser } = await signedIn();
    await passwordOnly(browser);
    const { params } = await silently(refer, browser, { acr_values: 'mfa' });
    expect(params.code).toBeUndefined();
    expect(params.error).toBe('login_required');
  });
});

describe('a fresh sign-in when the portal asks for one', () => {
  test('prompt=login: password and code again, and a later auth_time', async () => {
    const { person, browser, first } = await signedIn();
    await sleep(1100);
    p.clock.advance(30);
    const again = await signInTo(refer, browser, person, p.clock, { prompt: 'login' });
    expect(again.steps).toEqual(['password', 'otp']);
    expect(again.claims.auth_time).toBeGreaterThan(first.claims.auth_time as number);
  });

  test('max_age shorter than the time since sign-in: password and code again, and a later auth_time', async () => {
    const { person, browser, first } = await signedIn();
    await sleep(2100);
    p.clock.advance(30);
    const again = await signInTo(refer, browser, person, p.clock, { max_age: '1' });
    expect(again.steps).toEqual(['password', 'otp']);
    expect(again.claims.auth_time).toBeGreaterThan(first.claims.auth_time as number);
  });

  test('max_age longer than the time since sign-in: no form, and the auth_time of that sign-in', async () => {
    const { person, browser, first } = await signedIn();
    const again = await signInTo(refer, browser, person, p.clock, { max_age: '3600' });
    expect(again.steps).toEqual([]);
    expect(again.claims.auth_time).toBe(first.claims.auth_time);
  });
});

describe('site context', () => {
  async function locum() {
    const home = await makeSite(p.deps, 'High Street Pharmacy');
    const other = await makeSite(p.deps, 'Riverside Pharmacy');
    const person = await makePerson(p.deps, { site: home.ods_code });
    await linkPerson(p.deps, person.email, other.ods_code, 'site-admin');
    return { person, home: home.ods_code, other: other.ods_code };
  }

  /** The site claims a portal reads (from userinfo: with the code flow the ID token carries only who and how). */
  const siteClaims = async (portal: Portal, accessToken: string, sub: string) => {
    const info = await portal.userinfo(accessToken, sub);
    return { site: info.site, sites: info.sites };
  };

  test('a locum chooses a site; userinfo says which, and lists every site with the role there', async () => {
    const { person, home, other } = await locum();
    await withAuthenticator(p.deps, person, p.clock);
    const first = await signInTo(outcomes, new Browser(p.url), person, p.clock, {}, { site: other });
    expect(first.steps).toEqual(['password', 'otp', 'site']);
    const { site, sites } = await siteClaims(outcomes, first.tokens.access_token, person.id);
    expect(site).toBe(other);
    expect(sites).toHaveLength(2);
    expect(sites).toEqual(expect.arrayContaining([
      { ods: home, name: 'High Street Pharmacy', role: 'member' },
      { ods: other, name: 'Riverside Pharmacy', role: 'site-admin' },
    ]));
  });

  test('the choice is remembered: the same portal does not ask again, and another portal starts from it with no question', async () => {
    const { person, other } = await locum();
    await withAuthenticator(p.deps, person, p.clock);
    const b = new Browser(p.url);
    const first = await signInTo(outcomes, b, person, p.clock, {}, { site: other });
    expect(first.steps).toContain('site');
    const same = await signInTo(outcomes, b, person, p.clock);
    expect(same.steps).toEqual([]);
    expect((await siteClaims(outcomes, same.tokens.access_token, person.id)).site).toBe(other);
    // SSO into another portal: no form at all, the same site.
    const elsewhere = await signInTo(refer, b, person, p.clock);
    expect(elsewhere.steps).toEqual([]);
    expect((await siteClaims(refer, elsewhere.tokens.access_token, person.id)).site).toBe(other);
  });

  test('prompt=select_site asks again, with the last choice preselected; the new choice is the site from then on', async () => {
    const { person, home, other } = await locum();
    await withAuthenticator(p.deps, person, p.clock);
    const browser = new Browser(p.url);
    await signInTo(outcomes, browser, person, p.clock, {}, { site: home });

    const { req, res } = await openAuthorization(outcomes, browser, { prompt: 'select_site' });
    const page = expectPage(res, 'site');
    expect(page.text).toMatch(new RegExp(`<input[^>]*value="${home}"[^>]*checked`));
    expect(page.text).not.toMatch(new RegExp(`<input[^>]*value="${other}"[^>]*checked`));
    const back = await answer(browser, page, { site: other });
    const tokens = await outcomes.exchange(back.headers.location!, req);
    expect((await siteClaims(outcomes, tokens.access_token, person.id)).site).toBe(other);
    // Remembered: the next sign-in to this portal needs no answer and says the new site.
    const next = await signInTo(outcomes, browser, person, p.clock);
    expect(next.steps).toEqual([]);
    expect((await siteClaims(outcomes, next.tokens.access_token, person.id)).site).toBe(other);
  });

  test('someone with one site is not asked; the site claim is that site', async () => {
    const { person, first } = await signedIn();
    expect(first.steps).not.toContain('site');
    const { site, sites } = await siteClaims(outcomes, first.tokens.access_token, person.id);
    expect(site).toBe(person.site);
    expect(sites).toHaveLength(1);
  });

  test('without the sites scope nobody is asked, and no site claims are given', async () => {
    const { person } = await locum();
    await withAuthenticator(p.deps, person, p.clock);
    const result = await signInTo(outcomes, new Browser(p.url), person, p.clock, { scope: 'openid email' });
    expect(result.steps).toEqual(['password', 'otp']);
    expect(await siteClaims(outcomes, result.tokens.access_token, person.id)).toEqual({ site: undefined, sites: undefined });
  });
});
