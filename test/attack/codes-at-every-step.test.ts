import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator, expectPage } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { enrolmentOf, stepOf, totpCode, type Person } from '../helpers/sign-in.js';
import { resetMfa, resetPassword } from '../../src/domain/users.js';

/**
 * Attack: every one-time code (activation, password reset, MFA reset; and a
 * person's recovery codes) at every step that takes a code, for its own
 * person and for another; expired; and twice at once.
 */
let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
});
afterAll(() => p.stop());

async function open() {
  const browser = new Browser(p.url);
  const start = await browser.open((await portal.authorizationRequest()).url);
  return { browser, action: formAction(start.text, '/interaction/')! };
}
async function afterPassword(person: Pick<Person, 'email' | 'password'>) {
  const { browser, action } = await open();
  const res = await browser.submit(action, { email: person.email, password: person.password });
  return { browser, res, action: formAction(res.text, '/interaction/')! };
}
async function activate(email: string, code: string) {
  const { browser, action } = await open();
  void expectPage;
  const page = await browser.open(action.replace(/password$/, 'activate'));
  return browser.submit(formAction(page.text, '/interaction/')!, { email, activation_code: code, new_password: 'a thief chosen passphrase 3' });
}

test('no kind of code is taken at the authenticator-code or recovery-code steps', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const invited = await makePerson(p.deps, { activate: true });
  const { activationCode: pw } = await resetPassword(p.deps, cli, (await withAuthenticator(p.deps, await makePerson(p.deps), p.clock)).email);
  const { activationCode: mfa } = await resetMfa(p.deps, cli, (await withAuthenticator(p.deps, await makePerson(p.deps), p.clock)).email);
  const { browser, res, action } = await afterPassword(victim);
  expectPage(res, 'otp');
  for (const code of [invited.activationCode!, pw, mfa, pw.replace('-', ''), victim.recoveryCodes![0]!]) {
    const otp = await browser.submit(action, { _csrf: /name="_csrf" value="([^"]+)"/.exec(res.text)![1]!, code });
    expect([code, otp.status]).toEqual([code, 400]);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(res.text)![1]!;
    const rec = await browser.submit(action.replace(/otp$/, 'recovery'), { _csrf: csrf, recovery_code: code === victim.recoveryCodes![0] ? invited.activationCode! : code });
    expect([code, rec.status]).toEqual([code, 401]);
  }
});

test('at the MFA-reset step: another person\'s MFA-reset code and one\'s own password-reset code are refused', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const other = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { activationCode: othersCode } = await resetMfa(p.deps, cli, other.email);
  const { activationCode: mine } = await resetMfa(p.deps, cli, victim.email);
  const { activationCode: myPasswordCode } = await resetPassword(p.deps, cli, victim.email);
  const { browser, action: first } = await open();
  const page = await browser.open(first.replace(/password$/, 'activate'));
  const activated = await browser.submit(formAction(page.text, '/interaction/')!, { email: victim.email, activation_code: myPasswordCode, new_password: 'my own new passphrase 11' });
  expectPage(activated, 'reset-code');
  const action = formAction(activated.text, '/interaction/')!;
  for (const code of [othersCode, myPasswordCode, other.recoveryCodes![0]!]) {
    expectPage(await browser.submit(action, { activation_code: code }), 'reset-code', 401);
  }
  expectPage(await browser.submit(action, { activation_code: ` ${mine.toLowerCase()} ` }), 'enrol');
});

test('an expired activation or password-reset code does not activate', async () => {
  const invited = await makePerson(p.deps, { activate: true });
  await p.deps.db.query("UPDATE activation_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1", [invited.id]);
  expect((await activate(invited.email, invited.activationCode!)).status).toBe(400);
  const enrolled = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { activationCode } = await resetPassword(p.deps, cli, enrolled.email);
  await p.deps.db.query("UPDATE activation_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1", [enrolled.id]);
  expect((await activate(enrolled.email, activationCode)).status).toBe(400);
});

test('one MFA-reset code, sent from two sign-ins at once: it is spent once, by the one that confirms an authenticator first', async () => {
  const victim = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { activationCode } = await resetMfa(p.deps, cli, victim.email);
  const a = await afterPassword(victim);
  const b = await afterPassword(victim);
  expectPage(a.res, 'reset-code');
  expectPage(b.res, 'reset-code');
  // The code is only looked at here (it is spent with the new authenticator), so both go on to enrolment ...
  const results = await Promise.all([a, b].map((s) => s.browser.submit(s.action, { activation_code: activationCode })));
  expect(results.map((r) => stepOf(r.text))).toEqual(['enrol', 'enrol']);
  // ... and only the first to confirm one gets it.
  const confirmed = [];
  for (const [i, s] of [a, b].entries()) {
    if (i) p.clock.advance(30);
    const secret = enrolmentOf(results[i]!.text).secret.replace(/\s+/g, '');
    confirmed.push(stepOf((await s.browser.submit(formAction(results[i]!.text, '/interaction/')!, { code: totpCode(secret, p.clock.now()) })).text));
  }
  expect(confirmed).toEqual(['recovery-codes', 'password']);
});

test('one activation code, at once from two browsers with different passwords: one password wins, the other is refused', async () => {
  const invited = await makePerson(p.deps, { activate: true });
  const results = await Promise.all([activate(invited.email, invited.activationCode!), activate(invited.email, invited.activationCode!)]);
  expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
});
