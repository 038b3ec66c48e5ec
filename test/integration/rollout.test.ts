import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { linkPerson, makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { afterPasswordStep, signInTo, stepOf, type Person } from '../helpers/sign-in.js';
import { setRolloutPolicy } from '../../src/domain/rollout.js';
import { readiness } from '../../src/domain/readiness.js';
import { createUser, disableUser } from '../../src/domain/users.js';
import { beginEnrolment, confirmEnrolment } from '../../src/domain/factors/authenticators.js';
import { totpCode } from '../helpers/sign-in.js';
import { Secret } from 'otpauth';

const cli = { kind: 'cli' } as const;
const DAY = 24 * 3600 * 1000;
let p: TestPharmid;
let portal: Portal;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
});
afterAll(() => p.stop());

function inDays(days: number): string {
  return new Date(p.clock.now().getTime() + days * DAY).toISOString();
}

/** Password in; returns the page that follows (enrolment, code, or the redirect to the portal). */
function afterPassword(person: Person, which = portal, params: Record<string, string> = {}) {
  return afterPasswordStep(p.url, which, person, { params });
}

async function skip(browser: Browser, page: string) {
  return browser.submit(formAction(page, '/interaction/')!, { skip: 'yes' });
}

test('with no policy MFA is enforced: enrolment cannot be put off', async () => {
  const person = await makePerson(p.deps);
  const { res } = await afterPassword(person);
  expect(stepOf(res.text)).toBe('enrol');
  expect(res.text).not.toContain('Set it up later');
});

test('announced for a site: enrolment is offered with the date and may be put off; the portal gets acr=pwd', async () => {
  const site = await makeSite(p.deps, 'Announced Pharmacy');
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: site.ods_code, state: 'announced', enforceOn: inDays(30) });
  const person = await makePerson(p.deps, { site: site.ods_code });
  const { browser, req, res } = await afterPassword(person);
  expect(stepOf(res.text)).toBe('enrol');
  expect(res.text).toContain('Set it up later');
  expect(res.text).toMatch(/From <strong>\d+ \w+ \d{4}<\/strong>/);
  const done = await skip(browser, res.text);
  expect(done.status).toBe(303);
  const tokens = await portal.exchange(done.headers.location!, req);
  expect(tokens.claims()).toMatchObject({ acr: 'pwd', amr: ['pwd'] });

  // Someone at the same site who has an authenticator always uses it.
  const enrolled = await makePerson(p.deps, { site: site.ods_code });
  await signInTo(portal, new Browser(p.url), enrolled, p.clock, {}, {});
  p.clock.advance(30);
  const again = await afterPassword(enrolled);
  expect(stepOf(again.res.text)).toBe('otp');
});

test('a portal that demands MFA never gets a password-only session, even while a policy is relaxed', async () => {
  const site = await makeSite(p.deps, 'Relaxed Pharmacy');
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: site.ods_code, state: 'announced', enforceOn: inDays(30) });
  const strict = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmRefer', requireMfa: true }));
  for (const [which, params] of [[strict, {}], [portal, { acr_values: 'mfa' }]] as const) {
    const person = await makePerson(p.deps, { site: site.ods_code });
    const { res } = await afterPassword(person, which, params);
    expect(stepOf(res.text)).toBe('enrol');
    expect(res.text).not.toContain('Set it up later');
  }
});

test('step-up: a password-only session with no authenticator meets a portal that demands MFA: the password again, then the set-up', async () => {
  const site = await makeSite(p.deps, 'Step-up Pharmacy');
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: site.ods_code, state: 'grace', enforceOn: inDays(14), maxSkips: 3 });
  const person = await makePerson(p.deps, { site: site.ods_code });
  const { browser, res } = await afterPassword(person);
  expect((await skip(browser, res.text)).status).toBe(303);

  const strict = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'Outcomes4Health', requireMfa: true }));
  const result = await signInTo(strict, browser, person, p.clock);
  // A first authenticator is never set up on a session alone (a stolen one would do): the password comes first.
  expect(result.steps).toEqual(['password', 'enrol', 'recovery-codes']);
  expect(result.claims).toMatchObject({ acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });
});

test('grace: enrolment can be put off a set number of times, then it is required', async () => {
  const site = await makeSite(p.deps, 'Grace Pharmacy');
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: site.ods_code, state: 'grace', enforceOn: inDays(14), maxSkips: 2 });
  const person = await makePerson(p.deps, { site: site.ods_code });
  for (const left of [2, 1]) {
    const { browser, res } = await afterPassword(person);
    expect(res.text).toContain(`put it off ${left} more time`);
    expect((await skip(browser, res.text)).status).toBe(303);
  }
  const { browser, res } = await afterPassword(person);
  expect(stepOf(res.text)).toBe('enrol');
  expect(res.text).not.toContain('Set it up later');
  // A hand-made skip is refused too, and nothing reaches the portal.
  const forced = await skip(browser, res.text);
  expect(forced.status).toBe(400);
  expect(stepOf(forced.text)).toBe('enrol');
});

test('grace: a skip counts against the limit as it stands when it is made; a limit of 0 records no skip at all', async () => {
  const site = await makeSite(p.deps, 'Tightened Pharmacy');
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: site.ods_code, state: 'grace', enforceOn: inDays(14), maxSkips: 2 });
  const person = await makePerson(p.deps, { site: site.ods_code });
  const { browser, res } = await afterPassword(person);
  expect(res.text).toContain('Set it up later');
  // While the page is open, the administrator allows no more skips.
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: site.ods_code, state: 'grace', enforceOn: inDays(14), maxSkips: 0 });
  const late = await skip(browser, res.text);
  expect(late.status).toBe(400);
  expect(stepOf(late.text)).toBe('enrol');
  const { rows } = await p.deps.db.query('SELECT skips FROM mfa_skips WHERE user_id = $1', [person.id]);
  expect(rows).toEqual([]);
});

test('on the enforcement date announced and grace become enforced', async () => {
  const site = await makeSite(p.deps, 'Dated Pharmacy');
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: site.ods_code, state: 'announced', enforceOn: inDays(7) });
  const person = await makePerson(p.deps, { site: site.ods_code });
  expect((await afterPassword(person)).res.text).toContain('Set it up later');
  const saved = p.clock.offsetMs;
  p.clock.advance(8 * 24 * 3600);
  try {
    const { res } = await afterPassword(person);
    expect(stepOf(res.text)).toBe('enrol');
    expect(res.text).not.toContain('Set it up later');
  } finally {
    p.clock.offsetMs = saved + 60_000;
  }
});

test('a portal policy only tightens: off for a portal does not relax an enforced site, enforced for a portal tightens a relaxed one', async () => {
  const strictSite = await makeSite(p.deps, 'Mixed Pharmacy');
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: strictSite.ods_code, state: 'enforced' });
  const lenient = await makeClient(p.deps, { name: 'Legacy portal' });
  await setRolloutPolicy(p.deps, cli, { scope: 'client', clientId: lenient.client_id, state: 'off' });
  const lenientPortal = await Portal.connect(p.config.issuer, lenient);
  const person = await makePerson(p.deps, { site: strictSite.ods_code });
  expect(stepOf((await afterPassword(person, lenientPortal)).res.text)).toBe('enrol');

  // Where the site itself is off, the portal's off changes nothing: no second factor.
  const offSite = await makeSite(p.deps, 'Unhurried Pharmacy');
  await setRolloutPolicy(p.deps, cli, { scope: 'site', site: offSite.ods_code, state: 'off' });
  const relaxed = await makePerson(p.deps, { site: offSite.ods_code });
  const { res, req } = await afterPassword(relaxed, lenientPortal);
  expect(res.status).toBe(303);
  expect((await lenientPortal.exchange(res.headers.location!, req)).claims()).toMatchObject({ acr: 'pwd' });

  // A portal set to enforced tightens that same relaxed person.
  const strictPortal = await makeClient(p.deps, { name: 'Strict portal' });
  await setRolloutPolicy(p.deps, cli, { scope: 'client', clientId: strictPortal.client_id, state: 'enforced' });
  const tight = await afterPassword(relaxed, await Portal.connect(p.config.issuer, strictPortal));
  expect(stepOf(tight.res.text)).toBe('enrol');
  expect(tight.res.text).not.toContain('Set it up later');
});

describe('a locum at several sites stands under the strictest of their sites', () => {
  afterEach(() => p.deps.db.query("DELETE FROM rollout_policies WHERE scope = 'global'"));

  test('a site set to off does not relax a locum\'s other site, which falls back to an enforced global policy', async () => {
    await setRolloutPolicy(p.deps, cli, { scope: 'global', state: 'enforced' });
    const offSite = await makeSite(p.deps, 'Quiet Pharmacy');
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site: offSite.ods_code, state: 'off' });
    const otherSite = await makeSite(p.deps, 'Busy Pharmacy');
    const locum = await makePerson(p.deps, { site: offSite.ods_code });
    await linkPerson(p.deps, locum.email, otherSite.ods_code);
    const { res } = await afterPassword(locum);
    expect(stepOf(res.text)).toBe('enrol');
    expect(res.text).not.toContain('Set it up later');
  });

  test('with no global policy, a site without its own policy is enforced for the locum', async () => {
    const offSite = await makeSite(p.deps, 'Sleepy Pharmacy');
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site: offSite.ods_code, state: 'off' });
    const locum = await makePerson(p.deps, { site: offSite.ods_code });
    expect((await afterPassword(locum)).res.status).toBe(303);
    await linkPerson(p.deps, locum.email, (await makeSite(p.deps, 'Unset Pharmacy')).ods_code);
    expect(stepOf((await afterPassword(locum)).res.text)).toBe('enrol');
  });

  test('between a relaxed global policy and a site in grace, the grace period holds, with its date', async () => {
    await setRolloutPolicy(p.deps, cli, { scope: 'global', state: 'off' });
    const graceSite = await makeSite(p.deps, 'Careful Pharmacy');
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site: graceSite.ods_code, state: 'grace', enforceOn: inDays(10), maxSkips: 1 });
    const locum = await makePerson(p.deps, { site: graceSite.ods_code });
    await linkPerson(p.deps, locum.email, (await makeSite(p.deps, 'Global Pharmacy')).ods_code);
    const { res } = await afterPassword(locum);
    expect(stepOf(res.text)).toBe('enrol');
    expect(res.text).toContain('put it off 1 more time');
  });
});

test('a policy needs a date when announced or in grace, and a real state', async () => {
  await expect(setRolloutPolicy(p.deps, cli, { scope: 'global', state: 'announced' })).rejects.toThrow(/date/);
  await expect(setRolloutPolicy(p.deps, cli, { scope: 'global', state: 'sometimes' })).rejects.toThrow(/state must be/);
  await expect(setRolloutPolicy(p.deps, cli, { scope: 'site', site: 'ZZZ999', state: 'off' })).rejects.toThrow(/No site/);
});

test('readiness: who is not ready at a site, and why', async () => {
  const site = await makeSite(p.deps, 'Readiness Pharmacy');
  const ods = site.ods_code;
  const ready = await makePerson(p.deps, { site: ods, name: 'Ready Person' });
  const noCodes = await makePerson(p.deps, { site: ods, name: 'No Codes Left' });
  for (const person of [ready, noCodes]) {
    const credential = await beginEnrolment(p.deps, person.id);
    const { rows } = await p.deps.db.query('SELECT secret_sealed FROM totp_credentials WHERE id = $1', [credential]);
    const secret = p.deps.sealer.open(rows[0].secret_sealed);
    await confirmEnrolment(p.deps, person.id, credential, totpCode(Secret.fromBase32(secret).base32, p.clock.now()));
  }
  await p.deps.db.query('UPDATE recovery_codes SET used_at = now() WHERE user_id = $1', [noCodes.id]);
  await makePerson(p.deps, { site: ods, activate: true, name: 'Not Activated' });
  await makePerson(p.deps, { site: ods, name: 'Not Enrolled' });
  await createUser(p.deps, cli, { email: `pharmacy@${ods.toLowerCase()}.example.nhs.uk`, name: 'Shared Login', site: ods, password: 'a long shared phrase here' });
  const gone = await makePerson(p.deps, { site: ods, name: 'Left Last Year' });
  await disableUser(p.deps, cli, gone.email);

  const [report] = await readiness(p.deps, [ods]);
  expect(report).toMatchObject({ ods, people: 5, ready: 1 });
  expect(report!.counts).toEqual({ 'shared-or-generic': 1, 'not-activated': 1, 'not-enrolled': 3, 'no-passkey': 0, 'no-recovery-codes': 1, disabled: 1 });
  const byName = Object.fromEntries(report!.notReady.map((n) => [n.name, n.reasons]));
  expect(byName).toEqual({
    'No Codes Left': ['no-recovery-codes'],
    'Not Activated': ['not-activated', 'not-enrolled'],
    'Not Enrolled': ['not-enrolled'],
    'Shared Login': ['shared-or-generic', 'not-enrolled'],
  });
});

