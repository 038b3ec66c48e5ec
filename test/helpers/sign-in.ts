import { Secret, TOTP } from 'otpauth';
import type { Response } from 'supertest';
import { Browser, formAction, unescapeHtml } from './browser.js';
import type { Portal, AuthorizationRequest } from './portal.js';
import type { TestClock } from './pharmid.js';
import { passkeyOptionsOf, type SoftAuthenticator, type SoftKey } from './webauthn.js';

export interface Person {
  email: string;
  password: string;
  /** For a first sign-in with an activation code. */
  activationCode?: string;
  /** The one-time code an administrator's MFA reset gave them. */
  resetCode?: string;
  /** The code pharmid emailed them to confirm a site they were linked to (see mailedCode in helpers/mail.ts). */
  siteLinkCode?: string;
  /** Base32 secret of an enrolled authenticator (filled in by enrolment). */
  totpSecret?: string;
  recoveryCodes?: string[];
  /** A passkey the person holds (test/helpers/webauthn.ts): used at the passkey step. */
  passkey?: { authenticator: SoftAuthenticator; key: SoftKey };
}

export function totpCode(secret: string, at: Date): string {
  return new TOTP({ secret: Secret.fromBase32(secret.replace(/\s+/g, '')), digits: 6, period: 30, algorithm: 'SHA1' })
    .generate({ timestamp: at.getTime() });
}

/** Which step a page is, from its form's action (…/interaction/UID/STEP). */
export function stepOf(html: string): string | undefined {
  const action = formAction(html, '/interaction/');
  return action?.split('/').pop();
}

export function enrolmentOf(html: string) {
  const secret = unescapeHtml(/id="totp-secret"[^>]*>([^<]+)</.exec(html)?.[1] ?? '').trim();
  const otpauth = unescapeHtml(/data-otpauth="([^"]+)"/.exec(html)?.[1] ?? '');
  return { secret, otpauth };
}

export function recoveryCodesOf(html: string): string[] {
  return [...html.matchAll(/class="recovery-code"[^>]*>([^<]+)</g)].map((m) => m[1]!.trim());
}

export interface SignInResult {
  /** The redirect back to the portal (code and state, or an error); empty when it landed on a pharmid page. */
  callback: string;
  steps: string[];
  /** The pharmid page the sign-in ended on, when the portal is pharmid's own (account, admin). */
  page?: Response;
}

/**
 * Drives a sign-in as a person would, answering each page pharmid shows:
 * password (or activation), enrolment, recovery codes, authenticator code,
 * site choice and consent. Stops when pharmid redirects to the portal.
 */
export async function driveSignIn(
  browser: Browser, start: string, person: Person, clock: TestClock,
  answers: { site?: string; consent?: boolean; useRecoveryCode?: boolean; declineSites?: boolean; afterRecovery?: 'carry-on' | 'new-authenticator' } = {},
): Promise<SignInResult> {
  const steps: string[] = [];
  let res: Response = await browser.open(start);
  for (let i = 0; i < 12; i += 1) {
    if (res.status >= 300 && res.status < 400) return { callback: res.headers.location!, steps };
    const step = stepOf(res.text);
    if (!step && res.status === 200 && !browser.visited.at(-1)?.startsWith('/interaction/')) return { callback: '', steps, page: res };
    if (!step) throw new Error(`no sign-in form on the page (status ${res.status}): ${res.text.slice(0, 300)}`);
    steps.push(step);
    const action = formAction(res.text, '/interaction/')!;
    switch (step) {
      case 'password':
        if (person.activationCode) {
          res = await browser.open(action.replace(/password$/, 'activate'));
          continue;
        }
        res = await browser.submit(action, { email: person.email, password: person.password });
        break;
      case 'activate':
        res = await browser.submit(action, { email: person.email, activation_code: person.activationCode!, new_password: person.password });
        person.activationCode = undefined;
        break;
      case 'reset-code':
        res = await browser.submit(action, { activation_code: person.resetCode! });
        person.resetCode = undefined;
        break;
      case 'enrol': {
        const { secret } = enrolmentOf(res.text);
        person.totpSecret = secret.replace(/\s+/g, '');
        res = await browser.submit(action, { code: totpCode(person.totpSecret, clock.now()) });
        break;
      }
      case 'recovery-codes':
        person.recoveryCodes = recoveryCodesOf(res.text);
        res = await browser.submit(action, {});
        break;
      case 'otp':
        if (answers.useRecoveryCode) {
          res = await browser.open(action.replace(/otp$/, 'recovery'));
          continue;
        }
        res = await browser.submit(action, { code: totpCode(person.totpSecret!, clock.now()) });
        break;
      case 'passkey':
        if (answers.useRecoveryCode) {
          res = await browser.open(action.replace(/passkey$/, 'recovery'));
          continue;
        }
        res = await browser.submit(action, { credential: person.passkey!.authenticator.get(passkeyOptionsOf(res.text), person.passkey!.key) });
        break;
      case 'recovery':
        res = await browser.submit(action, { recovery_code: person.recoveryCodes!.shift()! });
        break;
      case 'after-recovery':
        // After a recovery code: a new authenticator now, unless the test says the person still has their app.
        res = await browser.submit(action, { choice: answers.afterRecovery ?? 'new-authenticator' });
        break;
      case 'site-link':
        // A site waiting for confirmation: the emailed code when the person has it, else "Not now" (or "Decline").
        res = await browser.submit(action, person.siteLinkCode ? { activation_code: person.siteLinkCode }
          : answers.declineSites ? { decline: 'yes' } : { later: 'yes' });
        person.siteLinkCode = undefined;
        break;
      case 'site':
        res = await browser.submit(action, { site: answers.site ?? /name="site" value="([^"]+)"/.exec(res.text)![1]! });
        break;
      case 'consent':
        res = answers.consent === false
          ? await browser.submit(formAction(res.text, '/abort')!, {})
          : await browser.submit(action, {});
        break;
      default:
        throw new Error(`unexpected step ${step}`);
    }
    if (res.status >= 400) throw new Error(`step ${step} answered ${res.status}: ${/nhsuk-error-summary[\s\S]{0,600}/.exec(res.text)?.[0] ?? res.text.slice(0, 300)}`);
  }
  throw new Error('sign-in did not finish');
}

/** A whole sign-in from a portal to its tokens. */
export async function signInTo(portal: Portal, browser: Browser, person: Person, clock: TestClock, params: Record<string, string> = {}, answers = {}) {
  const req: AuthorizationRequest = await portal.authorizationRequest(params);
  const result = await driveSignIn(browser, req.url, person, clock, answers);
  const tokens = await portal.exchange(result.callback, req);
  return { ...result, tokens, claims: tokens.claims()! };
}

/**
 * Opens a portal's sign-in in a new browser (or the one given) and answers
 * the password page; returns the browser, the request, the answer and the
 * next step's form action (when the answer is a step page).
 */
export async function afterPasswordStep(
  base: string, portal: Portal, person: Pick<Person, 'email' | 'password'>,
  opts: { password?: string; params?: Record<string, string>; browser?: Browser } = {},
) {
  const browser = opts.browser ?? new Browser(base);
  const req = await portal.authorizationRequest(opts.params);
  const page = await browser.open(req.url);
  const passwordAction = formAction(page.text, '/interaction/')!;
  const res = await browser.submit(passwordAction, { email: person.email, password: opts.password ?? person.password });
  return { browser, req, res, action: formAction(res.text, '/interaction/'), uid: passwordAction.split('/')[2]! };
}
