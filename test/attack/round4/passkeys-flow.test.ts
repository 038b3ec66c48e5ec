import type { TestPharmid } from '../../helpers/pharmid.js';
import { startWithPortal } from '../../helpers/with-portal.js';
import { Browser, formAction } from '../../helpers/browser.js';
import type { Portal } from '../../helpers/portal.js';
import { makePerson } from '../../helpers/factories.js';
import { driveSignIn, signInTo, totpCode, type Person } from '../../helpers/sign-in.js';
import { answer, expectPage, openAuthorization, portalRedirect, postRaw, textOf, withAuthenticator } from '../../helpers/pages.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf, type SoftKey } from '../../helpers/webauthn.js';
import { addPasskey, registrationOptions } from '../../../src/domain/factors/passkey-ceremonies.js';
import { listPasskeys } from '../../../src/domain/factors/passkeys.js';
import { resetMfa } from '../../../src/domain/users.js';
import { addSite } from '../../../src/domain/sites.js';
import { setRolloutPolicy } from '../../../src/domain/rollout.js';
import { afterPassword, originOf, passkeySetUpPage, personWithPasskey, usePasskey } from './support.js';

/**
 * Flow and tokens: acr `phr` only ever after a passkey in this sign-in (or
 * the session it steps up), never for a code; a demand for `phr` (the
 * portal's acr_values, or an enforced policy) holds on every path into a
 * sign-in; nobody is locked out of their last factor.
 */

let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;
beforeAll(async () => { ({ p, portal } = await startWithPortal()); });
afterAll(() => p.stop());

/** A person with an app, and a passkey added beside it. */
async function appAndPasskey(opts: { site?: string } = {}) {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps, opts), p.clock);
  const authenticator = new SoftAuthenticator(originOf(p));
  const user = { ...person, name: 'Sam Patel' };
  const bind = `attack:flow:${person.id}`;
  const { key, response } = authenticator.create(await registrationOptions(p.deps, user, bind));
  await addPasskey(p.deps, user, bind, response, 'Blue key', { actor: cli, ip: '127.0.0.1', by: 'a test' });
  p.clock.advance(30);
  return { person: { ...person, passkey: { authenticator, key } } as Person & { id: string; totpSecret: string }, authenticator, key };
}

/** Drives a sign-in as far as it goes; the portal's code if it got one, else where it stopped. */
async function driveAsFarAsItGoes(browser: Browser, url: string, person: Person, answers: Parameters<typeof driveSignIn>[4] = {}) {
  try {
    const result = await driveSignIn(browser, url, person, p.clock, answers);
    return { code: new URL(result.callback, 'http://x').searchParams.get('code'), stoppedAt: '' };
  } catch (err) {
    return { code: null, stoppedAt: `${(err as Error).message.slice(0, 80)} | ${textOf(browser.lastPage).slice(0, 200)}` };
  }
}

let siteN = 0;
async function siteRequiringPasskeys() {
  siteN += 1;
  const site = (await addSite(p.deps, cli, { ods: `PKA${String(siteN).padStart(2, '0')}`, name: 'Attack Pharmacy', userCap: null })).ods_code;
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site, state: 'enforced', require: 'phr' });
  return site;
}

describe('acr_values=phr never finishes without a passkey', () => {
  test('the app\'s code posted straight to the code step (not offered): back to the passkey step, no code for the portal', async () => {
    const { person } = await appAndPasskey();
    const { browser, page } = await afterPassword(p, portal, person, { acr_values: 'phr' });
    const step = expectPage(page, 'passkey');
    const otpAction = passkeyActionOf(step.text).replace(/passkey$/, 'otp');
    const res = await postRaw(browser, otpAction, `code=${totpCode(person.totpSecret, p.clock.now())}`, step);
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^\/interaction\/[^/]+$/);
    expectPage(await browser.open(res.headers.location!), 'passkey');
  });

  test('a recovery code in place of the passkey: the page says a passkey is needed; no code for the portal', async () => {
    const { person } = await appAndPasskey();
    const req = await portal.authorizationRequest({ acr_values: 'phr' });
    const { code, stoppedAt } = await driveAsFarAsItGoes(new Browser(p.url), req.url, person, { useRecoveryCode: true, afterRecovery: 'carry-on' });
    expect(code).toBeNull();
    expect(stoppedAt).toMatch(/needs a passkey or security key/);
  });

  test('a person with no factor yet sets up the app (or tries to skip): no code for the portal', async () => {
    const person = await makePerson(p.deps);
    const req = await portal.authorizationRequest({ acr_values: 'phr' });
    const browser = new Browser(p.url);
    const { code, stoppedAt } = await driveAsFarAsItGoes(browser, req.url, person);
    expect(code).toBeNull();
    expect(stoppedAt).toMatch(/needs a passkey or security key/);
    const other = await makePerson(p.deps);
    const { browser: b2, page } = await afterPassword(p, portal, other, { acr_values: 'phr' });
    const skipped = await b2.submit(formAction(expectPage(page, 'enrol').text, '/enrol')!, { skip: 'yes' });
    expect(portalRedirect(skipped)?.searchParams.get('code') ?? null).toBeNull();
  });
});

describe('a policy that requires passkeys holds on every path', () => {
  test('activation: the new person sets up the app and is told a passkey is needed; no code', async () => {
    const person = await makePerson(p.deps, { site: await siteRequiringPasskeys(), activate: true });
    const req = await portal.authorizationRequest();
    const { code, stoppedAt } = await driveAsFarAsItGoes(new Browser(p.url), req.url, person);
    expect(code).toBeNull();
    expect(stoppedAt).toMatch(/needs a passkey or security key/);
  });

  test('an MFA-reset code, then a new app: told a passkey is needed; with a new passkey instead, phr', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps, { site: await siteRequiringPasskeys() }), p.clock);
    const { activationCode: resetCode } = await resetMfa(p.deps, cli, person.email);
    const req = await portal.authorizationRequest();
    const { code, stoppedAt } = await driveAsFarAsItGoes(new Browser(p.url), req.url, { ...person, resetCode, totpSecret: undefined });
    expect(code).toBeNull();
    expect(stoppedAt).toMatch(/needs a passkey or security key/);

    const again = await withAuthenticator(p.deps, await makePerson(p.deps, { site: await siteRequiringPasskeys() }), p.clock);
    const { activationCode: second } = await resetMfa(p.deps, cli, again.email);
    const browser = new Browser(p.url);
    const { req: req2, page } = await afterPassword(p, portal, again, {}, browser);
    const enrol = expectPage(await answer(browser, expectPage(page, 'reset-code'), { activation_code: second }), 'enrol');
    const passkeyPage = await browser.open(/href="([^"]*\/enrol-passkey)"/.exec(enrol.text)![1]!);
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text));
    const codes = expectPage(await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'New key', credential: response }), 'recovery-codes');
    const claims = (await portal.exchange(portalRedirect(await answer(browser, codes, {}))!.href, req2)).claims()!;
    expect(claims.acr).toBe('phr');
  });
});

describe('acr says what this sign-in proved', () => {
  test('a passkey proved on the account page does not make the session phr: the portal asking phr still gets the passkey step', async () => {
    const { person, authenticator, key } = await appAndPasskey();
    const browser = new Browser(p.url);
    const first = await signInTo(portal, browser, person, p.clock);
    expect(first.claims.acr).toBe('mfa');
    const prove = await browser.open('/account/passkeys/add');
    expect(prove.status).toBe(200);
    await usePasskey(browser, prove, authenticator, key);
    const req = await portal.authorizationRequest({ acr_values: 'phr' });
    const res = await browser.open(req.url);
    expect(portalRedirect(res)).toBeUndefined();
    expectPage(res, 'passkey');
  });

  test('a person who has a passkey but signs in with the app\'s code gets mfa, and amr says otp, not hwk', async () => {
    const { person } = await appAndPasskey();
    const { claims } = await signInTo(portal, new Browser(p.url), person, p.clock);
    expect(claims.acr).toBe('mfa');
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  test('a refresh token from before a step-up keeps its own acr (mfa), the step-up\'s tokens say phr', async () => {
    const { person, authenticator, key } = await appAndPasskey();
    const browser = new Browser(p.url);
    const before = await signInTo(portal, browser, person, p.clock);
    const req = await portal.authorizationRequest({ acr_values: 'phr' });
    const stepped = await portal.exchange(portalRedirect(await usePasskey(browser, expectPage(await browser.open(req.url), 'passkey'), authenticator, key))!.href, req);
    expect(stepped.claims()!.acr).toBe('phr');
    const refreshed = await portal.refresh(before.tokens.refresh_token!);
    expect(refreshed.claims()!.acr).toBe('mfa');
    expect(refreshed.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
    const refreshedAfter = await portal.refresh(stepped.refresh_token!);
    expect(refreshedAfter.claims()!.acr).toBe('phr');
  });
});

describe('nobody is locked out of their last factor', () => {
  test('a person with only passkeys removes all but the last; the last is refused with a message; another person cannot touch them', async () => {
    const { person, authenticator, key, browser } = await personWithPasskey(p, portal);
    const user = { ...person, name: 'Sam Patel' };
    const bind = `attack:last:${person.id}`;
    await addPasskey(p.deps, user, bind, authenticator.create(await registrationOptions(p.deps, user, bind)).response, 'Spare', { actor: cli, ip: '127.0.0.1', by: 'a test' });
    const [blue, spare] = await listPasskeys(p.deps, person.id);
    const page = await browser.open(`/account/passkeys/${spare!.id}/remove`);
    await browser.submit(formAction(page.text, '/remove')!, {});
    const last = await browser.open(`/account/passkeys/${blue!.id}/remove`);
    const refused = await browser.submit(formAction(last.text, '/remove')!, {});
    expect(refused.status).toBe(409);
    expect(textOf(refused.text)).toMatch(/only way to prove it is you/);
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name)).toEqual(['Blue key']);
    // Still signs in with it.
    const again = new Browser(p.url);
    const { res } = await openAuthorization(portal, again);
    expect(portalRedirect(await usePasskey(again, res, authenticator, key))).toBeDefined();
  });

  test('two removals racing (the last two keys, two browsers): one key always stays', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    const user = { ...person, name: 'Sam Patel' };
    const bind = `attack:race-remove:${person.id}`;
    await addPasskey(p.deps, user, bind, authenticator.create(await registrationOptions(p.deps, user, bind)).response, 'Spare', { actor: cli, ip: '127.0.0.1', by: 'a test' });
    const keys = await listPasskeys(p.deps, person.id);
    const browsers = await Promise.all([0, 1].map(async () => {
      const b = new Browser(p.url);
      const { res } = await openAuthorization(portal, b);
      await usePasskey(b, res, authenticator, key);
      return b;
    }));
    const pages = await Promise.all(keys.map((k, i) => browsers[i]!.open(`/account/passkeys/${k.id}/remove`)));
    await Promise.all(keys.map((k, i) => postRaw(browsers[i]!, `/account/passkeys/${k.id}/remove`, '', pages[i])));
    expect(await listPasskeys(p.deps, person.id)).toHaveLength(1);
  });
});

describe('a policy that requires passkeys leaves a way to add one', () => {
  test('someone with only the app, at a site that now requires passkeys, follows the page\'s link and adds a passkey at /account', async () => {
    const site = await siteRequiringPasskeys();
    const person = await withAuthenticator(p.deps, await makePerson(p.deps, { site }), p.clock);
    p.clock.advance(30);
    const browser = new Browser(p.url);
    // The portal's sign-in stops at the page that says a passkey is needed, with a link to add one.
    const { page } = await afterPassword(p, portal, person, {}, browser);
    expect(textOf(page.text)).toMatch(/needs a passkey or security key/);
    const link = /href="(\/account\/passkeys\/add)"/.exec(page.text)![1]!;
    // The link leads to pharmid's own sign-in: password and code must be enough there to add the passkey.
    const { code, stoppedAt } = await driveAsFarAsItGoes(browser, link, person);
    expect(stoppedAt).toBe('');
    void code;
    const prove = await browser.open('/account/passkeys/add');
    expect(prove.text).toContain('action="/account/passkeys/add"');
    p.clock.advance(30);
    const proved = await browser.submit('/account/passkeys/add', { code: totpCode(person.totpSecret!, p.clock.now()) });
    const authenticator = new SoftAuthenticator(originOf(p));
    const { key, response } = authenticator.create(passkeyOptionsOf(proved.text));
    const added = await browser.submit(formAction(proved.text, '/passkeys/new')!, { name: 'Blue key', credential: response });
    expect(added.status).toBe(200);
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name)).toEqual(['Blue key']);
    // And now the portal's sign-in goes through with it, as phr.
    const req = await portal.authorizationRequest();
    const { code: portalCode } = await driveAsFarAsItGoes(new Browser(p.url), req.url, { ...person, passkey: { authenticator, key: key as SoftKey } });
    expect(portalCode).not.toBeNull();
  });
});

describe('a session alone never sets up a first key', () => {
  test('a password-only session (policy off) met by acr_values=phr: the password is asked before any key; a key posted straight to the enrolment step is not taken', async () => {
    siteN += 1;
    const site = (await addSite(p.deps, cli, { ods: `PKO${String(siteN).padStart(2, '0')}`, name: 'Relaxed Pharmacy', userCap: null })).ods_code;
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site, state: 'off' });
    const person = await makePerson(p.deps, { site });
    const browser = new Browser(p.url);
    const first = await signInTo(portal, browser, person, p.clock);
    expect(first.claims.acr).toBe('pwd');
    // The session (perhaps a stolen one) meets a portal asking for a passkey.
    const req = await portal.authorizationRequest({ acr_values: 'phr' });
    const page = await browser.open(req.url);
    expectPage(page, 'password');
    const uid = /\/interaction\/([^/]+)\//.exec(formAction(page.text, '/interaction/')!)![1];
    const options = { challenge: 'AAAA', rp: { id: 'localhost' }, user: { id: 'AAAA' } };
    const { response } = new SoftAuthenticator(originOf(p)).create(options);
    const posted = await postRaw(browser, `/interaction/${uid}/enrol-passkey`, `name=Mine&credential=${encodeURIComponent(response)}`, page);
    expect(posted.status).toBe(303);
    expect(posted.headers.location).toBe(`/interaction/${uid}`);
    const shown = await browser.open(`/interaction/${uid}/enrol-passkey`);
    expectPage(shown, 'password');
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
  });
});

describe('two first factors racing', () => {
  test('a sign-in at the app\'s set-up page cannot add the app once another sign-in set up a first passkey', async () => {
    const person = await makePerson(p.deps);
    // B (perhaps someone with the stolen password) reaches the app's set-up page first.
    const b = await afterPassword(p, portal, person);
    const enrol = expectPage(b.page, 'enrol');
    const { enrolmentOf } = await import('../../helpers/sign-in.js');
    const secret = enrolmentOf(enrol.text).secret.replace(/\s+/g, '');
    // A, the person, sets up a passkey as their first factor.
    const a = await afterPassword(p, portal, person);
    const passkeyPage = await passkeySetUpPage(a.browser, a.page);
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text));
    expectPage(await a.browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Blue key', credential: response }), 'recovery-codes');
    // B's code for the app now: not taken; B's sign-in starts again (and meets the passkey step).
    const res = await b.browser.submit(formAction(enrol.text, '/enrol')!, { code: totpCode(secret, p.clock.now()) });
    expect(portalRedirect(res)).toBeUndefined();
    const confirmed = await p.deps.db.query('SELECT 1 FROM totp_credentials WHERE user_id = $1 AND confirmed_at IS NOT NULL', [person.id]);
    expect(confirmed.rowCount).toBe(0);
  });

  test('and the reverse: a sign-in at the passkey set-up page cannot add a first passkey once another sign-in set up the app', async () => {
    const person = await makePerson(p.deps);
    const b = await afterPassword(p, portal, person);
    const passkeyPage = await passkeySetUpPage(b.browser, b.page);
    const { driveSignIn: drive } = await import('../../helpers/sign-in.js');
    const req = await portal.authorizationRequest();
    await drive(new Browser(p.url), req.url, person, p.clock);
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text));
    const res = await b.browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Blue key', credential: response });
    expect(portalRedirect(res)).toBeUndefined();
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
  });
});
