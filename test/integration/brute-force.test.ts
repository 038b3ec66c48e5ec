import { randomBytes } from 'node:crypto';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction, hiddenFields } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { afterPasswordStep, signInTo, stepOf, totpCode, type Person } from '../helpers/sign-in.js';
import { createTestBackends } from '../helpers/backends.js';
import { cli, setCliEnvironment } from '../helpers/cli.js';
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

async function tryPassword(p: TestPharmid, portal: Portal, person: Pick<Person, 'email' | 'password'>, password: string) {
  return (await afterPasswordStep(p.url, portal, person, { password })).res;
}

/**
 * One sign-in page, posted many times at once (as a script would): each post
 * carries the page's hidden fields and `headers`. Resolves to each answer's status.
 */
async function openForm(p: TestPharmid, portal: Portal) {
  const browser = new Browser(p.url);
  const page = await browser.open((await portal.authorizationRequest()).url);
  const action = formAction(page.text, '/interaction/')!;
  const hidden = hiddenFields(page.text, action);
  const path = new URL(action, p.url).pathname;
  return {
    post: (form: Record<string, string>, headers: Record<string, string> = {}) =>
      browser.agent.post(path).type('form').set(headers).send({ ...hidden, ...form }).redirects(0),
  };
}

const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});

describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  /** A pharmid in this mode: Redis, or the Postgres store the embedded default uses. */
  const start = (env: Record<string, string>, shared?: Parameters<typeof startTestPharmid>[1]) => startTestPharmid({ ...modeEnv, ...env }, shared);

  describe('authenticator codes', () => {
    let p: TestPharmid;
    let portal: Portal;
    beforeAll(async () => {
      p = await start({});
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
    beforeAll(async () => { p = await start({ OTP_MAX_FAILURES: '100', OTP_HARD_LIMIT: '3' }); });
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

  describe('passwords', () => {
    let p: TestPharmid;
    let portal: Portal;
    beforeAll(async () => {
      p = await start({});
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
      const p = await start({ ADDRESS_MAX_FAILURES: '3' });
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

  describe('across processes, restarts and the CLI', () => {
    test('a lock one process sets holds on a second process and after a restart, and `pharmid user unlock` lifts it', async () => {
      const backends = await createTestBackends();
      const shared = { backends, secretKey: randomBytes(32).toString('base64'), cookieKey: randomBytes(24).toString('base64url') };
      let third: TestPharmid | undefined;
      try {
        const first = await start({}, shared);
        const second = await start({}, shared);
        const client = await makeClient(first.deps);
        const person = await enrolled(first, await Portal.connect(first.config.issuer, client));
        const a = await toCodeStep(first, await Portal.connect(first.config.issuer, client), person);
        for (let i = 0; i < 5; i += 1) {
          expect((await a.browser.submit(a.action, { code: wrongCode(totpCode(person.totpSecret!, first.clock.now())) })).status).toBe(401);
        }
        const b = await toCodeStep(second, await Portal.connect(second.config.issuer, client), person);
        expect((await b.browser.submit(b.action, { code: totpCode(person.totpSecret!, second.clock.now()) })).status).toBe(429);

        // Every process stops; a new one starts on the same database (and Redis, in that mode).
        await second.stop();
        await first.stop();
        third = await start({}, shared);
        third.clock.advance(60);
        const c = await toCodeStep(third, await Portal.connect(third.config.issuer, client), person);
        const after = await c.browser.submit(c.action, { code: totpCode(person.totpSecret!, third.clock.now()) });
        expect(after.status).toBe(429);
        expect(after.text).toContain('Too many wrong codes');

        // The CLI, as an operator runs it beside the server, opens the server's own store.
        const restore = setCliEnvironment({
          NODE_ENV: 'test', DATABASE_URL: backends.databaseUrl, PHARMID_SECRET_KEY: shared.secretKey, COOKIE_KEYS: shared.cookieKey,
          LOG_LEVEL: 'silent', ...(modeEnv.REDIS_URL === '' ? {} : { REDIS_URL: backends.redisUrl, REDIS_KEY_PREFIX: backends.redisKeyPrefix }),
        });
        try {
          const unlocked = await cli('user', 'unlock', '--email', person.email, '--json');
          expect(unlocked.code).toBe(0);
        } finally {
          restore();
        }
        const ok = await c.browser.submit(c.action, { code: totpCode(person.totpSecret!, third.clock.now()) });
        expect(ok.status).toBe(303);
        expect(ok.headers.location).toContain('code=');
      } finally {
        await third?.stop();
        await backends.drop();
      }
    });
  });

  describe('in parallel', () => {
    test('300 wrong passwords at once from one address: at most the address limit get an answer other than "wait"', async () => {
      const p = await start({
        ADDRESS_MAX_FAILURES: '20', PASSWORD_FREE_FAILURES: '100000', ARGON2_PER_ADDRESS: '1000', ARGON2_MAX_QUEUE: '1000',
        ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1',
      });
      try {
        const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
        const known = await makePerson(p.deps);
        const form = await openForm(p, portal);
        const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => form.post({
          email: i % 2 ? known.email : `nobody.${i}.${randomBytes(3).toString('hex')}@example.nhs.uk`, password: `wrong password ${i}`,
        })));
        const t = tally(answers.map((r) => r.status));
        expect(t[401]).toBeGreaterThan(0);
        expect(t[401]).toBeLessThanOrEqual(20);
        expect(t[401]! + (t[429] ?? 0)).toBe(300);
        // And afterwards, the address waits, whatever it tries.
        for (let i = 0; i < 3; i += 1) {
          expect((await form.post({ email: known.email, password: known.password })).status).toBe(429);
        }
      } finally {
        await p.stop();
      }
    });

    test('40 wrong passwords at once for one account: only the free failures and one more are checked', async () => {
      const p = await start({ ADDRESS_MAX_FAILURES: '100000', ARGON2_PER_ADDRESS: '1000', ARGON2_MAX_QUEUE: '1000' });
      try {
        const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
        const person = await makePerson(p.deps);
        const form = await openForm(p, portal);
        const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => form.post({ email: person.email, password: `wrong password ${i}` })));
        const t = tally(answers.map((r) => r.status));
        expect(t[401]).toBeLessThanOrEqual(p.config.throttle.passwordFreeFailures + 1);
        expect(t[401]! + (t[429] ?? 0)).toBe(40);
        expect((await form.post({ email: person.email, password: person.password })).status).toBe(429);
      } finally {
        await p.stop();
      }
    });

    test('30 wrong authenticator codes at once: only five and one more are checked', async () => {
      const p = await start({});
      try {
        const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
        const person = await enrolled(p, portal);
        const { browser, action } = await toCodeStep(p, portal, person);
        const hidden = hiddenFields(browser.lastPage, action);
        const path = new URL(action, p.url).pathname;
        const wrong = wrongCode(totpCode(person.totpSecret!, p.clock.now()));
        const answers = await Promise.all(Array.from({ length: 30 }, () => browser.agent.post(path).type('form').send({ ...hidden, code: wrong }).redirects(0)));
        const t = tally(answers.map((r) => r.status));
        expect(t[401]).toBeLessThanOrEqual(p.config.throttle.secondFactorFailures + 1);
        expect(t[401]! + (t[429] ?? 0)).toBe(30);
        const locked = await browser.submit(action, { code: totpCode(person.totpSecret!, p.clock.now()) });
        expect(locked.status).toBe(429);
      } finally {
        await p.stop();
      }
    });
  });

  describe('behind a proxy', () => {
    test('with TRUST_PROXY unset, a caller\'s own X-Forwarded-For does not change the counted address', async () => {
      const p = await start({ ADDRESS_MAX_FAILURES: '3' });
      try {
        const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
        const person = await makePerson(p.deps);
        const form = await openForm(p, portal);
        for (let i = 0; i < 3; i += 1) {
          expect((await form.post({ email: person.email, password: `wrong ${i}` }, { 'X-Forwarded-For': `198.51.100.${i + 1}` })).status).toBe(401);
        }
        const res = await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '198.51.100.99' });
        expect(res.status).toBe(429);
      } finally {
        await p.stop();
      }
    });

    test('with TRUST_PROXY=1, only the hop the trusted proxy added counts: whatever the caller put before it is ignored', async () => {
      const p = await start({ ADDRESS_MAX_FAILURES: '3', TRUST_PROXY: '1' });
      try {
        const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
        const person = await makePerson(p.deps);
        const other = await makePerson(p.deps);
        const form = await openForm(p, portal);
        // The attacker at 203.0.113.5 sends a new X-Forwarded-For each time; the load balancer appends 203.0.113.5.
        for (let i = 0; i < 3; i += 1) {
          const forged = `10.0.0.${i + 1}, 192.0.2.${i + 1}`;
          expect((await form.post({ email: person.email, password: `wrong ${i}` }, { 'X-Forwarded-For': `${forged}, 203.0.113.5` })).status).toBe(401);
        }
        expect((await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '10.9.9.9, 203.0.113.5' })).status).toBe(429);
        // Someone else behind the same balancer is not held up.
        const res = await form.post({ email: other.email, password: 'wrong again' }, { 'X-Forwarded-For': '203.0.113.6' });
        expect(res.status).toBe(401);
      } finally {
        await p.stop();
      }
    });

    test('with TRUST_PROXY=1, the audited address is the counted one', async () => {
      const p = await start({ TRUST_PROXY: '1' });
      try {
        const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
        // Five wrong activation codes lock, and the lock is audited with the caller's address.
        const invited = await makePerson(p.deps, { activate: true });
        const browser = new Browser(p.url);
        const page = await browser.open((await portal.authorizationRequest()).url);
        const activate = await browser.open(formAction(page.text, '/interaction/')!.replace(/password$/, 'activate'));
        const action = formAction(activate.text, '/activate')!;
        for (let i = 0; i < 5; i += 1) {
          const res = await browser.agent.post(new URL(action, p.url).pathname).type('form')
            .set('X-Forwarded-For', `10.0.1.${i}, 203.0.113.8`)
            .send({ ...hiddenFields(activate.text, action), email: invited.email, activation_code: 'WRONGCODE000', new_password: 'a long enough passphrase' });
          expect(res.status).toBe(400);
        }
        const audited = await p.deps.db.query("SELECT ip FROM audit_events WHERE action = 'lock.activation'");
        expect(audited.rows.map((r) => r.ip)).toEqual(['203.0.113.8']);
      } finally {
        await p.stop();
      }
    });
  });

  describe('no enumeration through throttling', () => {
    test('an unknown email and a known one get the same answers, waits and recorded side effects, try by try', async () => {
      const p = await start({ PASSWORD_FREE_FAILURES: '2', ADDRESS_MAX_FAILURES: '100000' });
      try {
        const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
        const known = await makePerson(p.deps);
        const unknown = { email: `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`, password: 'whatever it is' };
        const locks = p.deps.counters.locks('password:account');
        const seen = { known: [] as string[], unknown: [] as string[] };
        // Ten rounds take the delay past a minute (2, 4 … 256 s); waiting them out is simulated by lifting the lock.
        for (let round = 0; round < 10; round += 1) {
          for (const [name, who] of [['known', known], ['unknown', unknown]] as const) {
            const first = await tryPassword(p, portal, who, 'not the password');
            const wait = await locks.remaining(who.email.toLowerCase());
            const second = await tryPassword(p, portal, who, 'not the password either');
            const text = (r: typeof first) => /nhsuk-error-summary__list[\s\S]*?<a[^>]*>([^<]+)</.exec(r.text)?.[1]?.trim();
            seen[name].push(`${first.status} ${text(first)} | wait ${wait} | ${second.status} ${text(second)}`);
            await locks.clear(who.email.toLowerCase());
          }
        }
        expect(seen.unknown).toEqual(seen.known);
        const { rows } = await p.deps.db.query(
          "SELECT (target_user IS NOT NULL) AS known, count(*)::int AS n FROM audit_events WHERE action = 'lock.password' GROUP BY 1 ORDER BY 1");
        expect(rows).toEqual([{ known: false, n: rows[1]?.n }, { known: true, n: expect.any(Number) }]);
        expect(rows[1].n).toBeGreaterThan(0);
      } finally {
        await p.stop();
      }
    }, 60_000);
  });

});

describe('bounded work', () => {
  test('a full argon2 line answers 503 with Retry-After at once, as a page and as JSON', async () => {
    // One hash at a time, two waiting, each hash slow enough to see the line fill.
    const p = await startTestPharmid({
      ARGON2_MAX_CONCURRENT: '1', ARGON2_MAX_QUEUE: '2', ARGON2_PER_ADDRESS: '100', ARGON2_MEMORY_KIB: '65536', ARGON2_TIME_COST: '3',
      ADDRESS_MAX_FAILURES: '100000', PASSWORD_FREE_FAILURES: '100000',
    });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await makePerson(p.deps);
      const form = await openForm(p, portal);
      const timed = async (i: number) => {
        const started = performance.now();
        const res = await form.post({ email: person.email, password: `wrong ${i}` }, i % 2 ? { Accept: 'application/json' } : {});
        return { res, ms: performance.now() - started, json: i % 2 === 1 };
      };
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => timed(i)));
      const busy = answers.filter((a) => a.res.status === 503);
      const checked = answers.filter((a) => a.res.status === 401);
      expect(busy.length).toBeGreaterThan(0);
      expect(checked.length).toBeGreaterThan(0);
      expect(busy.length + checked.length).toBe(12);
      for (const a of busy) {
        expect(Number(a.res.headers['retry-after'])).toBeGreaterThan(0);
        if (a.json) expect(a.res.body).toMatchObject({ error: 'busy', error_description: expect.stringMatching(/busy/) });
        else expect(a.res.text).toContain('pharmid is busy');
      }
      // Refused at once: faster than the quickest answer that waited for its hash.
      expect(Math.max(...busy.map((a) => a.ms))).toBeLessThan(Math.min(...checked.map((a) => a.ms)));
      // Refused tries were given back: they count neither against the account nor the address.
      expect((await form.post({ email: person.email, password: person.password })).status).toBe(303);
    } finally {
      await p.stop();
    }
  });

  test('one address holds at most ARGON2_PER_ADDRESS hashes; another address is not held up', async () => {
    const p = await startTestPharmid({
      TRUST_PROXY: '1', ARGON2_MAX_CONCURRENT: '1', ARGON2_MAX_QUEUE: '100', ARGON2_PER_ADDRESS: '2',
      ARGON2_MEMORY_KIB: '65536', ARGON2_TIME_COST: '3', ADDRESS_MAX_FAILURES: '100000', PASSWORD_FREE_FAILURES: '100000',
    });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await makePerson(p.deps);
      const other = await makePerson(p.deps);
      const form = await openForm(p, portal);
      const flood = Array.from({ length: 10 }, (_, i) => form.post({ email: person.email, password: `wrong ${i}` }, { 'X-Forwarded-For': '203.0.113.9' }));
      const elsewhere = form.post({ email: other.email, password: 'wrong elsewhere' }, { 'X-Forwarded-For': '198.51.100.7' });
      const t = tally((await Promise.all(flood)).map((r) => r.status));
      expect(t[401]).toBeLessThanOrEqual(4);
      expect(t[503]).toBeGreaterThanOrEqual(6);
      expect((await elsewhere).status).toBe(401);
    } finally {
      await p.stop();
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
