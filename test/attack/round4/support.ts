import type { Response } from 'supertest';
import type { TestPharmid } from '../../helpers/pharmid.js';
import { Browser } from '../../helpers/browser.js';
import type { Portal } from '../../helpers/portal.js';
import { makePerson, makeSite } from '../../helpers/factories.js';
import { consoleBrowser, staff } from '../../integration/admin-support.js';
import { recoveryCodesOf, type Person } from '../../helpers/sign-in.js';
import { answer, expectPage, looksLikeStackTrace, openAuthorization, portalRedirect } from '../../helpers/pages.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf, type SoftKey } from '../../helpers/webauthn.js';

/** The origin a browser at pharmid reports. */
export const originOf = (p: TestPharmid) => new URL(p.config.issuer).origin;

/** The person's next page after their password, in a fresh browser (or `browser`). */
export async function afterPassword(p: TestPharmid, portal: Portal, person: Person, params: Record<string, string> = {}, browser = new Browser(p.url)) {
  const { req, res } = await openAuthorization(portal, browser, params);
  const page = await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password });
  return { browser, req, page };
}

/** The passkey set-up page that the sign-in's first-factor (enrol) page links to. */
export function passkeySetUpPage(browser: Browser, page: Response) {
  return browser.open(/href="([^"]*\/enrol-passkey)"/.exec(expectPage(page, 'enrol').text)![1]!);
}

/** A fresh person's passkey set-up page at sign-in. */
export async function enrolPage(p: TestPharmid, portal: Portal) {
  const person = await makePerson(p.deps);
  const { browser, page } = await afterPassword(p, portal, person);
  return { person, browser, passkeyPage: await passkeySetUpPage(browser, page) };
}

/** A person who set up a passkey (and nothing else) at their first sign-in, through the pages. */
export async function personWithPasskey(p: TestPharmid, portal: Portal, opts: { synced?: boolean; site?: string } = {}) {
  const person = await makePerson(p.deps, opts.site ? { site: opts.site } : {});
  const authenticator = new SoftAuthenticator(originOf(p));
  const { browser, req, page } = await afterPassword(p, portal, person);
  const passkeyPage = await passkeySetUpPage(browser, page);
  const { key, response } = authenticator.create(passkeyOptionsOf(passkeyPage.text), { synced: opts.synced });
  const codesPage = expectPage(await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Blue key', credential: response }), 'recovery-codes');
  const recoveryCodes = recoveryCodesOf(codesPage.text);
  const done = portalRedirect(await answer(browser, codesPage, {}))!;
  const tokens = await portal.exchange(done.href, req);
  const enrolled: Person & { id: string } = { ...person, recoveryCodes, passkey: { authenticator, key } };
  return { person: enrolled, authenticator, key, browser, claims: tokens.claims()! };
}

/** Posts a passkey answer to the page's passkey form. */
export function usePasskey(browser: Browser, page: Response, authenticator: SoftAuthenticator, key: SoftKey, c: Parameters<SoftAuthenticator['get']>[2] = {}) {
  return browser.submit(passkeyActionOf(page.text), { credential: authenticator.get(passkeyOptionsOf(page.text), key, c) });
}

/** A refusal a person can read: a 4xx page, no stack trace. */
export function expectRefusal(res: Response): void {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(looksLikeStackTrace(res.text)).toBe(false);
}

/** A JSON credential with one part changed (`edit` gets the parsed value). */
export function bent(credential: string, edit: (c: Record<string, any>) => void): string {
  const value = JSON.parse(credential) as Record<string, any>;
  edit(value);
  return JSON.stringify(value);
}

/** Two sites, Riverside (A) and Hilltop (B), and B's site administrator signed in to the console. */
export async function twoSitesAndAdminOfB(p: TestPharmid) {
  const A = await makeSite(p.deps, 'Riverside Pharmacy');
  const B = await makeSite(p.deps, 'Hilltop Pharmacy');
  const adminB = await staff(p, B.ods_code, 'site-admin', 'Bea Admin');
  return { A, B, adminB, browserB: (await consoleBrowser(p, adminB)).browser };
}
