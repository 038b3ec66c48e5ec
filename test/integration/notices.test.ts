import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { loadConfig } from '../../src/config.js';
import { buildDeps } from '../../src/backends.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { createMailer } from '../../src/mail/mailer.js';
import { sendDueNotices, dueEvent } from '../../src/domain/notices.js';
import { setRolloutPolicy } from '../../src/domain/rollout.js';
import { linkPerson, makePerson, makeSite } from '../helpers/factories.js';
import { beginEnrolment, confirmEnrolment } from '../../src/domain/factors/authenticators.js';
import { totpCode } from '../helpers/sign-in.js';

const DAY = 24 * 3600 * 1000;
let backends: TestBackends;
let outbox: string;
const start = Date.now();

/** One "process": its own pool and clock on the shared database, mailing to the shared outbox. */
function processAt(offsetDays: () => number) {
  const config = loadConfig({
    NODE_ENV: 'test', DATABASE_URL: backends.databaseUrl, PHARMID_SECRET_KEY: secretKey, COOKIE_KEYS: 'k', LOG_LEVEL: 'silent',
  });
  const pool = createPool(config.databaseUrl!);
  const deps = buildDeps(config, pool, new PostgresStore(pool), () => new Date(start + offsetDays() * DAY));
  const mailer = createMailer({ from: 'pharmid <no-reply@example.nhs.uk>', outboxDir: outbox });
  return { deps, send: () => sendDueNotices(deps, mailer, { reminderDays: 7, issuer: 'https://pharmid.example' }), close: () => pool.end() };
}

const secretKey = randomBytes(32).toString('base64');
let days = 0;

beforeAll(async () => {
  backends = await createTestBackends();
  outbox = mkdtempSync(join(tmpdir(), 'pharmid-outbox-'));
  const pool = createPool(backends.databaseUrl);
  await migrate(pool);
  await pool.end();
});
afterAll(async () => {
  rmSync(outbox, { recursive: true, force: true });
  await backends.drop();
});

function mails(): { to: string; subject: string; body: string }[] {
  return readdirSync(outbox).map((f) => {
    const raw = readFileSync(join(outbox, f), 'utf8');
    return { to: /^To: (.+)$/m.exec(raw)![1]!, subject: /^Subject: (.+)$/m.exec(raw)![1]!, body: raw };
  });
}

test('each notice goes once per person per event: across two processes, a restart, and the three dates', async () => {
  const a = processAt(() => days);
  const b = processAt(() => days);
  const site = await makeSite(a.deps, 'Notice Pharmacy');
  const people = await Promise.all([0, 1, 2].map(() => makePerson(a.deps, { site: site.ods_code })));
  // Someone who has already enrolled is never told anything.
  const ready = await makePerson(a.deps, { site: site.ods_code });
  const credential = await beginEnrolment(a.deps, ready.id);
  const { rows } = await a.deps.db.query('SELECT secret_sealed FROM totp_credentials WHERE id = $1', [credential]);
  await confirmEnrolment(a.deps, ready.id, credential, totpCode(a.deps.sealer.open(rows[0].secret_sealed), a.deps.now()));

  await setRolloutPolicy(a.deps, { kind: 'cli' }, {
    scope: 'site', site: site.ods_code, state: 'announced', enforceOn: new Date(start + 30 * DAY).toISOString(),
  });

  // Announced: two processes run the job at the same moment.
  const [x, y] = await Promise.all([a.send(), b.send()]);
  expect(x + y).toBe(3);
  expect(mails().filter((m) => /starts on/.test(m.subject) && !/Reminder/.test(m.subject))).toHaveLength(3);

  // A restart (a new process) sends nothing again.
  const c = processAt(() => days);
  expect(await c.send()).toBe(0);

  // A week before: one reminder each.
  days = 24;
  expect((await Promise.all([a.send(), b.send(), c.send()])).reduce((s, n) => s + n, 0)).toBe(3);
  // On the day: one last notice each, then silence.
  days = 30.1;
  expect((await Promise.all([a.send(), b.send()])).reduce((s, n) => s + n, 0)).toBe(3);
  expect(await c.send()).toBe(0);

  const all = mails();
  expect(all).toHaveLength(9);
  for (const person of people) {
    const theirs = all.filter((m) => m.to === person.email).map((m) => m.subject).sort();
    expect(theirs).toEqual([expect.stringMatching(/^Reminder: two-step sign-in starts on/), expect.stringMatching(/^Two-step sign-in starts on/), 'Two-step sign-in starts today'].sort());
  }
  expect(all.some((m) => m.to === ready.email)).toBe(false);
  // Each says what to do, including for desktop authenticators.
  expect(all[0]!.body).toMatch(/2FAS/);
  expect(all[0]!.body).toMatch(/groups of four/);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('which notice is due, by date', () => {
  const on = new Date('2027-03-01T00:00:00Z');
  expect(dueEvent(on, new Date('2027-01-01T00:00:00Z'), 7)).toBe('announced');
  expect(dueEvent(on, new Date('2027-02-23T00:00:00Z'), 7)).toBe('reminder');
  expect(dueEvent(on, new Date('2027-03-01T09:00:00Z'), 7)).toBe('enforced');
  expect(dueEvent(on, new Date('2027-04-01T00:00:00Z'), 7)).toBeUndefined();
});


test('a locum is told only about the policy that governs them: the strictest of their sites, by the sign-in\'s rule', async () => {
  days = 0;
  const a = processAt(() => days);
  const policy = (site: string, state: string, inDays?: number) => setRolloutPolicy(a.deps, { kind: 'cli' }, {
    scope: 'site', site, state, enforceOn: inDays === undefined ? undefined : new Date(start + inDays * DAY).toISOString(),
  });
  const announced = await makeSite(a.deps, 'Later Pharmacy');
  await policy(announced.ods_code, 'announced', 40);
  const enforced = await makeSite(a.deps, 'Strict Pharmacy');
  await policy(enforced.ods_code, 'enforced');
  const sooner = await makeSite(a.deps, 'Sooner Pharmacy');
  await policy(sooner.ods_code, 'grace', 20);
  const off = await makeSite(a.deps, 'Off Pharmacy');
  await policy(off.ods_code, 'off');

  // Already under an enforced site: no "starts on" notice for a later date elsewhere.
  const enforcedLocum = await makePerson(a.deps, { site: announced.ods_code });
  await linkPerson(a.deps, enforcedLocum.email, enforced.ods_code);
  // Two dates: the earlier (and stricter) one is the one they are told.
  const twoDates = await makePerson(a.deps, { site: announced.ods_code });
  await linkPerson(a.deps, twoDates.email, sooner.ods_code);
  // A site set to off does not hide the other site's announcement.
  const withOff = await makePerson(a.deps, { site: off.ods_code });
  await linkPerson(a.deps, withOff.email, announced.ods_code);

  await a.send();
  const to = (email: string) => mails().filter((m) => m.to === email);
  expect(to(enforcedLocum.email)).toHaveLength(0);
  expect(to(twoDates.email)).toHaveLength(1);
  expect(to(twoDates.email)[0]!.body).toContain('Sooner Pharmacy');
  expect(to(withOff.email)).toHaveLength(1);
  expect(to(withOff.email)[0]!.body).toContain('Later Pharmacy');
  await a.close();
});
