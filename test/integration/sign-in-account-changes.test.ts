import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator, expectPage, textOf } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { afterPasswordStep, driveSignIn, enrolmentOf, stepOf, totpCode } from '../helpers/sign-in.js';
import { resetMfa, resetPassword } from '../../src/domain/users.js';
import { withTransaction } from '../../src/db/pool.js';
import { beginEnrolment } from '../../src/domain/factors/authenticators.js';
import { confirmOnlyTotp } from '../../src/db/queries/totp-credentials.js';

/**
 * What a sign-in proved stops counting when the account changes under it,
 * and a sign-in never puts an authenticator beside (or over) one confirmed
 * meanwhile. (The attacks themselves: test/attack/mfa-reset-window.test.ts
 * and test/attack/stale-interaction.test.ts.)
 */
let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
});
afterAll(() => p.stop());

async function afterPassword(email: string, password: string) {
  const { browser, req, res, uid } = await afterPasswordStep(p.url, portal, { email, password });
  return { browser, req, res, uid };
}

test('two first authenticators confirmed at once for one person: exactly one is kept', async () => {
  const person = await makePerson(p.deps);
  const ids = [await beginEnrolment(p.deps, person.id), await beginEnrolment(p.deps, person.id)];
  const results = await Promise.allSettled(ids.map((id) => withTransaction(p.deps.db, async (tx) => {
    if (!(await confirmOnlyTotp(tx, id, person.id))) throw new Error('refused');
  })));
  expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  const { rows } = await p.deps.db.query('SELECT 1 FROM totp_credentials WHERE user_id = $1 AND confirmed_at IS NOT NULL', [person.id]);
  expect(rows).toHaveLength(1);
});

test('a first authenticator is never confirmed over one confirmed meanwhile: the write itself refuses', async () => {
  const person = await makePerson(p.deps);
  const [first, late] = [await beginEnrolment(p.deps, person.id), await beginEnrolment(p.deps, person.id)];
  expect(await confirmOnlyTotp(p.deps.db, first, person.id)).toBe(true);
  expect(await confirmOnlyTotp(p.deps.db, late, person.id)).toBe(false);
  const { rows } = await p.deps.db.query<{ id: string }>('SELECT id FROM totp_credentials WHERE user_id = $1 AND confirmed_at IS NOT NULL', [person.id]);
  expect(rows.map((r) => r.id)).toEqual([first]);
});

test('two sign-ins that both proved the MFA-reset code: the first to confirm an authenticator spends it, the other starts again', async () => {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { activationCode } = await resetMfa(p.deps, cli, person.email);
  const [a, b] = [await afterPassword(person.email, person.password), await afterPassword(person.email, person.password)];
  const enrolA = await a.browser.submit(formAction(a.res.text, '/interaction/')!, { activation_code: activationCode });
  const enrolB = await b.browser.submit(formAction(b.res.text, '/interaction/')!, { activation_code: activationCode });
  expectPage(enrolA, 'enrol');
  expectPage(enrolB, 'enrol');
  const secretA = enrolmentOf(enrolA.text).secret.replace(/\s+/g, '');
  expectPage(await a.browser.submit(formAction(enrolA.text, '/interaction/')!, { code: totpCode(secretA, p.clock.now()) }), 'recovery-codes');
  p.clock.advance(30);
  const secretB = enrolmentOf(enrolB.text).secret.replace(/\s+/g, '');
  const refused = await b.browser.submit(formAction(enrolB.text, '/interaction/')!, { code: totpCode(secretB, p.clock.now()) });
  expectPage(refused, 'password');
  expect(textOf(refused.text)).toContain('Please sign in again.');
  // With the code spent, a password now leads to the authenticator A set up.
  expectPage((await afterPassword(person.email, person.password)).res, 'otp');
});

test('a sign-in overtaken by a reset starts again from the password, says why, and then finishes as usual', async () => {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { browser, res, uid } = await afterPassword(person.email, person.password);
  expectPage(res, 'otp');
  const { activationCode } = await resetPassword(p.deps, cli, person.email);
  const page = await browser.open(`/interaction/${uid}`);
  expectPage(page, 'password');
  expect(textOf(page.text)).toContain('Your account changed since you started signing in. Please sign in again.');
  // The person sets a new password with their code (in another tab) and signs in again here.
  const fresh = { ...person, password: 'a brand new passphrase 77' };
  const other = new Browser(p.url);
  const start = await other.open((await portal.authorizationRequest()).url);
  const activate = await other.open(formAction(start.text, '/interaction/')!.replace(/password$/, 'activate'));
  await other.submit(formAction(activate.text, '/interaction/')!, { email: person.email, activation_code: activationCode, new_password: fresh.password });
  p.clock.advance(30);
  const { callback } = await driveSignIn(browser, `/interaction/${uid}`, fresh, p.clock);
  expect(callback).toMatch(/code=/);
  expect(stepOf(page.text)).toBe('password');
});

test('after a recovery code, a sign-in replaces only the authenticator that code stood in for, never one another sign-in set up meanwhile', async () => {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const atEnrol = async (recoveryCode: string) => {
    const { browser, res } = await afterPassword(person.email, person.password);
    const page = await browser.open(formAction(res.text, '/interaction/')!.replace(/otp$/, 'recovery'));
    const choice = await browser.submit(formAction(page.text, '/interaction/')!, { recovery_code: recoveryCode });
    // After the code, the person chooses to set up a new authenticator now.
    const enrol = await browser.submit(formAction(expectPage(choice, 'after-recovery').text, '/interaction/')!, { choice: 'new-authenticator' });
    expectPage(enrol, 'enrol');
    return { browser, enrol };
  };
  const a = await atEnrol(person.recoveryCodes[0]!);
  const b = await atEnrol(person.recoveryCodes[1]!);
  const secretB = enrolmentOf(b.enrol.text).secret.replace(/\s+/g, '');
  expectPage(await b.browser.submit(formAction(b.enrol.text, '/interaction/')!, { code: totpCode(secretB, p.clock.now()) }), 'recovery-codes');
  p.clock.advance(30);
  const secretA = enrolmentOf(a.enrol.text).secret.replace(/\s+/g, '');
  expectPage(await a.browser.submit(formAction(a.enrol.text, '/interaction/')!, { code: totpCode(secretA, p.clock.now()) }), 'password');
  // B's authenticator is the one that works.
  p.clock.advance(30);
  const { callback } = await driveSignIn(new Browser(p.url), (await portal.authorizationRequest()).url, { ...person, totpSecret: secretB }, p.clock);
  expect(callback).toMatch(/code=/);
});
