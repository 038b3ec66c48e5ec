import type { Response } from 'supertest';
import { Browser, formAction, unescapeHtml } from './browser.js';
import type { Portal, AuthorizationRequest } from './portal.js';
import type { TestClock } from './pharmid.js';
import { driveSignIn, stepOf, totpCode, type Person } from './sign-in.js';
import type { Deps } from '../../src/domain/deps.js';
import { beginEnrolment, confirmEnrolment } from '../../src/domain/factors/authenticators.js';
import { findTotpCredential } from '../../src/db/queries/totp-credentials.js';

/** Visible text of an HTML fragment: tags dropped, entities decoded, spaces collapsed. */
export function textOf(html: string): string {
  return unescapeHtml(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
}

/** The messages in a page's error summary (empty when there is none). */
export function errorMessages(html: string): string[] {
  const summary = /<div class="nhsuk-error-summary"[\s\S]*?<\/ul>/.exec(html)?.[0] ?? '';
  return [...summary.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => textOf(m[1]!));
}

/** The main text of pharmid's error page (heading and message), or '' when the page is not one. */
export function errorPageText(html: string): string {
  const main = /<h1>[\s\S]*?(?=<\/main>|$)/.exec(html)?.[0] ?? '';
  return textOf(main);
}

/** The value attribute of the first input with that name, decoded; undefined when absent. */
export function inputValue(html: string, name: string): string | undefined {
  const input = new RegExp(`<input[^>]*name="${name}"[^>]*>`).exec(html)?.[0];
  if (!input) return undefined;
  const value = /\svalue="([^"]*)"/.exec(input)?.[1];
  return value === undefined ? '' : unescapeHtml(value);
}

/** The values offered by the radio buttons (or inputs) with that name. */
export function inputValues(html: string, name: string): string[] {
  return [...html.matchAll(new RegExp(`<input[^>]*name="${name}"[^>]*>`, 'g'))]
    .map((m) => unescapeHtml(/\svalue="([^"]*)"/.exec(m[0])?.[1] ?? ''));
}

/** The interaction uid in a step's form action (…/interaction/UID/STEP). */
export function interactionUid(html: string): string {
  const action = formAction(html, '/interaction/');
  const uid = action?.split('/')[2];
  if (!uid) throw new Error(`no interaction form on the page: ${html.slice(0, 200)}`);
  return uid;
}

/** A response that must be the given step's page (not a redirect), with that status; returned for chaining. */
export function expectPage(res: Response, step: string, status = 200): Response {
  if (res.status !== status || stepOf(res.text) !== step) {
    const where = stepOf(res.text) ?? res.headers.location ?? '';
    const why = errorMessages(res.text).join('; ') || textOf(res.text).slice(0, 300);
    throw new Error(`expected the ${step} page (${status}), got ${res.status} ${where}: ${why}`);
  }
  return res;
}

/** Where the browser was sent outside pharmid (the portal's redirect URI), or undefined for a page. */
export function portalRedirect(res: Response): URL | undefined {
  return res.status >= 300 && res.status < 400 && res.headers.location ? new URL(res.headers.location) : undefined;
}

/** Something in a page that reads like a stack trace or a source path. */
export function looksLikeStackTrace(text: string): boolean {
  return /\bat (async )?[\w.<>]{1,80} \(|node_modules\/|\.(ts|js|mjs):\d+:\d+|\b[A-Z][A-Za-z]{0,40}Error: /.test(text);
}

/** The anti-forgery token in a page's forms, if it has one. */
export function csrfOf(html: string): string | undefined {
  const input = /<input[^>]*name="_csrf"[^>]*>/.exec(html)?.[0];
  const value = input && /\svalue="([^"]*)"/.exec(input)?.[1];
  return value ? unescapeHtml(value) : undefined;
}

/**
 * Answers the form on a page, as the person would: with the page's hidden
 * anti-forgery token, to the page's step form (or `action`, e.g. a link's
 * step), following where it leads within pharmid.
 */
export function answer(browser: Browser, page: Response, fields: Record<string, string>, action?: string): Promise<Response> {
  const token = csrfOf(page.text);
  const to = action ?? formAction(page.text, '/interaction/');
  if (!to) throw new Error(`no form to answer on the page (status ${page.status}): ${textOf(page.text).slice(0, 200)}`);
  return browser.submit(to, token ? { _csrf: token, ...fields } : fields);
}

/**
 * POSTs a raw urlencoded body, as a script could (no redirects followed); the
 * anti-forgery token of `page` (the page the form is on) is added when given.
 */
export function postRaw(browser: Browser, action: string, body: string, page?: Response) {
  const path = action.startsWith('/') ? action : new URL(action).pathname;
  const token = page && csrfOf(page.text);
  const full = token ? [body, `_csrf=${encodeURIComponent(token)}`].filter(Boolean).join('&') : body;
  return browser.agent.post(path).type('form').send(full).redirects(0);
}

/** Starts an authorization request and opens it in the browser (following redirects within pharmid). */
export async function openAuthorization(portal: Portal, browser: Browser, params: Record<string, string> = {}): Promise<{ req: AuthorizationRequest; res: Response }> {
  const req = await portal.authorizationRequest(params);
  const res = await browser.open(req.url);
  return { req, res };
}

/**
 * A person with an authenticator and recovery codes: signed in once (in a
 * browser of their own, then forgotten) and the clock moved past the time
 * step their enrolment code used, so their next code is fresh.
 */
export async function enrolledPerson<P extends Person>(person: P, portal: Portal, base: string, clock: TestClock): Promise<P & Required<Pick<Person, 'totpSecret' | 'recoveryCodes'>>> {
  const req = await portal.authorizationRequest();
  await driveSignIn(new Browser(base), req.url, person, clock);
  if (!person.totpSecret || !person.recoveryCodes) throw new Error('enrolment did not happen');
  clock.advance(30);
  return person as P & Required<Pick<Person, 'totpSecret' | 'recoveryCodes'>>;
}

/**
 * The same as `enrolledPerson`, through the domain instead of the pages: for
 * tests about something else, it skips drawing the enrolment page (its QR
 * PNG is most of a sign-in's CPU under Jest). The code that confirmed the
 * authenticator is used, as on the page, and the clock moved past its step.
 */
export async function withAuthenticator<P extends Person & { id: string }>(deps: Deps, person: P, clock: TestClock): Promise<P & Required<Pick<Person, 'totpSecret' | 'recoveryCodes'>>> {
  const credentialId = await beginEnrolment(deps, person.id);
  const row = await findTotpCredential(deps.db, credentialId, person.id);
  const secret = deps.sealer.open(row!.secret_sealed);
  const recoveryCodes = await confirmEnrolment(deps, person.id, credentialId, totpCode(secret, clock.now()));
  clock.advance(30);
  return Object.assign(person, { totpSecret: secret, recoveryCodes });
}
