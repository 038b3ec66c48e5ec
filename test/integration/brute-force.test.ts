import { randomBytes } from 'node:crypto';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { afterPasswordStep, signInTo, stepOf, totpCode, type Person } from '../helpers/sign-in.js';
import { unlockUser } from '../../src/domain/users.js';

/** Opens a portal's sign-in and answers the password page; returns the OTP page's action. */
async function toCodeStep(p: TestPharmid, portal: Portal, person: Person) {
  const { browser, res, action } = await afterPasswordStep(p.url, portal, person);
  expect(stepOf(res.text)).toBe('otp');
  return { browser, action: action! };
}

function wrongCode(right: string): string {
  return String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
}

/** A person who has enrolled and signed out again. */
async function enrolled(p: TestPharmid, portal: Portal): Promise<Person> {
  const person = await makePerson(p.deps);
  await signInTo(portal, new Browser(p.url), person, p.clock);
  p.clock.advance(30);
  return person;
}

describe('authenticator codes', () => {
  let p: TestPharmid;
  let portal: Portal;
  beforeAll(async () => {
    p = await startTestPharmid();
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  });
  afterAll(() => p.stop());

  test('five wrong codes lock the code step for every browser, until the lock lifts or an administrator unlocks', async () => {
    const person = await enrolled(p, portal);
    const { browser, action } = await toCodeStep(p, portal, person);
    for (let i = 0; i < 5; i += 1) {
      const res = await browser.submit(action, { code: wrongCode(totpCode(person.totpSecret!, p.clock.now())) });
      expect(res.status).toBe(401);
    }
    const locked = await browser.submit(action, { code: totpCode(person.totpSecret!, p.clock.now()) });
    expect(locked.status).toBe(429);
    expect(locked.text).toContain('Too many wrong codes');

    // A new browser and a new sign-in do not reset the count.
    const other = await toCodeStep(p, portal, person);
    const stillLocked = await other.browser.submit(other.action, { code: totpCode(person.totpSecret!, p.clock.now()) });
    expect(stillLocked.status).toBe(429);

    await unlockUser(p.deps, { kind: 'cli' }, person.email);
    const ok = await other.browser.submit(other.action, { code: totpCode(person.totpSecret!, p.clock.now()) });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toContain('code=');
  });

  test('a right code ends the run of failures', async () => {
    const person = await enrolled(p, portal);
    for (let round = 0; round < 2; round += 1) {
      const { browser, action } = await toCodeStep(p, portal, person);
      for (let i = 0; i < 4; i += 1) {
        expect((await browser.submit(action, { code: wrongCode(totpCode(person.totpSecret!, p.clock.now())) })).status).toBe(401);
      }
      const ok = await browser.submit(action, { code: totpCode(person.totpSecret!, p.clock.now()) });
      expect(ok.status).toBe(303);
      p.clock.advance(30);
    }
  });

  test('wrong recovery codes count with wrong authenticator codes', async () => {
    const person = await enrolled(p, portal);
    const { browser, action } = await toCodeStep(p, portal, person);
    const recovery = action.replace(/otp$/, 'recovery');
    await browser.open(recovery);
    for (let i = 0; i < 5; i += 1) {
      expect((await browser.submit(recovery, { recovery_code: 'AAAA-BBBB-CCCC' })).status).toBe(401);
    }
    const locked = await browser.submit(recovery, { recovery_code: person.recoveryCodes![0]! });
    expect(locked.status).toBe(429);
  });
});

describe('the limit over any period', () => {
  let p: TestPharmid;
  beforeAll(async () => { p = await startTestPharmid({ OTP_MAX_FAILURES: '100', OTP_HARD_LIMIT: '3' }); });
  afterAll(() => p.stop());

  test('at the hard limit the account stays locked, whatever the clock says, until unlocked', async () => {
    const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
    const person = await enrolled(p, portal);
    const { browser, action } = await toCodeStep(p, portal, person);
    for (let i = 0; i < 3; i += 1) {
      expect((await browser.submit(action, { code: wrongCode(totpCode(person.totpSecret!, p.clock.now())) })).status).toBe(401);
    }
    p.clock.advance(24 * 3600);
    const locked = await browser.submit(action, { code: totpCode(person.totpSecret!, p.clock.now()) });
    expect(locked.status).toBe(429);
    expect(locked.text).toContain('Ask your site administrator to unlock it');
    const { rows } = await p.deps.db.query('SELECT locked_at FROM users WHERE id = $1', [(person as Person & { id: string }).id]);
    expect(rows[0].locked_at).not.toBeNull();
    const audit = await p.deps.db.query("SELECT action FROM audit_events WHERE action = 'lock.second-factor'");
    expect(audit.rowCount).toBeGreaterThan(0);

    await unlockUser(p.deps, { kind: 'cli' }, person.email);
    expect((await browser.submit(action, { code: totpCode(person.totpSecret!, p.clock.now()) })).status).toBe(303);
  });
});

async function tryPassword(p: TestPharmid, portal: Portal, person: Person, password: string) {
  return (await afterPasswordStep(p.url, portal, person, { password })).res;
}

describe('passwords', () => {
  let p: TestPharmid;
  let portal: Portal;
  beforeAll(async () => {
    p = await startTestPharmid();
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  });
  afterAll(() => p.stop());

  test('after five wrong passwords the account waits, growing with each failure; unknown emails alike', async () => {
    const person = await makePerson(p.deps);
    for (let i = 0; i < 5; i += 1) expect((await tryPassword(p, portal, person, 'not the password')).status).toBe(401);
    const waiting = await tryPassword(p, portal, person, person.password);
    expect(waiting.status).toBe(429);
    expect(waiting.text).toContain('Too many wrong passwords');

    const nobody = { email: `nobody.${randomBytes(3).toString('hex')}@example.nhs.uk`, password: 'whatever it is' };
    for (let i = 0; i < 5; i += 1) expect((await tryPassword(p, portal, nobody, 'not the password')).status).toBe(401);
    expect((await tryPassword(p, portal, nobody, 'not the password')).status).toBe(429);
  });

});

describe('one address', () => {
  test('successful sign-ins from one busy address are never throttled; failures from it are', async () => {
    const p = await startTestPharmid({ ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const people = await Promise.all(Array.from({ length: 8 }, () => makePerson(p.deps)));
      for (const person of people) {
        expect(stepOf((await tryPassword(p, portal, person, person.password)).text)).toBe('enrol');
      }
      const stranger = await makePerson(p.deps);
      for (let i = 0; i < 3; i += 1) expect((await tryPassword(p, portal, stranger, `wrong password ${i}`)).status).toBe(401);
      const blocked = await tryPassword(p, portal, people[0]!, people[0]!.password);
      expect(blocked.status).toBe(429);
    } finally {
      await p.stop();
    }
  });
});

describe('across processes', () => {
  test('failures on one pharmid process lock the account on another', async () => {
    const first = await startTestPharmid();
    const second = await startTestPharmid({}, {
      backends: first.backends_,
      secretKey: first.config.secretKey.toString('base64'),
      cookieKey: first.config.cookieKeys[0]!,
    });
    try {
      const client = await makeClient(first.deps);
      const person = await enrolled(first, await Portal.connect(first.config.issuer, client));
      const a = await toCodeStep(first, await Portal.connect(first.config.issuer, client), person);
      for (let i = 0; i < 5; i += 1) await a.browser.submit(a.action, { code: wrongCode(totpCode(person.totpSecret!, first.clock.now())) });
      const b = await toCodeStep(second, await Portal.connect(second.config.issuer, client), person);
      const res = await b.browser.submit(b.action, { code: totpCode(person.totpSecret!, second.clock.now()) });
      expect(res.status).toBe(429);
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});


describe('forms', () => {
  test('a sign-in form posted without its CSRF token is refused and changes nothing', async () => {
    const p = await startTestPharmid();
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await makePerson(p.deps);
      const browser = new Browser(p.url);
      const page = await browser.open((await portal.authorizationRequest()).url);
      const action = formAction(page.text, '/interaction/')!;
      const forged = await browser.agent.post(new URL(action, p.url).pathname).type('form')
        .send({ email: person.email, password: person.password }).redirects(0);
      expect(forged.status).toBe(403);
      expect(forged.text).not.toMatch(/at .*\.ts:\d+/);
      const wrongToken = await browser.submit(action, { email: person.email, password: person.password, _csrf: 'x'.repeat(43) });
      expect(wrongToken.status).toBe(403);
      // The genuine form still works.
      await browser.open(browser.visited.at(-1)!);
      const ok = await browser.submit(action, { email: person.email, password: person.password });
      expect(stepOf(ok.text)).toBe('enrol');
    } finally {
      await p.stop();
    }
  });
});
