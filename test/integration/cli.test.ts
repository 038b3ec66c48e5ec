import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { cli, runBinary, REPO_ROOT, type CliResult, setCliEnvironment } from '../helpers/cli.js';
import { createSealer, hashCode, normaliseCode } from '../../src/domain/secrets.js';

let restoreEnv: () => void;
const secretKey = randomBytes(32).toString('base64');
let env: Record<string, string>;
let backends: TestBackends;
let db: pg.Pool;

beforeAll(async () => {
  backends = await createTestBackends();
  env = {
    NODE_ENV: 'test',
    DATABASE_URL: backends.databaseUrl,
    PHARMID_SECRET_KEY: secretKey,
    COOKIE_KEYS: randomBytes(24).toString('base64url'),
    ARGON2_MEMORY_KIB: '8192',
    ARGON2_TIME_COST: '1',
    LOG_LEVEL: 'silent',
  };
  restoreEnv = setCliEnvironment(env);
  db = new pg.Pool({ connectionString: backends.databaseUrl, max: 2 });
});

afterAll(async () => {
  restoreEnv?.();
  await db?.end();
  await backends?.drop();
});

const TABLES = ['sites', 'users', 'memberships', 'passwords', 'activation_codes', 'totp_credentials', 'recovery_codes', 'clients', 'audit_events'];

/** Row counts of every table a command may write. */
async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t] = Number((await db.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
  return out;
}

/** Runs a command that must fail: non-zero exit, a one-line reason on stderr, nothing written. */
async function refused(argv: string[], reason: RegExp, exitCode?: number): Promise<CliResult> {
  const before = await counts();
  const r = await cli(...argv);
  expect(r.code).not.toBe(0);
  if (exitCode !== undefined) expect(r.code).toBe(exitCode);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(reason);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(await counts()).toEqual(before);
  return r;
}

/** Runs a command that must succeed with --json, returning its object. */
async function ok(...argv: string[]): Promise<any> {
  const r = await cli(...argv, '--json');
  if (r.code !== 0) throw new Error(`pharmid ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
  expect(r.stderr).toBe('');
  expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
  return r.json;
}

const uniqueOds = () => `Q${randomBytes(3).toString('hex').toUpperCase().slice(0, 5)}`;
const uniqueEmail = () => `Staff.${randomBytes(4).toString('hex')}@Example.NHS.uk`;


describe('migrate', () => {
  test('applies every migration on an empty database, then nothing', async () => {
    const files = readdirSync(join(REPO_ROOT, 'migrations')).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
    expect(files.length).toBeGreaterThan(0);
    const first = await ok('migrate');
    expect(first.applied).toEqual(files);
    const { rows } = await db.query('SELECT name FROM schema_migrations ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual(files);
    const again = await ok('migrate');
    expect(again.applied).toEqual([]);
    const plain = await cli('migrate');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('up to date\n');
    expect((await db.query('SELECT count(*) AS n FROM schema_migrations')).rows[0].n).toBe(String(files.length));
  });
});

describe('site add', () => {
  test('stores the ODS code upper-case, with name and kind, and audits it', async () => {
    const ods = uniqueOds();
    const out = await ok('site', 'add', '--ods', ` ${ods.toLowerCase()} `, '--name', 'Castle Street Surgery', '--kind', 'gp-practice');
    expect(out).toMatchObject({ ods, name: 'Castle Street Surgery', kind: 'gp-practice' });
    const { rows } = await db.query('SELECT id, ods_code, name, kind FROM sites WHERE ods_code = $1', [ods]);
    expect(rows).toEqual([{ id: out.id, ods_code: ods, name: 'Castle Street Surgery', kind: 'gp-practice' }]);
    const audit = await db.query("SELECT actor, details FROM audit_events WHERE action = 'site.add' AND site_id = $1", [out.id]);
    expect(audit.rows).toEqual([{ actor: 'cli', details: expect.objectContaining({ ods }) }]);
  });

  test('the kind defaults to pharmacy; without --json it says what it did', async () => {
    const ods = uniqueOds();
    const r = await cli('site', 'add', '--ods', ods, '--name', 'High Street Pharmacy');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`added site ${ods} (High Street Pharmacy)\n`);
    expect((await db.query('SELECT kind FROM sites WHERE ods_code = $1', [ods])).rows[0].kind).toBe('pharmacy');
  });

  test.each(['F1', 'FA12345', 'FA-12', 'FA 12'])('a malformed ODS code %j is refused', async (ods) => {
    await refused(['site', 'add', '--ods', ods, '--name', 'Bad'], /^pharmid: An ODS code is 3 to 6 letters and digits/);
  });

  test('a duplicate ODS code (in any case) is refused', async () => {
    const ods = uniqueOds();
    await ok('site', 'add', '--ods', ods, '--name', 'First');
    await refused(['site', 'add', '--ods', ods.toLowerCase(), '--name', 'Second'], new RegExp(`already exists`));
    expect((await db.query('SELECT name FROM sites WHERE ods_code = $1', [ods])).rows).toEqual([{ name: 'First' }]);
  });

  test('an unknown kind is refused', async () => {
    await refused(['site', 'add', '--ods', uniqueOds(), '--name', 'X', '--kind', 'hospital'], /kind must be one of/);
  });

  test('with --json a failure is one JSON object naming the reason', async () => {
    const r = await refused(['site', 'add', '--ods', '!!', '--name', 'X', '--json'], /ODS/);
    expect(r.json).toEqual({ error: expect.stringMatching(/3 to 6 letters and digits/) });
  });
});

async function newSite(kind = 'pharmacy'): Promise<string> {
  const ods = uniqueOds();
  await ok('site', 'add', '--ods', ods, '--name', `Site ${ods}`, '--kind', kind);
  return ods;
}

describe('user add', () => {
  test('without --password: invited, with an activation code that matches the stored hash', async () => {
    const ods = await newSite();
    const email = uniqueEmail();
    const out = await ok('user', 'add', '--email', ` ${email} `, '--name', 'Sam Patel', '--site', ods.toLowerCase());
    expect(out).toMatchObject({ email, name: 'Sam Patel', status: 'invited', site: ods, role: 'member' });
    expect(out.activation_code).toMatch(/^[A-HJKMNP-Z2-9]{5}-[A-HJKMNP-Z2-9]{5}$/);

    const user = (await db.query('SELECT id, email, email_key, name, status FROM users WHERE id = $1', [out.id])).rows[0];
    expect(user).toEqual({ id: out.id, email, email_key: email.toLowerCase(), name: 'Sam Patel', status: 'invited' });
    const code = (await db.query('SELECT code_hash, expires_at FROM activation_codes WHERE user_id = $1', [out.id])).rows[0];
    expect(code.code_hash).toBe(hashCode(normaliseCode(out.activation_code)));
    expect(code.expires_at.getTime()).toBeGreaterThan(Date.now() + 3600_000);
    expect((await db.query('SELECT 1 FROM passwords WHERE user_id = $1', [out.id])).rowCount).toBe(0);
    const m = await db.query('SELECT s.ods_code, m.role FROM memberships m JOIN sites s ON s.id = m.site_id WHERE m.user_id = $1', [out.id]);
    expect(m.rows).toEqual([{ ods_code: ods, role: 'member' }]);
    expect((await db.query("SELECT 1 FROM audit_events WHERE action = 'user.add' AND target_user = $1", [out.id])).rowCount).toBe(1);
  });

  test('with --password: active, an argon2id hash, no activation code anywhere', async () => {
    const ods = await newSite();
    const email = uniqueEmail();
    const out = await ok('user', 'add', '--email', email, '--name', 'Jo Bloggs', '--site', ods, '--role', 'site-admin', '--password', 'plum orchard river');
    expect(out).toMatchObject({ email, status: 'active', role: 'site-admin' });
    expect(out).not.toHaveProperty('activation_code');
    const hash = (await db.query('SELECT hash FROM passwords WHERE user_id = $1', [out.id])).rows[0].hash;
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(hash).not.toContain('plum orchard river');
    expect((await db.query('SELECT 1 FROM activation_codes WHERE user_id = $1', [out.id])).rowCount).toBe(0);
    expect((await db.query('SELECT role FROM memberships WHERE user_id = $1', [out.id])).rows).toEqual([{ role: 'site-admin' }]);
  });

  test('without --json the activation code is told once, in words', async () => {
    const ods = await newSite();
    const email = uniqueEmail();
    const r = await cli('user', 'add', '--email', email, '--name', 'Ann Lee', '--site', ods);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^added ${email.replace(/\./g, '\\.')}; activation code \\(give it to them once\\): [A-Z2-9]{5}-[A-Z2-9]{5}\\n$`));
  });

  test('an email that differs only in case from an existing one is refused', async () => {
    const ods = await newSite();
    const email = uniqueEmail();
    await ok('user', 'add', '--email', email, '--name', 'First Person', '--site', ods);
    await refused(['user', 'add', '--email', email.toUpperCase(), '--name', 'Second Person', '--site', ods], /already has the email/);
    await refused(['user', 'add', '--email', email.toLowerCase(), '--name', 'Second Person', '--site', ods, '--password', 'plum orchard river'], /already has the email/);
  });

  test('an unknown site, a bad email, a bad role or a weak password writes nothing', async () => {
    const ods = await newSite();
    await refused(['user', 'add', '--email', uniqueEmail(), '--name', 'X Y', '--site', uniqueOds()], /No site has ODS code/);
    await refused(['user', 'add', '--email', 'not-an-email', '--name', 'X Y', '--site', ods], /email address in the correct format/);
    await refused(['user', 'add', '--email', uniqueEmail(), '--name', 'X Y', '--site', ods, '--role', 'superadmin'], /role must be one of/);
    await refused(['user', 'add', '--email', uniqueEmail(), '--name', 'X Y', '--site', ods, '--password', 'short'], /at least 8 characters/);
    await refused(['user', 'add', '--email', 'jo.bloggs@example.nhs.uk', '--name', 'X Y', '--site', ods, '--password', 'jo.bloggs-rules'], /email name/);
  });
});

describe('user link', () => {
  test('a locum gets a second site; their first is kept', async () => {
    const home = await newSite();
    const second = await newSite('gp-practice');
    const email = uniqueEmail();
    const user = await ok('user', 'add', '--email', email, '--name', 'Lee Locum', '--site', home);
    const out = await ok('user', 'link', '--email', email.toLowerCase(), '--site', second.toLowerCase(), '--role', 'site-admin');
    expect(out).toMatchObject({ id: user.id, email, site: second, role: 'site-admin' });
    const m = await db.query('SELECT s.ods_code, m.role FROM memberships m JOIN sites s ON s.id = m.site_id WHERE m.user_id = $1 ORDER BY s.ods_code', [user.id]);
    expect(m.rows).toEqual([{ ods_code: home, role: 'member' }, { ods_code: second, role: 'site-admin' }].sort((a, b) => a.ods_code.localeCompare(b.ods_code)));
    expect((await db.query("SELECT 1 FROM audit_events WHERE action = 'user.link' AND target_user = $1", [user.id])).rowCount).toBe(1);
  });

  test('an unknown person or site is refused', async () => {
    const ods = await newSite();
    await refused(['user', 'link', '--email', uniqueEmail(), '--site', ods], /No one has the email/);
    const email = uniqueEmail();
    await ok('user', 'add', '--email', email, '--name', 'A B', '--site', ods);
    await refused(['user', 'link', '--email', email, '--site', uniqueOds()], /No site has ODS code/);
  });
});

describe('administrative resets', () => {
  async function enrolledPerson() {
    const ods = await newSite();
    const email = uniqueEmail();
    const user = await ok('user', 'add', '--email', email, '--name', 'Reset Me', '--site', ods, '--password', 'plum orchard river');
    const sealed = createSealer(Buffer.from(secretKey, 'base64')).seal('JBSWY3DPEHPK3PXP');
    await db.query('INSERT INTO totp_credentials (user_id, secret_sealed, confirmed_at) VALUES ($1, $2, now())', [user.id, sealed]);
    await db.query('INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, md5(g::text) FROM generate_series(1, 3) g', [user.id]);
    return { id: user.id as string, email };
  }
  const revokedAt = async (id: string) => (await db.query('SELECT sessions_revoked_at FROM users WHERE id = $1', [id])).rows[0].sessions_revoked_at as Date | null;

  test('reset-mfa removes the authenticator and recovery codes, ends sessions, keeps the password, audits', async () => {
    const p = await enrolledPerson();
    expect(await revokedAt(p.id)).toBeNull();
    const out = await ok('user', 'reset-mfa', '--email', p.email.toUpperCase());
    expect(out).toMatchObject({ id: p.id, email: p.email });
    expect((await db.query('SELECT 1 FROM totp_credentials WHERE user_id = $1', [p.id])).rowCount).toBe(0);
    expect((await db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [p.id])).rowCount).toBe(0);
    expect((await db.query('SELECT 1 FROM passwords WHERE user_id = $1', [p.id])).rowCount).toBe(1);
    expect((await revokedAt(p.id))!.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect((await db.query("SELECT actor FROM audit_events WHERE action = 'user.reset-mfa' AND target_user = $1", [p.id])).rows).toEqual([{ actor: 'cli' }]);
  });

  test('reset-password removes the password, issues a new activation code, ends sessions, keeps MFA', async () => {
    const p = await enrolledPerson();
    const out = await ok('user', 'reset-password', '--email', p.email);
    expect(out.activation_code).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
    expect((await db.query('SELECT 1 FROM passwords WHERE user_id = $1', [p.id])).rowCount).toBe(0);
    const code = (await db.query('SELECT code_hash FROM activation_codes WHERE user_id = $1', [p.id])).rows;
    expect(code).toEqual([{ code_hash: hashCode(normaliseCode(out.activation_code)) }]);
    expect((await db.query('SELECT 1 FROM totp_credentials WHERE user_id = $1', [p.id])).rowCount).toBe(1);
    expect(await revokedAt(p.id)).not.toBeNull();
    expect((await db.query("SELECT 1 FROM audit_events WHERE action = 'user.reset-password' AND target_user = $1", [p.id])).rowCount).toBe(1);

    // A second reset replaces the code: the first no longer matches.
    const again = await ok('user', 'reset-password', '--email', p.email);
    expect(again.activation_code).not.toBe(out.activation_code);
    const codes = (await db.query('SELECT code_hash FROM activation_codes WHERE user_id = $1', [p.id])).rows;
    expect(codes).toEqual([{ code_hash: hashCode(normaliseCode(again.activation_code)) }]);
  });

  test('disable marks the person disabled, ends sessions and audits; a disabled person gets no password reset', async () => {
    const p = await enrolledPerson();
    const out = await ok('user', 'disable', '--email', p.email);
    expect(out).toMatchObject({ id: p.id, email: p.email, status: 'disabled' });
    expect((await db.query('SELECT status FROM users WHERE id = $1', [p.id])).rows[0].status).toBe('disabled');
    expect(await revokedAt(p.id)).not.toBeNull();
    expect((await db.query("SELECT 1 FROM audit_events WHERE action = 'user.disable' AND target_user = $1", [p.id])).rowCount).toBe(1);
    await refused(['user', 'reset-password', '--email', p.email], /is disabled/);
  });

  test.each(['reset-mfa', 'reset-password', 'disable'])('%s of an unknown email is refused', async (verb) => {
    await refused(['user', verb, '--email', uniqueEmail()], /No one has the email/);
  });
});

describe('clients', () => {
  test('client add --json gives client_id and a secret, stored sealed', async () => {
    const out = await ok('client', 'add', '--name', 'PharmOutcomes', '--redirect-uri', 'https://portal.example.com/cb',
      '--redirect-uri', 'http://localhost:8080/callback', '--post-logout-redirect-uri', 'https://portal.example.com/bye', '--first-party');
    expect(out).toMatchObject({
      name: 'PharmOutcomes', first_party: true, public: false,
      redirect_uris: ['https://portal.example.com/cb', 'http://localhost:8080/callback'],
      post_logout_redirect_uris: ['https://portal.example.com/bye'],
    });
    expect(out.client_id).toEqual(expect.any(String));
    expect(out.client_secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const row = (await db.query('SELECT name, metadata, secret_sealed, first_party FROM clients WHERE client_id = $1', [out.client_id])).rows[0];
    expect(row.first_party).toBe(true);
    expect(row.metadata.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(row.metadata.redirect_uris).toEqual(out.redirect_uris);
    expect(JSON.stringify(row)).not.toContain(out.client_secret);
    expect(createSealer(Buffer.from(secretKey, 'base64')).open(row.secret_sealed)).toBe(out.client_secret);
    expect((await db.query("SELECT details FROM audit_events WHERE action = 'client.add' AND details->>'client_id' = $1", [out.client_id])).rowCount).toBe(1);
  });

  test('client add --public has no secret and authenticates with none', async () => {
    const out = await ok('client', 'add', '--name', 'PharmRefer', '--redirect-uri', 'https://refer.example.com/cb', '--public');
    expect(out.public).toBe(true);
    expect(out).not.toHaveProperty('client_secret');
    const row = (await db.query('SELECT metadata, secret_sealed FROM clients WHERE client_id = $1', [out.client_id])).rows[0];
    expect(row.secret_sealed).toBeNull();
    expect(row.metadata.token_endpoint_auth_method).toBe('none');
  });

  test('without --json the secret is printed once with its label', async () => {
    const r = await cli('client', 'add', '--name', 'Outcomes4Health', '--redirect-uri', 'https://o4h.example.com/cb');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^registered Outcomes4Health\nclient_id: +\S+\nclient_secret: \S+ /);
  });

  test.each([
    ['a non-loopback http redirect URI', ['--redirect-uri', 'http://portal.example.com/cb'], /must use https/],
    ['a relative redirect URI', ['--redirect-uri', '/cb'], /not an absolute URL/],
    ['a redirect URI with a fragment', ['--redirect-uri', 'https://portal.example.com/cb#x'], /#fragment/],
    ['no redirect URI', [], /at least one redirect URI/],
    ['a non-loopback http post-logout URI', ['--redirect-uri', 'https://p.example.com/cb', '--post-logout-redirect-uri', 'http://p.example.com/bye'], /post_logout_redirect_uri: must use https/],
  ])('%s is refused', async (_what, flags, reason) => {
    await refused(['client', 'add', '--name', 'Bad Portal', ...flags], reason);
  });

  test('client list shows registered portals without secrets; client remove removes one', async () => {
    const a = await ok('client', 'add', '--name', 'Listed A', '--redirect-uri', 'https://a.example.com/cb');
    const b = await ok('client', 'add', '--name', 'Listed B', '--redirect-uri', 'https://b.example.com/cb', '--public');
    const list = await ok('client', 'list');
    const ids = list.clients.map((c: { client_id: string }) => c.client_id);
    expect(ids).toEqual(expect.arrayContaining([a.client_id, b.client_id]));
    expect(JSON.stringify(list)).not.toContain(a.client_secret);
    for (const c of list.clients) expect(c).not.toHaveProperty('client_secret');
    expect(list.clients.find((c: { client_id: string }) => c.client_id === a.client_id)).toMatchObject({ name: 'Listed A', redirect_uris: ['https://a.example.com/cb'], public: false });

    const plain = await cli('client', 'list');
    expect(plain.stdout).toContain(`${a.client_id}  Listed A  https://a.example.com/cb`);

    expect(await ok('client', 'remove', '--client-id', a.client_id)).toMatchObject({ client_id: a.client_id, removed: true });
    expect((await db.query('SELECT 1 FROM clients WHERE client_id = $1', [a.client_id])).rowCount).toBe(0);
    expect((await db.query('SELECT 1 FROM clients WHERE client_id = $1', [b.client_id])).rowCount).toBe(1);
    const after = await ok('client', 'list');
    expect(after.clients.map((c: { client_id: string }) => c.client_id)).not.toContain(a.client_id);
    expect((await db.query("SELECT 1 FROM audit_events WHERE action = 'client.remove' AND details->>'client_id' = $1", [a.client_id])).rowCount).toBe(1);
  });

  test('removing an unknown portal is refused', async () => {
    await refused(['client', 'remove', '--client-id', 'no-such-client'], /No portal has client_id no-such-client/);
  });
});

describe('bad invocations', () => {
  test('an unknown command exits 2 naming it', async () => {
    await refused(['site', 'explode'], /unknown command "site explode"/, 2);
    await refused(['frobnicate'], /unknown command "frobnicate"/, 2);
  });

  test('a missing required flag is refused naming it', async () => {
    await refused(['site', 'add', '--name', 'No Code'], /--ods is required/);
    await refused(['user', 'add', '--email', uniqueEmail(), '--name', 'X Y'], /--site is required/);
    await refused(['client', 'remove'], /--client-id is required/);
    await refused(['user', 'disable'], /--email is required/);
  });

  test('an unknown flag, or a flag without its value, exits 2 with the usage', async () => {
    await refused(['site', 'add', '--ods', uniqueOds(), '--name', 'X', '--colour', 'blue'], /--colour.*usage: pharmid site add/, 2);
    await refused(['site', 'add', '--ods'], /--ods/, 2);
  });

  test('no arguments print the usage and exit 2; help exits 0', async () => {
    const none = await cli();
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^usage: pharmid/);
    expect(none.stdout).toContain('client remove --client-id ID');
    const help = await cli('help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: pharmid/);
  });

  test('a bad setting is a one-line reason, exit 2, before touching the database', async () => {
    const before = process.env.DATABASE_URL;
    process.env.DATABASE_URL = 'mysql://nowhere';
    try {
      const r = await cli('site', 'add', '--ods', uniqueOds(), '--name', 'X');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/DATABASE_URL/);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    } finally {
      process.env.DATABASE_URL = before;
    }
  });
});

describe('bad bytes: the command line and the import refuse what the web refuses', () => {
  let site: string;
  const dir = mkdtempSync(join(tmpdir(), 'pharmid-cli-bytes-'));
  beforeAll(async () => {
    site = uniqueOds();
    await ok('site', 'add', '--ods', site, '--name', 'Byte Pharmacy');
  });
  const control = 'contains a control character \\(such as NUL\\), which is not allowed';

  test.each([
    ['user add --name with a NUL', ['user', 'add', '--email', 'E', '--name', 'Nul\u0000Name', '--site', 'SITE'], `--name ${control}`],
    ['user add --name with an escape sequence', ['user', 'add', '--email', 'E', '--name', 'Esc\u001b[31mName', '--site', 'SITE'], `--name ${control}`],
    ['user add --name with a line break', ['user', 'add', '--email', 'E', '--name', 'Line\nBreak', '--site', 'SITE'], '--name contains a tab or line break'],
    ['user add --name with half a surrogate pair', ['user', 'add', '--email', 'E', '--name', 'Half\uD800', '--site', 'SITE'], '--name is not valid UTF-8 text'],
    ['user add --email with a NUL', ['user', 'add', '--email', 'nul\u0000@example.nhs.uk', '--name', 'N', '--site', 'SITE'], `--email ${control}`],
    ['user add --password with a NUL', ['user', 'add', '--email', 'E', '--name', 'N', '--site', 'SITE', '--password', 'plum\u0000orchard river'], `--password ${control}`],
    ['site add --name with a NUL', ['site', 'add', '--ods', 'NEWODS', '--name', 'Bad\u0000Site'], `--name ${control}`],
    ['client add --name with a NUL', ['client', 'add', '--name', 'Bad\u0000Portal', '--redirect-uri', 'https://portal.example/cb'], `--name ${control}`],
    ['client add --redirect-uri with a NUL, the second of two', ['client', 'add', '--name', 'P', '--redirect-uri', 'https://portal.example/cb', '--redirect-uri', 'https://portal.example/c\u0000b'], `--redirect-uri ${control}`],
    ['user reset-mfa --email with a NUL', ['user', 'reset-mfa', '--email', 'x\u0000@example.nhs.uk'], `--email ${control}`],
    ['client remove --client-id with a NUL', ['client', 'remove', '--client-id', 'ab\u0000c'], `--client-id ${control}`],
    ['user import with a NUL in the file name', ['user', 'import', 'people\u0000.csv'], `the file name ${control}`],
  ])('%s: one line naming the flag, exit 1, nothing written', async (_label, argv, reason) => {
    const filled = argv.map((a) => (a === 'E' ? uniqueEmail() : a === 'SITE' ? site : a === 'NEWODS' ? uniqueOds() : a));
    await refused(filled, new RegExp(`^pharmid: ${reason}`), 1);
  });

  test('a multi-line field takes line breaks, as its textarea does on the web', async () => {
    const out = await ok('site', 'update', '--ods', site, '--address', '1 High Street\nTown\r\nAB1 2CD');
    expect(out.address).toMatch(/^1 High Street\nTown\r?\nAB1 2CD$/);
  });

  test.each([
    ['a NUL in a name', 'email,name,site\nimp.nul@example.nhs.uk,Imp\u0000Nul,SITE\n', 'utf8', `line 2: name ${control}`, 'invalid-name'],
    ['an escape sequence in a name', 'email,name,site\nimp.esc@example.nhs.uk,Imp\u001b[2JEsc,SITE\n', 'utf8', `line 2: name ${control}`, 'invalid-name'],
    ['a line break inside a quoted name', 'email,name,site\nimp.lf@example.nhs.uk,"Imp\r\nLf",SITE\n', 'utf8', 'line 2: name contains a tab or line break', 'invalid-name'],
    ['a NUL in a site', 'email,name,site\nimp.site@example.nhs.uk,Imp Site,CL\u0000B01\n', 'utf8', `line 2: site ${control}`, 'invalid-site'],
    ['a NUL in an email', 'email,name,site\nimp\u0000@example.nhs.uk,Imp Mail,SITE\n', 'utf8', `line 2: email ${control}`, 'invalid-email'],
  ] as const)('an import file with %s: refused naming the line and the column, nothing written', async (_label, body, encoding, reason, kind) => {
    const file = join(dir, `${randomBytes(4).toString('hex')}.csv`);
    writeFileSync(file, `${body}ok.${randomBytes(3).toString('hex')}@example.nhs.uk,Good Row,SITE\n`.replaceAll('SITE', site), encoding);
    await refused(['user', 'import', file], new RegExp(`^pharmid: nothing was imported: 1 problems \\(${reason}`), 1);
    const dry = await cli('user', 'import', file, '--dry-run', '--json');
    expect(dry.code).toBe(1); // a dry run that found problems
    expect(dry.json.problems).toEqual([expect.objectContaining({ line: 2, kind })]);
  });

  test('an import file that is not UTF-8 is refused naming the line, never stored as U+FFFD', async () => {
    const file = join(dir, 'latin1.csv');
    const email = `imp.latin.${randomBytes(3).toString('hex')}@example.nhs.uk`;
    writeFileSync(file, Buffer.concat([Buffer.from(`email,name,site\n${email},Ren`), Buffer.from([0xe9]), Buffer.from(`e Latin,${site}\n`)]));
    await refused(['user', 'import', file], /^pharmid: The file is not UTF-8 text \(line 2\)/, 1);
    await refused(['user', 'import', file, '--dry-run'], /^pharmid: The file is not UTF-8 text \(line 2\)/, 1);
    expect((await db.query('SELECT 1 FROM users WHERE email_key = $1', [email])).rowCount).toBe(0);
  });
});

describe('the pharmid binary', () => {
  test('exit codes: 0 on success with one JSON object, 1 on bad input, 2 on an unknown command', async () => {
    const ods = uniqueOds();
    const good = await runBinary(['site', 'add', '--ods', ods.toLowerCase(), '--name', 'Binary Pharmacy', '--json'], env);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(good.json).toMatchObject({ ods, name: 'Binary Pharmacy', kind: 'pharmacy' });
    expect((await db.query('SELECT name FROM sites WHERE ods_code = $1', [ods])).rows).toEqual([{ name: 'Binary Pharmacy' }]);

    const before = await counts();
    const bad = await runBinary(['site', 'add', '--ods', 'x!', '--name', 'Nope'], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^pharmid: An ODS code is 3 to 6 letters and digits[^\n]*\n$/);
    expect(await counts()).toEqual(before);

    const unknown = await runBinary(['site', 'explode'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command/);
  });
});
