import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { createTestBackends } from '../helpers/backends.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator, errorMessages } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { stepOf, type Person } from '../helpers/sign-in.js';
import { resetMfa, resetPassword } from '../../src/domain/users.js';
import { migrate } from '../../src/db/migrate.js';

/**
 * Every one-time code has one purpose and is taken only at its own step
 * (DESIGN.md, "Codes and who may use them"): activation and password-reset
 * codes at "Activate your account", for their person only; an MFA-reset code
 * only after the person's own password, never at activation.
 */
let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
});
afterAll(() => p.stop());

async function enrolled() {
  return withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
}

/** Opens a sign-in and "Activate your account", and submits it. */
async function activate(email: string, code: string, newPassword = 'a fresh long passphrase') {
  const browser = new Browser(p.url);
  const start = await browser.open((await portal.authorizationRequest()).url);
  const page = await browser.open(formAction(start.text, '/interaction/')!.replace(/password$/, 'activate'));
  expect(stepOf(page.text)).toBe('activate');
  const res = await browser.submit(formAction(page.text, '/interaction/')!, { email, activation_code: code, new_password: newPassword });
  return { browser, res };
}

/** Signs in with email and password; returns the page that follows. */
async function afterPassword(person: Pick<Person, 'email' | 'password'>) {
  const browser = new Browser(p.url);
  const start = await browser.open((await portal.authorizationRequest()).url);
  const res = await browser.submit(formAction(start.text, '/interaction/')!, { email: person.email, password: person.password });
  return { browser, res };
}

test('an MFA-reset code is refused at "Activate your account", and taken only after the person\'s own password', async () => {
  const person = await enrolled();
  const { activationCode: mfaCode } = await resetMfa(p.deps, cli, person.email);

  // The code alone sets no password and enrols nothing.
  const { res } = await activate(person.email, mfaCode, 'a password chosen by a thief');
  expect(res.status).toBe(400);
  expect(errorMessages(res.text).join(' ')).toMatch(/That code is for after your password/);
  // The page offers signing in as the one next step, and no form that would go on from here.
  expect(res.text).toContain('id="sign-in-instead"');
  expect(stepOf(res.text)).toBeUndefined();
  const wrongPassword = await afterPassword({ email: person.email, password: 'a password chosen by a thief' });
  expect(wrongPassword.res.status).toBe(401);

  // With the person's own password, the same code is asked for, then enrolment follows.
  const { browser, res: codePage } = await afterPassword(person);
  expect(stepOf(codePage.text)).toBe('reset-code');
  const enrol = await browser.submit(formAction(codePage.text, '/interaction/')!, { activation_code: mfaCode });
  expect(stepOf(enrol.text)).toBe('enrol');
});

test('a password-reset code works at "Activate your account" for its own person only, and never after a password', async () => {
  const owner = await enrolled();
  const other = await enrolled();
  const { activationCode } = await resetPassword(p.deps, cli, owner.email);

  const elsewhere = await activate(other.email, activationCode);
  expect(elsewhere.res.status).toBe(400);
  expect((await afterPassword(other)).res.status).toBe(200);

  // Nor is it taken at the MFA-reset step of someone awaiting one.
  const awaiting = await enrolled();
  const { activationCode: theirs } = await resetMfa(p.deps, cli, awaiting.email);
  const { browser, res: codePage } = await afterPassword(awaiting);
  expect(stepOf(codePage.text)).toBe('reset-code');
  const refused = await browser.submit(formAction(codePage.text, '/interaction/')!, { activation_code: activationCode });
  expect(refused.status).toBe(401);
  expect(stepOf((await browser.submit(formAction(codePage.text, '/interaction/')!, { activation_code: theirs })).text)).toBe('enrol');

  // Its own person chooses a new password with it, and still gives their authenticator code.
  const own = await activate(owner.email, activationCode);
  expect(stepOf(own.res.text)).toBe('otp');
});

test('with a password reset and an MFA reset both outstanding, neither code destroys the other: each is needed at its own step', async () => {
  for (const order of [['password', 'mfa'], ['mfa', 'password']] as const) {
    const person = await enrolled();
    const codes: Record<string, string> = {};
    for (const kind of order) codes[kind] = (kind === 'mfa' ? await resetMfa(p.deps, cli, person.email) : await resetPassword(p.deps, cli, person.email)).activationCode;

    expect((await activate(person.email, codes.mfa!)).res.status).toBe(400);
    const { browser, res } = await activate(person.email, codes.password!, 'my own new passphrase');
    expect([order.join(' then '), stepOf(res.text)]).toEqual([order.join(' then '), 'reset-code']);
    const enrol = await browser.submit(formAction(res.text, '/interaction/')!, { activation_code: codes.mfa! });
    expect(stepOf(enrol.text)).toBe('enrol');
  }
});

test('an MFA-reset code that has expired still stands between a password and a new authenticator', async () => {
  const person = await enrolled();
  const { activationCode } = await resetMfa(p.deps, cli, person.email);
  await p.deps.db.query("UPDATE activation_codes SET expires_at = now() - interval '1 minute' WHERE user_id = $1", [person.id]);

  const { browser, res } = await afterPassword(person);
  expect(stepOf(res.text)).toBe('reset-code');
  const refused = await browser.submit(formAction(res.text, '/interaction/')!, { activation_code: activationCode });
  expect(refused.status).toBe(401);
  // A new code from an administrator lets them through.
  const { activationCode: fresh } = await resetMfa(p.deps, cli, person.email);
  const after = await afterPassword(person);
  expect(stepOf(after.res.text)).toBe('reset-code');
  const enrol = await after.browser.submit(formAction(after.res.text, '/interaction/')!, { activation_code: fresh });
  expect(stepOf(enrol.text)).toBe('enrol');
});

test('codes issued before purposes were stored take the purpose their act recorded; a code of unknown purpose never becomes a way in alone', async () => {
  const backends = await createTestBackends();
  const pool = new pg.Pool({ connectionString: backends.databaseUrl, max: 1 });
  try {
    // The database as it was before migration 008.
    const dir = fileURLToPath(new URL('../../migrations', import.meta.url));
    await pool.query('CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    for (const file of readdirSync(dir).filter((f) => /^\d+_.+\.sql$/.test(f) && f < '008').sort()) {
      await pool.query(readFileSync(join(dir, file), 'utf8'));
      await pool.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
    }
    const people: Record<string, { id: string; status: string; password: boolean; act?: string }> = {
      invited: { id: '', status: 'invited', password: false, act: 'user.add' },
      passwordReset: { id: '', status: 'active', password: false, act: 'user.reset-password' },
      mfaReset: { id: '', status: 'active', password: true, act: 'user.reset-mfa' },
      unknownWithPassword: { id: '', status: 'active', password: true },
      unknownWithoutPassword: { id: '', status: 'active', password: false },
    };
    for (const [name, person] of Object.entries(people)) {
      const { rows } = await pool.query("INSERT INTO users (email, email_key, name, status) VALUES ($1, $1, 'Old Code', $2) RETURNING id", [`${name.toLowerCase()}@example.nhs.uk`, person.status]);
      person.id = rows[0].id;
      if (person.password) await pool.query("INSERT INTO passwords (user_id, hash) VALUES ($1, 'x')", [person.id]);
      // The code and its act's audit event in one transaction, as the old code wrote them.
      await pool.query('BEGIN');
      await pool.query("INSERT INTO activation_codes (user_id, code_hash, expires_at) VALUES ($1, 'h', now() + interval '1 day')", [person.id]);
      if (person.act) await pool.query("INSERT INTO audit_events (actor, action, outcome, target_user) VALUES ('cli', $1, 'success', $2)", [person.act, person.id]);
      await pool.query('COMMIT');
    }
    expect((await migrate(pool))[0]).toBe('008_code_purposes.sql');
    const { rows } = await pool.query('SELECT user_id, purpose FROM activation_codes');
    const purposeOf = (name: string) => rows.find((r) => r.user_id === people[name]!.id)?.purpose;
    expect(Object.fromEntries(Object.keys(people).map((name) => [name, purposeOf(name) ?? 'removed']))).toEqual({
      invited: 'activation', passwordReset: 'password-reset', mfaReset: 'mfa-reset', unknownWithPassword: 'mfa-reset', unknownWithoutPassword: 'removed',
    });
  } finally {
    await pool.end();
    await backends.drop();
  }
});
