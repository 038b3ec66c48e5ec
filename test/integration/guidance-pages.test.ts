import { randomBytes } from 'node:crypto';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { afterPasswordStep, signInTo, stepOf, totpCode, type Person } from '../helpers/sign-in.js';
import { createUser } from '../../src/domain/users.js';
import { setRolloutPolicy } from '../../src/domain/rollout.js';

/** Each way a sign-in can go wrong gets its own plain advice, not a generic failure. */
const cli = { kind: 'cli' } as const;
let p: TestPharmid;
let portal: Portal;

beforeAll(async () => {
  p = await startTestPharmid({ OTP_MAX_FAILURES: '50' });
  portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
});
afterAll(() => p.stop());

async function toCodePage(person: Person) {
  const { browser, res, action } = await afterPasswordStep(p.url, portal, person);
  expect(stepOf(res.text)).toBe('otp');
  return { browser, action: action! };
}

function errorText(html: string): string {
  return /nhsuk-error-message[^>]*>([\s\S]*?)<\/span>\s*<\/?/.exec(html)?.[0].replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ') ?? '';
}

async function enrolled(): Promise<Person> {
  const person = await makePerson(p.deps);
  await signInTo(portal, new Browser(p.url), person, p.clock);
  p.clock.advance(30);
  return person;
}

test('a code from a few minutes off says to check the device clock', async () => {
  const person = await enrolled();
  const { browser, action } = await toCodePage(person);
  const ahead = totpCode(person.totpSecret!, new Date(p.clock.now().getTime() + 3 * 30_000));
  const res = await browser.submit(action, { code: ahead });
  expect(res.status).toBe(401);
  expect(errorText(res.text)).toContain('clock on your phone or computer may be wrong');
});

test('a code used a moment ago says to wait for a new one', async () => {
  const person = await enrolled();
  const first = await toCodePage(person);
  const code = totpCode(person.totpSecret!, p.clock.now());
  expect((await first.browser.submit(first.action, { code })).status).toBe(303);
  const second = await toCodePage(person);
  const res = await second.browser.submit(second.action, { code });
  expect(errorText(res.text)).toContain('used already');
});

test('a wrong code says which entry in the app to read', async () => {
  const person = await enrolled();
  const { browser, action } = await toCodePage(person);
  const right = totpCode(person.totpSecret!, p.clock.now());
  const res = await browser.submit(action, { code: String((Number(right) + 123_457) % 1_000_000).padStart(6, '0') });
  expect(errorText(res.text)).toContain(`labelled ${p.config.totp.issuer} (${person.email})`);
});

test('a lost authenticator: the recovery page names the site administrators to ask', async () => {
  const site = await makeSite(p.deps, 'Helpful Pharmacy');
  const admin = await makePerson(p.deps, { site: site.ods_code, role: 'site-admin', name: 'Priya Admin' });
  await p.deps.db.query("UPDATE users SET status = 'active' WHERE id = $1", [admin.id]);
  const person = await makePerson(p.deps, { site: site.ods_code });
  await signInTo(portal, new Browser(p.url), person, p.clock);
  p.clock.advance(30);
  const { browser, action } = await toCodePage(person);
  const page = await browser.open(action.replace(/otp$/, 'recovery'));
  expect(page.text).toContain('Lost your authenticator and your recovery codes?');
  expect(page.text).toMatch(/id="site-administrators"[\s\S]*Priya Admin \(Helpful Pharmacy\)/);
});

test('a shared mailbox where MFA is required gets a page that says what to do, and no way in', async () => {
  const site = await makeSite(p.deps, 'Shared Pharmacy');
  await makePerson(p.deps, { site: site.ods_code, role: 'site-admin', name: 'Sam Manager' });
  const email = `pharmacy@${randomBytes(3).toString('hex')}.example.nhs.uk`;
  const password = 'the counter by the till';
  await createUser(p.deps, cli, { email, name: 'High Street Pharmacy', site: site.ods_code, password });
  const browser = new Browser(p.url);
  const page = await browser.open((await portal.authorizationRequest()).url);
  const res = await browser.submit(formAction(page.text, '/interaction/')!, { email, password });
  expect(res.status).toBe(200);
  expect(res.text).toContain('This login is shared');
  expect(res.text).toContain('Sam Manager');
  expect(stepOf(res.text)).toBeUndefined();
  // Going to the enrolment step by hand does not get round it.
  const sneaky = await browser.agent.get(new URL(formAction(page.text, '/interaction/')!.replace(/password$/, 'enrol'), p.url).pathname).redirects(0);
  expect(sneaky.status).toBe(303);
  expect((await browser.open(sneaky.headers.location!)).text).toContain('This login is shared');

  // While the site's rollout is only announced, the shared login still works (and is listed as not ready).
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: site.ods_code, state: 'announced', enforceOn: '2099-01-01' });
  const later = new Browser(p.url);
  const again = await later.open((await portal.authorizationRequest()).url);
  const offered = await later.submit(formAction(again.text, '/interaction/')!, { email, password });
  expect(stepOf(offered.text)).toBe('enrol');
});

test('after an MFA reset a password alone cannot enrol a new authenticator: the one-time code comes first', async () => {
  const person = await enrolled();
  const { resetMfa } = await import('../../src/domain/users.js');
  const { activationCode } = await resetMfa(p.deps, cli, person.email);
  const browser = new Browser(p.url);
  const page = await browser.open((await portal.authorizationRequest()).url);
  const codePage = await browser.submit(formAction(page.text, '/interaction/')!, { email: person.email, password: person.password });
  expect(stepOf(codePage.text)).toBe('reset-code');
  // Jumping to enrolment by hand does not get round it.
  const jump = await browser.agent.get(new URL(formAction(codePage.text, '/interaction/')!.replace(/reset-code$/, 'enrol'), p.url).pathname).redirects(0);
  expect(jump.status).toBe(303);
  const wrong = await browser.submit(formAction(codePage.text, '/interaction/')!, { activation_code: 'AAAAA-BBBBB' });
  expect(wrong.status).toBe(401);
  const right = await browser.submit(formAction(codePage.text, '/interaction/')!, { activation_code: activationCode });
  expect(stepOf(right.text)).toBe('enrol');
});
