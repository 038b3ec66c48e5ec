import { randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import { Browser, hiddenFields } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator } from '../helpers/pages.js';
import { driveSignIn, signInTo, type Person } from '../helpers/sign-in.js';
import { Portal } from '../helpers/portal.js';
import type { TestPharmid } from '../helpers/pharmid.js';
import { grantOrgRole } from '../../src/domain/org-roles.js';
import { OPERATOR } from '../../src/domain/authorization.js';

/** Shared by the admin-*.test.ts files: people with roles, signed in to the console and holding API tokens. */

export type Staff = Person & { id: string; site: string; totpSecret: string; recoveryCodes: string[] };

export function uniqueEmail(prefix = 'staff'): string {
  return `${prefix}.${randomBytes(4).toString('hex')}@example.nhs.uk`;
}

/** A person with a password and an authenticator, at `site` with `role`. */
export async function staff(p: TestPharmid, site: string, role: 'member' | 'site-admin' = 'member', name = 'Sam Patel'): Promise<Staff> {
  const person = await makePerson(p.deps, { site, role, name });
  return withAuthenticator(p.deps, person, p.clock) as Promise<Staff>;
}

export async function grant(p: TestPharmid, email: string, role: 'helpdesk' | 'commissioner' | 'superadmin', sites: string[] = []) {
  await grantOrgRole(p.deps, { principal: OPERATOR }, { email, role, sites });
}

/** A browser signed in to pharmid's own pages (password and code); `page` is where it landed (/admin unless given). */
export async function consoleBrowser(p: TestPharmid, person: Person, path = '/admin'): Promise<{ browser: Browser; page: Response }> {
  const browser = new Browser(p.url);
  const first = await browser.agent.get(path).redirects(0);
  if (first.status !== 302) throw new Error(`${path} answered ${first.status} before sign-in`);
  const { page } = await driveSignIn(browser, first.headers.location!, person, p.clock);
  return { browser, page: page! };
}

let adminPortal: Promise<Portal> | undefined;
let portalOf: TestPharmid | undefined;

/**
 * A person's access token for the admin API: from a first-party portal that
 * asks for the `admin` scope (every portal must), signed in by single sign-on
 * in the console's browser. The person agrees to `admin` on the consent page
 * (asked of first-party portals too) the first time in that sign-in; the
 * grant keeps it after that.
 */
export async function apiToken(p: TestPharmid, browser: Browser, person: Person): Promise<string> {
  if (!adminPortal || portalOf !== p) {
    portalOf = p;
    adminPortal = makeClient(p.deps, { name: 'Admin scripts', firstParty: true }).then((c) => Portal.connect(p.url, c));
  }
  const { tokens } = await signInTo(await adminPortal, browser, person, p.clock, { scope: 'openid admin' }, { consent: true });
  return tokens.access_token;
}

/** Signs a person in to their account page in a browser of their own; returns the steps they were shown. */
export async function signInFresh(p: TestPharmid, person: Person): Promise<string[]> {
  const browser = new Browser(p.url);
  const start = await browser.agent.get('/account').redirects(0);
  const { steps } = await driveSignIn(browser, start.headers.location!, person, p.clock);
  return steps;
}

/** Posts a form found on `html` (its hidden fields, the CSRF token among them, go along) without following redirects. */
export function postForm(browser: Browser, html: string, action: string, fields: Record<string, string> = {}) {
  return browser.agent.post(action).type('form').send({ ...hiddenFields(html, action), ...fields }).redirects(0);
}

/** The anti-forgery token on a page (every page of pharmid's carries one in its forms). */
export function csrfOn(html: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no CSRF token on the page');
  return token;
}
