import { startTestPharmid, STORE_MODES, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo } from '../helpers/sign-in.js';
import { openForm } from '../attack/support.js';
import { beginAttempt } from '../../src/domain/attempts.js';
import { emailKey } from '../../src/domain/email.js';
import { unlockUser } from '../../src/domain/users.js';
import { recordSecondFactorFailure } from '../../src/db/queries/users.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The browser's cookie jar (superagent's): to read a cookie, or to give one to another browser. */
type Jar = {
  getCookie(name: string, access: unknown): { value: string } | undefined;
  setCookie(cookie: string, domain: string, path: string): unknown;
};
const jarOf = (b: Browser) => (b.agent as unknown as { jar: Jar }).jar;
const access = { domain: 'localhost', path: '/interaction', secure: false, script: false };

/**
 * How the brute-force limits treat a person's own browser (device cookie), a
 * try lost with its process, and an operator's unlock. In both store modes.
 */
describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  let p: TestPharmid;
  let portal: Portal;
  beforeAll(async () => {
    p = await startTestPharmid({ ...modeEnv, PASSWORD_FREE_FAILURES: '2', ADDRESS_MAX_FAILURES: '100000', ATTEMPT_IN_FLIGHT_SECONDS: '3', ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  });
  afterAll(() => p.stop());

  /** Posts `n` wrong passwords that get an answer, waiting out each wait between: the last leaves a wait of 2^(n-2) s (two free). */
  async function fail(form: Awaited<ReturnType<typeof openForm>>, email: string, n: number) {
    for (let answered = 0; answered < n;) {
      const status = (await form.post({ email, password: `wrong ${answered}` })).status;
      if (status === 401) answered += 1;
      else await sleep(250);
    }
  }

  /** Wrong passwords from a stranger's browser until the account waits 8 s. */
  async function makeAccountWait(email: string) {
    const stranger = await openForm(p, portal);
    await fail(stranger, email, 5);
    expect((await stranger.post({ email, password: 'wrong again' })).status).toBe(429);
  }

  const again = (b: Browser) => openForm(p, portal, 'password', { browser: b, params: { prompt: 'login' } });

  test('a device cookie is trusted only as pharmid signed it, and only for the account it names', async () => {
    const person = await makePerson(p.deps);
    const other = await makePerson(p.deps);
    const own = new Browser(p.url);
    await signInTo(portal, own, person, p.clock);
    // A browser where someone else signed in: trusted for that account, not for this one.
    const shared = new Browser(p.url);
    await signInTo(portal, shared, other, p.clock);
    await makeAccountWait(person.email);

    expect((await (await again(shared)).post({ email: person.email, password: person.password })).status).toBe(429);
    // The person's own cookie, altered by one character, in a stranger's browser: not trusted.
    const cookie = jarOf(own).getCookie('pharmid.device', access)!;
    const forged = new Browser(p.url);
    const altered = `${cookie.value.slice(0, -1)}${cookie.value.endsWith('A') ? 'B' : 'A'}`;
    jarOf(forged).setCookie(`pharmid.device=${altered}; Path=/interaction`, 'localhost', '/interaction');
    jarOf(forged).setCookie(`pharmid.device.sig=${jarOf(own).getCookie('pharmid.device.sig', access)!.value}; Path=/interaction`, 'localhost', '/interaction');
    expect((await (await again(forged)).post({ email: person.email, password: person.password })).status).toBe(429);
    // The person's own browser gets in.
    expect((await (await again(own)).post({ email: person.email, password: person.password })).status).toBe(303);
  }, 60_000);

  test('a trusted browser that keeps failing waits on its own; another of the person\'s browsers does not; an unlock lifts its wait', async () => {
    const person = await makePerson(p.deps);
    const home = new Browser(p.url);
    const work = new Browser(p.url);
    await signInTo(portal, home, person, p.clock);
    p.clock.advance(30);
    await signInTo(portal, work, person, p.clock);
    const form = await again(home);
    await fail(form, person.email, 5);
    expect((await form.post({ email: person.email, password: person.password })).status).toBe(429);
    // The account-wide wait of strangers was never started, and the other browser has its own count.
    expect((await (await again(work)).post({ email: person.email, password: person.password })).status).toBe(303);
    expect((await (await openForm(p, portal)).post({ email: person.email, password: person.password })).status).toBe(303);

    await unlockUser(p.deps, { kind: 'cli' }, person.email);
    expect((await (await again(home)).post({ email: person.email, password: person.password })).status).toBe(303);
  }, 60_000);

  test('wrong codes count towards the hard limit for 30 days, then drop off; an unlock clears them', async () => {
    const person = await makePerson(p.deps);
    const period = p.config.throttle.secondFactorHardLimitPeriod;
    const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 86_400_000);
    const counts: number[] = [];
    for (const d of [0, 1, 29]) counts.push(await recordSecondFactorFailure(p.deps.db, person.id, day(d), period, 100));
    counts.push(await recordSecondFactorFailure(p.deps.db, person.id, day(31), period, 100));
    expect(counts).toEqual([1, 2, 3, 2]);
    await unlockUser(p.deps, { kind: 'cli' }, person.email);
    expect(await recordSecondFactorFailure(p.deps.db, person.id, day(32), period, 100)).toBe(1);
  });

  test('a try whose process died before settling holds the account\'s slot for ATTEMPT_IN_FLIGHT_SECONDS at most, not the day', async () => {
    const person = await makePerson(p.deps);
    const key = emailKey(person.email)!;
    // Begun and never settled: its process was killed while the password was being hashed.
    await beginAttempt(p.deps, { kind: 'password', account: key, ip: '198.51.100.9' });
    await sleep(3_500);
    const locks = p.deps.counters.locks('password:account');
    const form = await openForm(p, portal);
    const answers: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      // Each try waits for the wait the one before set (1 s, 2 s …), no longer.
      while (await locks.remaining(key)) await sleep(100);
      answers.push((await form.post({ email: person.email, password: `wrong ${i}` })).status);
    }
    expect(answers).toEqual([401, 401, 401, 401]);
  }, 60_000);
});
