import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { usePharmidWithPortal } from '../helpers/setup.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { linkPerson, makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { hasAuthenticator } from '../../src/domain/factors/authenticators.js';
import { enrolmentOf, recoveryCodesOf, signInTo, totpCode } from '../helpers/sign-in.js';
import {
  answer, enrolledPerson, errorMessages, expectPage, inputValue, inputValues, interactionUid, openAuthorization, portalRedirect, textOf, withAuthenticator,
} from '../helpers/pages.js';

const t = usePharmidWithPortal();

const now = () => t.pharmid.clock.now();
const minutesFromNow = (m: number) => new Date(now().getTime() + m * 60_000);

test('a second sign-in asks for the password and the authenticator code only, with no enrolment', async () => {
  const person = await enrolledPerson(await makePerson(t.pharmid.deps), t.portal, t.pharmid.url, t.pharmid.clock);
  const secret = person.totpSecret;

  const { steps, tokens, claims } = await signInTo(t.portal, new Browser(t.pharmid.url), person, t.pharmid.clock);

  expect(steps).toEqual(['password', 'otp']);
  expect(person.totpSecret).toBe(secret);
  expect((await t.portal.verifyIdToken(tokens.id_token!)).sub).toBe(person.id);
  expect(claims.acr).toBe('mfa');
  expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
});

test('a person created with a password must enrol an authenticator at first sign-in and cannot skip it', async () => {
  const person = await makePerson(t.pharmid.deps);
  const browser = new Browser(t.pharmid.url);
  const { req, res } = await openAuthorization(t.portal, browser);
  const enrolPage = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'enrol');
  const uid = interactionUid(enrolPage.text);
  const { secret } = enrolmentOf(enrolPage.text);

  // Every way round the enrolment page leads back to it, with the same key (a QR code scanned already still works).
  const tries = [
    await browser.open(`/interaction/${uid}`),
    await browser.open(`/interaction/${uid}/otp`),
    await answer(browser, enrolPage, { code: '123456' }, `/interaction/${uid}/otp`),
    await answer(browser, enrolPage, { recovery_code: 'AAAA-BBBB-CCCC' }, `/interaction/${uid}/recovery`),
    await answer(browser, enrolPage, {}, `/interaction/${uid}/recovery-codes`),
    await answer(browser, enrolPage, {}, `/interaction/${uid}/consent`),
  ];
  for (const page of tries) {
    expect(portalRedirect(page)).toBeUndefined();
    expectPage(page, 'enrol');
    expect(enrolmentOf(page.text).secret).toBe(secret);
  }
  expect(await hasAuthenticator(t.pharmid.deps, person.id)).toBe(false);

  // A wrong code keeps the person on the page, with a message.
  const wrong = expectPage(await answer(browser, enrolPage, { code: totpCode(secret, minutesFromNow(10)) }), 'enrol', 400);
  expect(errorMessages(wrong.text).join(' ')).toMatch(/code is not right/i);

  // Only the right code moves the sign-in on.
  const codesPage = expectPage(await answer(browser, wrong, { code: totpCode(secret, now()) }), 'recovery-codes');
  const done = portalRedirect(await answer(browser, codesPage, {}));
  expect(done?.searchParams.get('code')).toBeTruthy();
  const tokens = await t.portal.exchange(done!.href, req);
  expect(tokens.claims()!.amr).toEqual(['pwd', 'otp', 'mfa']);
});

test('the enrolment page shows the Base32 key in fours, the otpauth URI (issuer, email, SHA1, 6 digits, 30 s) and a QR image', async () => {
  const person = await makePerson(t.pharmid.deps);
  const browser = new Browser(t.pharmid.url);
  const { res } = await openAuthorization(t.portal, browser);
  const page = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'enrol');

  const shown = /id="totp-secret"[^>]*>([^<]+)</.exec(page.text)![1]!.trim();
  expect(shown).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{4})*( [A-Z2-7]{1,3})?$/);
  const key = shown.replace(/ /g, '');
  expect(key).toHaveLength(32); // 160 bits

  const { otpauth } = enrolmentOf(page.text);
  const issuer = t.pharmid.config.totp.issuer;
  expect(otpauth.startsWith(`otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(person.email)}?`)).toBe(true);
  const uri = new URL(otpauth);
  expect(uri.protocol).toBe('otpauth:');
  expect(uri.host).toBe('totp');
  expect(decodeURIComponent(uri.pathname.slice(1))).toBe(`${issuer}:${person.email}`);
  expect(uri.searchParams.get('secret')).toBe(key);
  expect(uri.searchParams.get('issuer')).toBe(issuer);
  expect(uri.searchParams.get('algorithm')).toBe('SHA1');
  expect(uri.searchParams.get('digits')).toBe('6');
  expect(uri.searchParams.get('period')).toBe('30');

  const img = /<img[^>]*data-otpauth="[^"]+"[^>]*>/.exec(page.text)![0];
  const src = /\ssrc="(data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+)"/.exec(img)?.[1];
  expect(src).toBeDefined();
  const svg = Buffer.from(src!.split(',')[1]!, 'base64').toString();
  expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<path[\s\S]*<\/svg>\s*$/);

  // The account name and issuer are beside the key, for people typing it in.
  const text = textOf(page.text);
  expect(text).toContain(person.email);
  expect(text).toContain(issuer);

  // The key on the page is the one pharmid checks codes against.
  expectPage(await answer(browser, page, { code: totpCode(key, now()) }), 'recovery-codes');
});

test('recovery codes are shown once, after enrolment, and not on a later sign-in', async () => {
  const person = await makePerson(t.pharmid.deps);
  const browser = new Browser(t.pharmid.url);
  const { res } = await openAuthorization(t.portal, browser);
  const enrolPage = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'enrol');
  const secret = enrolmentOf(enrolPage.text).secret.replace(/\s+/g, '');
  const codesPage = expectPage(await answer(browser, enrolPage, { code: totpCode(secret, now()) }), 'recovery-codes');

  const codes = recoveryCodesOf(codesPage.text);
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  for (const c of codes) expect(c).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$/);
  expect(codesPage.headers['cache-control']).toMatch(/no-store/);

  const done = portalRedirect(await answer(browser, codesPage, {}));
  expect(done?.searchParams.get('code')).toBeTruthy();

  // The page cannot be opened again, in this sign-in or a later one.
  const again = await browser.open(`/interaction/${interactionUid(codesPage.text)}/recovery-codes`);
  expect(again.status).toBe(409); // the sign-in finished: "already signed in with this page"
  for (const c of codes) expect(again.text).not.toContain(c);
  t.pharmid.clock.advance(30);
  const later = await signInTo(t.portal, new Browser(t.pharmid.url), { ...person, totpSecret: secret }, t.pharmid.clock);
  expect(later.steps).toEqual(['password', 'otp']);
});

test('a recovery code signs the person in instead of the authenticator code, then a new authenticator replaces the old', async () => {
  const person = await withAuthenticator(t.pharmid.deps, await makePerson(t.pharmid.deps), t.pharmid.clock);
  const oldSecret = person.totpSecret;
  const [usedCode, ...unusedOldCodes] = person.recoveryCodes;

  const viaRecovery = await signInTo(t.portal, new Browser(t.pharmid.url), person, t.pharmid.clock, {}, { useRecoveryCode: true });

  expect(viaRecovery.steps).toEqual(['password', 'otp', 'recovery', 'after-recovery', 'enrol', 'recovery-codes']);
  expect(viaRecovery.claims.sub).toBe(person.id);
  expect(viaRecovery.claims.acr).toBe('mfa');
  expect(person.totpSecret).not.toBe(oldSecret);
  expect(person.recoveryCodes).toHaveLength(10);
  expect(person.recoveryCodes).not.toContain(usedCode);

  // The old authenticator no longer works, nor do the recovery codes issued with it; the new one does.
  t.pharmid.clock.advance(30);
  const browser = new Browser(t.pharmid.url);
  const { res } = await openAuthorization(t.portal, browser);
  const otpPage = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'otp');
  const withOld = expectPage(await answer(browser, otpPage, { code: totpCode(oldSecret, now()) }), 'otp', 401);
  expect(errorMessages(withOld.text).join(' ')).toMatch(/not right/);

  const recoveryUrl = formAction(otpPage.text, '/interaction/')!.replace(/otp$/, 'recovery');
  expectPage(await answer(browser, otpPage, { recovery_code: unusedOldCodes[0]! }, recoveryUrl), 'recovery', 401);

  const withNew = portalRedirect(await answer(browser, withOld, { code: totpCode(person.totpSecret!, now()) }));
  expect(withNew?.searchParams.get('code')).toBeTruthy();
});

test('a locum asked for the sites scope chooses a site; the site claim is that ODS code, remembered for that portal', async () => {
  const first = await makeSite(t.pharmid.deps, 'Riverside Pharmacy');
  const second = await makeSite(t.pharmid.deps, 'Hilltop Surgery');
  const person = await makePerson(t.pharmid.deps, { site: first.ods_code });
  await linkPerson(t.pharmid.deps, person.email, second.ods_code, 'site-admin');

  const browser = new Browser(t.pharmid.url);
  const { req, res } = await openAuthorization(t.portal, browser);
  const enrolPage = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'enrol');
  const secret = enrolmentOf(enrolPage.text).secret.replace(/\s+/g, '');
  const codesPage = expectPage(await answer(browser, enrolPage, { code: totpCode(secret, now()) }), 'recovery-codes');
  const sitePage = expectPage(await answer(browser, codesPage, {}), 'site');
  expect(inputValues(sitePage.text, 'site').sort()).toEqual([first.ods_code, second.ods_code].sort());
  expect(textOf(sitePage.text)).toContain('Hilltop Surgery');

  expectPage(await answer(browser, sitePage, {}), 'site', 400);
  expectPage(await answer(browser, sitePage, { site: 'ZZZ999' }), 'site', 400);

  const done = portalRedirect(await answer(browser, sitePage, { site: second.ods_code.toLowerCase() }));
  const tokens = await t.portal.exchange(done!.href, req);
  const info = await t.portal.userinfo(tokens.access_token, person.id);
  expect(info.site).toBe(second.ods_code);
  expect(info.sites).toEqual(expect.arrayContaining([
    { ods: first.ods_code, name: 'Riverside Pharmacy', role: 'member' },
    { ods: second.ods_code, name: 'Hilltop Surgery', role: 'site-admin' },
  ]));

  // Next time, for the same t.portal, no question.
  t.pharmid.clock.advance(30);
  const again = await signInTo(t.portal, new Browser(t.pharmid.url), { ...person, totpSecret: secret }, t.pharmid.clock);
  expect(again.steps).toEqual(['password', 'otp']);
  expect((await t.portal.userinfo(again.tokens.access_token, person.id)).site).toBe(second.ods_code);

  // Another t.portal starts from the last choice (the person is most likely still there) ...
  const other = await Portal.connect(t.pharmid.config.issuer, await makeClient(t.pharmid.deps, { name: 'PharmRefer' }));
  const sameSession = await signInTo(other, browser, person, t.pharmid.clock);
  expect(sameSession.steps).toEqual([]);
  expect((await other.userinfo(sameSession.tokens.access_token, person.id)).site).toBe(second.ods_code);

  // ... and may ask again with prompt=select_site; that answer is its own and leaves the first portal's alone.
  const otherReq = await other.authorizationRequest({ prompt: 'select_site' });
  const asked = expectPage(await browser.open(otherReq.url), 'site');
  expect(/<input[^>]*value="([^"]+)"[^>]*checked/.exec(asked.text)?.[1]).toBe(second.ods_code);
  const chosen = portalRedirect(await answer(browser, asked, { site: first.ods_code }));
  const otherTokens = await other.exchange(chosen!.href, otherReq);
  expect((await other.userinfo(otherTokens.access_token, person.id)).site).toBe(first.ods_code);
  expect((await t.portal.userinfo(again.tokens.access_token, person.id)).site).toBe(second.ods_code);
});

test('a t.portal that is not first-party asks for consent: allow gives tokens, "do not allow" gives the t.portal access_denied', async () => {
  const person = await withAuthenticator(t.pharmid.deps, await makePerson(t.pharmid.deps), t.pharmid.clock);
  const outside = await Portal.connect(t.pharmid.config.issuer, await makeClient(t.pharmid.deps, { name: 'Outcomes4Health', firstParty: false }));
  const browser = new Browser(t.pharmid.url);

  const { req, res } = await openAuthorization(outside, browser);
  const otpPage = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'otp');
  const consentPage = expectPage(await answer(browser, otpPage, { code: totpCode(person.totpSecret, now()) }), 'consent');
  const text = textOf(consentPage.text);
  expect(text).toContain('Allow Outcomes4Health');
  expect(text).toContain('See your email address');
  expect(text).toContain('See the sites you work at');
  expect(formAction(consentPage.text, '/abort')).toMatch(/^\/interaction\/[^/]+\/abort$/);

  const allowed = portalRedirect(await answer(browser, consentPage, {}));
  const tokens = await outside.exchange(allowed!.href, req);
  expect(tokens.claims()!.sub).toBe(person.id);
  expect((await outside.userinfo(tokens.access_token, person.id)).email).toBe(person.email);

  // Consent is remembered for that t.portal.
  const again = await signInTo(outside, browser, person, t.pharmid.clock);
  expect(again.steps).toEqual([]);

  // Another outside t.portal, same session: the person refuses.
  const refused = await Portal.connect(t.pharmid.config.issuer, await makeClient(t.pharmid.deps, { name: 'Other Portal', firstParty: false }));
  const refusedReq = await refused.authorizationRequest();
  const asked = expectPage(await browser.open(refusedReq.url), 'consent');
  const callback = portalRedirect(await answer(browser, asked, {}, formAction(asked.text, '/abort')));
  expect(`${callback!.origin}${callback!.pathname}`).toBe('http://localhost:8080/callback');
  expect(callback!.searchParams.get('error')).toBe('access_denied');
  expect(callback!.searchParams.get('state')).toBe(refusedReq.state);
  expect(callback!.searchParams.get('code')).toBeNull();
  await expect(refused.exchange(callback!.href, refusedReq)).rejects.toMatchObject({ error: 'access_denied' });
});

test('login_hint pre-fills the email on the sign-in and activation pages, escaped', async () => {
  const person = await makePerson(t.pharmid.deps);
  const browser = new Browser(t.pharmid.url);
  const { res } = await openAuthorization(t.portal, browser, { login_hint: person.email });
  expectPage(res, 'password');
  expect(inputValue(res.text, 'email')).toBe(person.email);
  expect(inputValue(res.text, 'password')).toBe('');

  const activatePage = expectPage(await browser.open(formAction(res.text, '/interaction/')!.replace(/password$/, 'activate')), 'activate');
  expect(inputValue(activatePage.text, 'email')).toBe(person.email);

  const hostile = 'x"><script>alert(1)</script>@example.com';
  const { res: other } = await openAuthorization(t.portal, new Browser(t.pharmid.url), { login_hint: hostile });
  expectPage(other, 'password');
  expect(inputValue(other.text, 'email')).toBe(hostile);
  expect(other.text).not.toContain('<script>alert(1)</script>');

  // No hint, no email.
  const { res: plain } = await openAuthorization(t.portal, new Browser(t.pharmid.url));
  expect(inputValue(plain.text, 'email')).toBe('');
});
