import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction, hiddenFields } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { linkPerson, makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { signInTo, stepOf } from '../helpers/sign-in.js';
import { errorPageText } from '../helpers/pages.js';
import { consoleBrowser, staff } from './admin-support.js';

/**
 * Every interaction form, fed every kind of bad value in every field: each
 * answer is a clear 4xx without a stack trace, nothing is written, and the
 * same page then takes a good answer.
 */
const BAD_VALUES: [string, (field: string) => string][] = [
  ['missing', () => ''],
  ['empty', (f) => `${f}=`],
  ['10 MB', (f) => `${f}=${'a'.repeat(10 * 1024 * 1024)}`],
  ['control characters and NUL', (f) => `${f}=${encodeURIComponent('ab\u0000c\u0007\u001b[31m')}`],
  ['invalid UTF-8', (f) => `${f}=%C3%28%FF%FE`],
  ['an array', (f) => `${f}=a&${f}=b`],
  ['an object', (f) => `${f}[x]=1`],
  ['a number', (f) => `${f}=12345678901234567890`],
  ['SQL', (f) => `${f}=${encodeURIComponent("' OR 1=1; DROP TABLE users; --")}`],
  ['HTML', (f) => `${f}=${encodeURIComponent('<script>alert(1)</script><img src=x onerror=alert(2)>')}`],
];

let p: TestPharmid;
let portal: Portal;
let consentPortal: Portal;

beforeAll(async () => {
  p = await startTestPharmid({ PASSWORD_FREE_FAILURES: '100000', OTP_MAX_FAILURES: '100', OTP_HARD_LIMIT: '100', ADDRESS_MAX_FAILURES: '100000' });
  portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  consentPortal = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'Outcomes4Health', firstParty: false }));
});
afterAll(() => p.stop());

async function counts(): Promise<string> {
  const { rows } = await p.deps.db.query(`SELECT
    (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM passwords) AS passwords,
    (SELECT count(*) FROM totp_credentials WHERE confirmed_at IS NOT NULL) AS totp,
    (SELECT count(*) FROM recovery_codes WHERE used_at IS NOT NULL) AS used_codes,
    (SELECT count(*) FROM activation_codes) AS activation, (SELECT count(*) FROM site_choices) AS choices`);
  return JSON.stringify(rows[0]);
}

/** Posts raw form text (with the page's CSRF token) to a step, as a hostile client could. */
async function postRaw(browser: Browser, action: string, body: string) {
  const csrf = new URLSearchParams(hiddenFields(browser.lastPage, action)).toString();
  return browser.agent.post(new URL(action, p.url).pathname).type('form').send(body ? `${csrf}&${body}` : csrf).redirects(0);
}

async function expectRefused(browser: Browser, action: string, fields: string[]) {
  const before = await counts();
  for (const field of fields) {
    for (const [label, make] of BAD_VALUES) {
      const res = await postRaw(browser, action, make(field));
      const what = `${field} ${label}`;
      expect({ what, status: res.status >= 400 && res.status < 500 }).toEqual({ what, status: true });
      expect(res.text).not.toMatch(/at [\w.<>]+ \(|\.ts:\d+|node_modules|<script>alert/);
      if (res.status !== 413) expect(res.text).toMatch(/nhsuk-error-summary|nhsuk-error-message|There is a problem|Sorry, there is a problem/);
    }
  }
  expect(await counts()).toBe(before);
}

test('sign-in and activation forms', async () => {
  const browser = new Browser(p.url);
  const page = await browser.open((await portal.authorizationRequest()).url);
  const action = formAction(page.text, '/interaction/')!;
  await expectRefused(browser, action, ['email', 'password']);
  const activate = await browser.open(action.replace(/password$/, 'activate'));
  await expectRefused(browser, formAction(activate.text, '/interaction/')!, ['email', 'activation_code', 'new_password']);
  // The same sign-in still takes a good answer.
  const person = await makePerson(p.deps);
  await browser.open(action);
  const next = await browser.submit(action, { email: person.email, password: person.password });
  expect(stepOf(next.text)).toBe('enrol');
  await expectRefused(browser, formAction(next.text, '/interaction/')!, ['code']);
});

test('authenticator code, recovery code and re-enrolment forms', async () => {
  const person = await makePerson(p.deps);
  await linkPerson(p.deps, person.email, (await makeSite(p.deps, 'Second Site')).ods_code);
  await signInTo(portal, new Browser(p.url), person, p.clock, {}, { site: person.site });
  p.clock.advance(30);

  const browser = new Browser(p.url);
  const page = await browser.open((await portal.authorizationRequest({ prompt: 'login' })).url);
  const otpPage = await browser.submit(formAction(page.text, '/interaction/')!, { email: person.email, password: person.password });
  const otpAction = formAction(otpPage.text, '/interaction/')!;
  await expectRefused(browser, otpAction, ['code']);
  const recovery = await browser.open(otpAction.replace(/otp$/, 'recovery'));
  await expectRefused(browser, formAction(recovery.text, '/interaction/')!, ['recovery_code']);

  // Through a second portal (with a consent page to come): a recovery code, then enrolment of a new authenticator.
  const other = new Browser(p.url);
  const start = await other.open((await consentPortal.authorizationRequest()).url);
  const otp2 = await other.submit(formAction(start.text, '/interaction/')!, { email: person.email, password: person.password });
  expect(stepOf(otp2.text)).toBe('otp');
  await other.open(formAction(otp2.text, '/interaction/')!.replace(/otp$/, 'recovery'));
  const choice = await other.submit(formAction(other.lastPage, '/interaction/')!, { recovery_code: person.recoveryCodes![0]! });
  expect(stepOf(choice.text)).toBe('after-recovery');
  await expectRefused(other, formAction(choice.text, '/interaction/')!, ['choice']);
  const enrol = await other.submit(formAction(choice.text, '/interaction/')!, { choice: 'new-authenticator' });
  expect(stepOf(enrol.text)).toBe('enrol');
  await expectRefused(other, formAction(enrol.text, '/interaction/')!, ['code']);
});

test('an unknown interaction and a bogus step answer 4xx pages', async () => {
  const browser = new Browser(p.url);
  for (const path of ['/interaction/nope', '/interaction/nope/password', "/interaction/'%20OR%201=1/otp"]) {
    const res = await browser.agent.get(path).redirects(0);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  }
  const res = await browser.agent.post('/interaction/nope/password').type('form').send('email=a&password=b').redirects(0);
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
});

/**
 * Bytes no field may hold: refused with a 400 that names the field, by the
 * one gate in the shared form parsing, before the answer is even checked (so
 * a NUL in a password is not "a wrong password", and nothing is counted or written).
 */
const BAD_BYTES: [string, (f: string) => string][] = [
  ['a NUL', (f) => `${f}=ab%00cd`],
  ['a control character', (f) => `${f}=ab%07`],
  ['an escape sequence', (f) => `${f}=%1B%5B31mred`],
  ['bytes that are not UTF-8', (f) => `${f}=%C3%28%FF%FE`],
  ['an encoded lone surrogate', (f) => `${f}=ab%ED%A0%80`],
  ['a line break', (f) => `${f}=a%0D%0Ab`],
  ['5,000 characters', (f) => `${f}=${'a'.repeat(5000)}`],
];

async function expectBadBytesRefused(browser: Browser, action: string, fields: string[]) {
  const before = await counts();
  const attempts = await p.deps.db.query('SELECT count(*)::int AS n FROM audit_events');
  for (const field of fields) {
    for (const [label, make] of BAD_BYTES) {
      const res = await postRaw(browser, action, make(field));
      const what = `${field} with ${label}`;
      expect({ what, status: res.status }).toEqual({ what, status: 400 });
      expect(errorPageText(res.text)).toMatch(new RegExp(`${field} (contains|is) `));
      expect(res.text).not.toMatch(/at [\w.<>]+ \(|\.ts:\d+|node_modules/);
    }
  }
  expect(await counts()).toBe(before);
  // Not even a failed attempt is recorded: the answer was never looked at.
  expect((await p.deps.db.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n).toBe(attempts.rows[0].n);
}

test('bad bytes in every interaction form field: a 400 that names the field, nothing counted or written', async () => {
  const browser = new Browser(p.url);
  const page = await browser.open((await portal.authorizationRequest()).url);
  const action = formAction(page.text, '/interaction/')!;
  await expectBadBytesRefused(browser, action, ['email', 'password']);
  const activate = await browser.open(action.replace(/password$/, 'activate'));
  await expectBadBytesRefused(browser, formAction(activate.text, '/interaction/')!, ['email', 'activation_code', 'new_password']);
  const person = await makePerson(p.deps);
  await browser.open(action);
  const enrol = await browser.submit(action, { email: person.email, password: person.password });
  await expectBadBytesRefused(browser, formAction(enrol.text, '/interaction/')!, ['code']);
  // The interaction's own query string, too.
  const uid = /\/interaction\/([^/]+)/.exec(action)![1];
  expect((await browser.agent.get(`/interaction/${uid}?x=%00`).redirects(0)).status).toBe(400);
  // And the sign-in goes on with a good answer.
  expect(stepOf((await browser.open(`/interaction/${uid}`)).text)).toBe('enrol');
});

test('bad bytes in the account forms and the query strings pharmid reads', async () => {
  const site = await makeSite(p.deps, 'Account Input Pharmacy');
  const person = await staff(p, site.ods_code);
  const { browser } = await consoleBrowser(p, person, '/account');
  for (const [path, fields] of [['/account/password', ['current_password', 'new_password']], ['/account/authenticator', ['code']], ['/account/recovery-codes', ['code']]] as const) {
    await browser.open(path);
    await expectBadBytesRefused(browser, path, [...fields]);
  }
  for (const query of ['/account?done=%00', '/account?done=%C3%28', '/account/recovery-codes/new?after=%1B', '/portal/callback?code=ab%00&state=x', `/account?done=${'x'.repeat(3000)}`]) {
    const res = await browser.agent.get(query).redirects(0);
    expect({ query: query.slice(0, 40), status: res.status }).toEqual({ query: query.slice(0, 40), status: 400 });
  }
  // Still signed in, nothing changed.
  expect((await browser.agent.get('/account').redirects(0)).status).toBe(200);
});

test('a login_hint with bad bytes is ignored: the sign-in page shows an empty email box, never the bytes', async () => {
  for (const hint of ['ann\u0000@example.nhs.uk', 'ann\u001b[31m@example.nhs.uk', 'ann\ud800@example.nhs.uk', `${'a'.repeat(400)}@example.nhs.uk`]) {
    const browser = new Browser(p.url);
    const page = await browser.open((await portal.authorizationRequest({ login_hint: hint })).url);
    expect(page.status).toBe(200);
    expect(stepOf(page.text)).toBe('password');
    expect(/<input[^>]*name="email"[^>]*>/.exec(page.text)![0]).not.toMatch(/value="[^"]+"/);
    expect(page.text).not.toMatch(/[\u0000\u001b\ufffd]/);
  }
});
