import { randomBytes } from 'node:crypto';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { afterPasswordStep, signInTo, stepOf, type Person } from '../helpers/sign-in.js';
import { cli, setCliEnvironment } from '../helpers/cli.js';
import { resetMfa } from '../../src/domain/users.js';

/**
 * What an operator's `pharmid user unlock` lifts. A person kept out by a
 * brute-force limit must be let back in by it, in both store modes.
 */
describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  let p: TestPharmid;
  let portal: Portal;
  /** The CLI, run as an operator runs it beside this server (its database, and its Redis in that mode). */
  const operator = async (of: TestPharmid, ...argv: string[]) => {
    const b = of.backends_;
    const restore = setCliEnvironment({
      NODE_ENV: 'test', DATABASE_URL: b.databaseUrl, PHARMID_SECRET_KEY: of.config.secretKey.toString('base64'),
      COOKIE_KEYS: of.config.cookieKeys.join(','), LOG_LEVEL: 'silent',
      ...(modeEnv.REDIS_URL === '' ? {} : { REDIS_URL: b.redisUrl, REDIS_KEY_PREFIX: b.redisKeyPrefix }),
    });
    try {
      return await cli(...argv);
    } finally {
      restore();
    }
  };
  beforeAll(async () => {
    p = await startTestPharmid({ ...modeEnv, ADDRESS_MAX_FAILURES: '100000' });
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  });
  afterAll(() => p.stop());

  test('`pharmid user unlock` lifts the lock on the MFA-reset code step', async () => {
    const person: Person & { id: string } = await makePerson(p.deps);
    await signInTo(portal, new Browser(p.url), person, p.clock);
    const { activationCode } = await resetMfa(p.deps, { kind: 'cli' }, person.email);
    p.clock.advance(30);

    const { browser, res, action } = await afterPasswordStep(p.url, portal, person);
    expect(stepOf(res.text)).toBe('reset-code');
    // The person mistypes the code five times (or someone holding their password does it for them).
    for (let i = 0; i < 5; i += 1) {
      expect((await browser.submit(action!, { activation_code: `WRONG${i}CODE` })).status).toBe(401);
    }
    expect((await browser.submit(action!, { activation_code: activationCode })).status).toBe(429);

    const unlocked = await operator(p, 'user', 'unlock', '--email', person.email, '--json');
    expect(unlocked.code).toBe(0);
    const after = await browser.submit(action!, { activation_code: activationCode });
    // Held: the right code is taken (the next step is enrolment). Got through the gap: still 429.
    expect(after.status).not.toBe(429);
    expect(stepOf(after.text)).toBe('enrol');
  });

  test('`pharmid user unlock` lets a person in whose address was made to wait by someone else', async () => {
    const q = await startTestPharmid({ ...modeEnv, ADDRESS_MAX_FAILURES: '3' });
    try {
      const qPortal = await Portal.connect(q.config.issuer, await makeClient(q.deps));
      const victim = await makePerson(q.deps);
      // The pharmacy's address is the victim's own network: they have signed in from it before.
      await signInTo(qPortal, new Browser(q.url), victim, q.clock);
      // Someone at the same pharmacy address (NAT) types wrong passwords for some other email.
      for (let i = 0; i < 3; i += 1) {
        const r = await afterPasswordStep(q.url, qPortal, { email: `nobody.${randomBytes(3).toString('hex')}@example.nhs.uk`, password: `wrong ${i}` });
        expect(r.res.status).toBe(401);
      }
      expect((await afterPasswordStep(q.url, qPortal, victim)).res.status).toBe(429);
      expect((await operator(q, 'user', 'unlock', '--email', victim.email, '--json')).code).toBe(0);
      const after = await afterPasswordStep(q.url, qPortal, victim);
      expect(after.res.status).not.toBe(429);
    } finally {
      await q.stop();
    }
  });
});
