import { randomBytes, randomInt } from 'node:crypto';
import argon2 from 'argon2';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../helpers/pharmid.js';
import { Portal } from '../helpers/portal.js';
import { Browser } from '../helpers/browser.js';
import { signInTo, type Person } from '../helpers/sign-in.js';
import { makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { consoleBrowser, staff } from './admin-support.js';
import { errorMessages } from '../helpers/pages.js';
import { cli, setCliEnvironment } from '../helpers/cli.js';
import { CHEAP_ARGON2, openForm, tally } from '../attack/support.js';
import { checkPassword } from '../../src/domain/sign-in.js';
import { changePassword } from '../../src/domain/self-service.js';
import { findUserByEmailKey } from '../../src/db/queries/users.js';
import { findPasswordHash, upsertPasswordHash } from '../../src/db/queries/passwords.js';

const nobody = () => `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`;

/** The CLI, run as an operator runs it beside this server (its database, and its Redis in that mode). */
async function operator(p: TestPharmid, modeEnv: Record<string, string>, ...argv: string[]) {
  const b = p.backends_;
  const restore = setCliEnvironment({
    NODE_ENV: 'test', DATABASE_URL: b.databaseUrl, PHARMID_SECRET_KEY: p.config.secretKey.toString('base64'),
    COOKIE_KEYS: p.config.cookieKeys.join(','), LOG_LEVEL: 'silent',
    ...(modeEnv.REDIS_URL === '' ? {} : { REDIS_URL: b.redisUrl, REDIS_KEY_PREFIX: b.redisKeyPrefix }),
  });
  try {
    return await cli(...argv);
  } finally {
    restore();
  }
}

/** The person signs in to the end from `ip`: it is then their own network, whose wait an unlock of them lifts. */
async function signedInFrom(p: TestPharmid, portal: Portal, person: Person, ip: string): Promise<void> {
  const browser = new Browser(p.url);
  browser.agent.set('X-Forwarded-For', ip);
  await signInTo(portal, browser, person, p.clock);
}

/**
 * Addresses as the per-address limits count them, and the waits they impose:
 * what a person is told when it is their network that waits, and how an
 * operator lifts it. TRUST_PROXY=1: the test plays the load balancer.
 */
describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  const start = (env: Record<string, string>) => startTestPharmid({ ...modeEnv, ...CHEAP_ARGON2, TRUST_PROXY: '1', ...env });

  test('a try refused because its address waits says that the network waits, and which address, not that the email does', async () => {
    const p = await start({ ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await makePerson(p.deps);
      const form = await openForm(p, portal);
      for (let i = 0; i < 3; i += 1) {
        expect((await form.post({ email: nobody(), password: `wrong ${i}` }, { 'X-Forwarded-For': '203.0.113.5' })).status).toBe(401);
      }
      const refused = await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '203.0.113.5' });
      expect(refused.status).toBe(429);
      const said = errorMessages(refused.text).join(' ');
      expect(said).toMatch(/^Too many wrong tries from your network\. Wait \d+ minutes .* ask your site administrator to unlock your account/);
      expect(said).toContain('(203.0.113.5)');
      expect(said).not.toMatch(/email/);
    } finally {
      await p.stop();
    }
  });

  test('`pharmid address unlock --ip` lifts an address\'s wait, given any address of it (an IPv6 host: its /64)', async () => {
    const p = await start({ ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await makePerson(p.deps);
      const form = await openForm(p, portal);
      for (let i = 0; i < 3; i += 1) {
        expect((await form.post({ email: nobody(), password: `wrong ${i}` }, { 'X-Forwarded-For': `2001:db8:7:8::${i + 1}` })).status).toBe(401);
      }
      const refused = await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '2001:db8:7:8::99' });
      expect(refused.status).toBe(429);
      expect(errorMessages(refused.text).join(' ')).toContain('(2001:db8:7:8::/64)');

      const bad = await operator(p, modeEnv, 'address', 'unlock', '--ip', 'the pharmacy', '--json');
      expect(bad.code).not.toBe(0);
      expect(bad.json.error).toMatch(/IPv4 or IPv6 address/);

      const lifted = await operator(p, modeEnv, 'address', 'unlock', '--ip', '2001:DB8:7:8::1234', '--json');
      expect(lifted.code).toBe(0);
      expect(lifted.json).toEqual({ address: '2001:db8:7:8::/64', unlocked: true });
      const after = await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '2001:db8:7:8::99' });
      expect(after.status).toBe(303);
      const audited = await p.deps.db.query("SELECT actor, ip FROM audit_events WHERE action = 'address.unlock'");
      expect(audited.rows).toEqual([{ actor: 'cli', ip: '2001:db8:7:8::/64' }]);
    } finally {
      await p.stop();
    }
  });

  test('`pharmid user unlock` says which addresses it let the person in from', async () => {
    const p = await start({ ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await makePerson(p.deps);
      // The pharmacy's network: the person has signed in from it before.
      await signedInFrom(p, portal, person, '198.51.100.20');
      const form = await openForm(p, portal);
      for (let i = 0; i < 3; i += 1) await form.post({ email: nobody(), password: `wrong ${i}` }, { 'X-Forwarded-For': '198.51.100.20' });
      expect((await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '::ffff:198.51.100.20' })).status).toBe(429);
      const unlocked = await operator(p, modeEnv, 'user', 'unlock', '--email', person.email, '--json');
      expect(unlocked.json.addresses_lifted).toEqual(['198.51.100.20']);
      expect((await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '198.51.100.20:5555' })).status).toBe(303);
      // Lifted once: the next unlock has no address to lift.
      expect((await operator(p, modeEnv, 'user', 'unlock', '--email', person.email, '--json')).json.addresses_lifted).toEqual([]);
    } finally {
      await p.stop();
    }
  });

  test('a site administrator\'s unlock in the console lets the person in from the network that was made to wait', async () => {
    const p = await start({ ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const site = (await makeSite(p.deps)).ods_code;
      const admin = await staff(p, site, 'site-admin');
      const person = await makePerson(p.deps, { site });
      await signedInFrom(p, portal, person, '198.51.100.30');
      const form = await openForm(p, portal);
      for (let i = 0; i < 3; i += 1) await form.post({ email: nobody(), password: `wrong ${i}` }, { 'X-Forwarded-For': '198.51.100.30' });
      expect((await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '198.51.100.30' })).status).toBe(429);
      // The administrator works from elsewhere (the test's own address).
      const { browser } = await consoleBrowser(p, admin);
      await browser.open(`/admin/people/${person.id}`);
      expect((await browser.submit(`/admin/people/${person.id}/unlock`, {})).status).toBeLessThan(400);
      expect((await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '198.51.100.30' })).status).toBe(303);
      const audited = await p.deps.db.query("SELECT details FROM audit_events WHERE action = 'user.unlock'");
      expect(audited.rows).toEqual([{ details: { addresses_lifted: ['198.51.100.30'] } }]);
    } finally {
      await p.stop();
    }
  });

  test('an over-long or odd email is counted and answered like any wrong one: a 401 page, and its address point stays counted', async () => {
    const p = await start({ ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const form = await openForm(p, portal);
      const emails = [
        // 1,300 CJK characters: 3,900 bytes of UTF-8, past what a Postgres btree key may hold.
        Array.from({ length: 1300 }, () => String.fromCodePoint(0x4e00 + randomInt(0x5000))).join(''),
        `${'x'.repeat(3990)}@e.uk`,
        '#not an email',
      ];
      const statuses: number[] = [];
      for (const email of emails) statuses.push((await form.post({ email, password: 'whatever it is' }, { 'X-Forwarded-For': '192.0.2.44' })).status);
      expect(statuses).toEqual([401, 401, 401]);
      // Three failures from this address: the next try waits, whatever its email.
      expect((await form.post({ email: nobody(), password: 'whatever it is' }, { 'X-Forwarded-For': '192.0.2.44' })).status).toBe(429);
    } finally {
      await p.stop();
    }
  });

  test('the audit trail records the address as seen, in one spelling', async () => {
    const p = await start({ ADDRESS_MAX_FAILURES: '100000' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const invited = await makePerson(p.deps, { activate: true });
      const form = await openForm(p, portal, 'activate');
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        statuses.push((await form.post(
          { email: invited.email, activation_code: 'WRONGCODE000', new_password: 'a long enough passphrase' },
          { 'X-Forwarded-For': `[::FFFF:203.0.113.8]:4000${i}` },
        )).status);
      }
      expect(tally(statuses)).toEqual({ 400: 5 });
      const audited = await p.deps.db.query("SELECT ip FROM audit_events WHERE action = 'lock.activation'");
      expect(audited.rows.map((r) => r.ip)).toEqual(['203.0.113.8']);
    } finally {
      await p.stop();
    }
  });
});

describe('argon2 places', () => {
  let p: TestPharmid;
  beforeAll(async () => {
    p = await startTestPharmid({
      ARGON2_MAX_CONCURRENT: '1', ARGON2_MAX_QUEUE: '100', ARGON2_PER_ADDRESS: '1', ARGON2_MEMORY_KIB: '65536', ARGON2_TIME_COST: '3',
      ADDRESS_MAX_FAILURES: '100000', PASSWORD_FREE_FAILURES: '100000',
    });
  });
  afterAll(() => p.stop());

  /** Runs `work`, watching the hasher: true if a hash was ever in flight that no address held. */
  async function anyUnheldHash(work: () => Promise<unknown>): Promise<boolean> {
    const hasher = p.deps.passwords as unknown as { running: number; waiting: unknown[]; byAddress: Map<string, number> };
    let unheld = false;
    const watch = setInterval(() => {
      const held = [...hasher.byAddress.values()].reduce((a, b) => a + b, 0);
      if (hasher.running + hasher.waiting.length > held) unheld = true;
    }, 1);
    try {
      await work();
    } finally {
      clearInterval(watch);
    }
    return unheld;
  }

  test('the new hash after a sign-in with a hash of older parameters is held against the address', async () => {
    const person = await makePerson(p.deps);
    const user = (await findUserByEmailKey(p.deps.db, person.email))!;
    // A hash made with weaker parameters than today's: a right password is hashed again.
    await upsertPasswordHash(p.deps.db, user.id, await argon2.hash(person.password, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1 }));
    expect(await anyUnheldHash(async () => expect((await checkPassword(p.deps, person.email, person.password, '203.0.113.45')).ok).toBe(true))).toBe(false);
    expect(p.deps.passwords.needsRehash((await findPasswordHash(p.deps.db, user.id))!)).toBe(false);
  }, 60_000);

  test('a password change at /account is held against the address for both of its hashes', async () => {
    const person = await makePerson(p.deps);
    const user = (await findUserByEmailKey(p.deps.db, person.email))!;
    expect(await anyUnheldHash(() => changePassword(p.deps, user, person.password, 'lantern harbour quietly', '203.0.113.46'))).toBe(false);
  }, 60_000);
});
