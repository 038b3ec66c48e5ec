import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser, formAction } from '../../helpers/browser.js';
import { makeClient, makePerson } from '../../helpers/factories.js';
import { withAuthenticator, expectPage } from '../../helpers/pages.js';
import { Portal } from '../../helpers/portal.js';
import { enrolmentOf, stepOf, totpCode } from '../../helpers/sign-in.js';
import { resetMfa } from '../../../src/domain/users.js';

/**
 * Round 3, the MFA-reset code proved at its step and spent at enrolment
 * (src/domain/sign-in.ts proveResetCode/spendResetCode). The code proved, it
 * then expires (or is withdrawn) before the authenticator is confirmed: the
 * sign-in must not confirm one on the strength of a proof of a code that no
 * longer stands. Postgres holds the codes, so one mode.
 */
let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
});
afterAll(() => p.stop());

async function atEnrolment(email: string, password: string, code: string) {
  const browser = new Browser(p.url);
  const start = await browser.open((await portal.authorizationRequest()).url);
  const res = await browser.submit(formAction(start.text, '/interaction/')!, { email, password });
  expectPage(res, 'reset-code');
  const enrol = await browser.submit(formAction(res.text, '/interaction/')!, { activation_code: code });
  expectPage(enrol, 'enrol');
  return { browser, enrol };
}

const authenticators = async (id: string) => (await p.deps.db.query('SELECT 1 FROM totp_credentials WHERE user_id = $1 AND confirmed_at IS NOT NULL', [id])).rowCount;

test('a code that expired between proving it and enrolling does not let the enrolment finish', async () => {
  const v = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { activationCode } = await resetMfa(p.deps, cli, v.email);
  const { browser, enrol } = await atEnrolment(v.email, v.password, activationCode);
  await p.deps.db.query("UPDATE activation_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND purpose = 'mfa-reset'", [v.id]);
  const secret = enrolmentOf(enrol.text).secret.replace(/\s+/g, '');
  const done = await browser.submit(formAction(enrol.text, '/interaction/')!, { code: totpCode(secret, p.clock.now()) });
  expect(stepOf(done.text)).not.toBe('recovery-codes');
  expect(done.status === 303 || done.status === 302).toBe(false);
  expect(await authenticators(v.id)).toBe(0);
});

test('a code withdrawn (deleted) between proving and enrolling does not let the enrolment finish', async () => {
  const v = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const { activationCode } = await resetMfa(p.deps, cli, v.email);
  const { browser, enrol } = await atEnrolment(v.email, v.password, activationCode);
  await p.deps.db.query("DELETE FROM activation_codes WHERE user_id = $1 AND purpose = 'mfa-reset'", [v.id]);
  const secret = enrolmentOf(enrol.text).secret.replace(/\s+/g, '');
  const done = await browser.submit(formAction(enrol.text, '/interaction/')!, { code: totpCode(secret, p.clock.now()) });
  expect(stepOf(done.text)).not.toBe('recovery-codes');
  expect(await authenticators(v.id)).toBe(0);
});
