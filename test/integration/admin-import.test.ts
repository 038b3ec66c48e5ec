import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { cli, setCliEnvironment } from '../helpers/cli.js';

/** pharmid user import and pharmid admin grant, run as the operator would (the CLI, in this process). */
let restoreEnv: () => void;
let backends: TestBackends;
let db: pg.Pool;
const dir = mkdtempSync(join(tmpdir(), 'pharmid-import-'));

beforeAll(async () => {
  backends = await createTestBackends();
  restoreEnv = setCliEnvironment({
    NODE_ENV: 'test', DATABASE_URL: backends.databaseUrl, PHARMID_SECRET_KEY: randomBytes(32).toString('base64'),
    COOKIE_KEYS: randomBytes(24).toString('base64url'), LOG_LEVEL: 'silent',
  });
  db = new pg.Pool({ connectionString: backends.databaseUrl, max: 2 });
  await ok('site', 'add', '--ods', 'IMP01', '--name', 'Import Pharmacy');
  await ok('site', 'add', '--ods', 'IMP02', '--name', 'Second Pharmacy');
  await ok('site', 'add', '--ods', 'A81001', '--name', 'Hill Surgery', '--kind', 'gp-practice');
  await ok('user', 'add', '--email', 'kept.name@example.nhs.uk', '--name', 'Kept Name', '--site', 'IMP02');
});

afterAll(async () => {
  restoreEnv?.();
  await db?.end();
  await backends?.drop();
});

async function ok(...argv: string[]) {
  const r = await cli(...argv, '--json');
  if (r.code !== 0) throw new Error(`pharmid ${argv.join(' ')}: ${r.stderr}`);
  return r.json;
}

/** A dry run that finds problems: the report on stdout, and exit code 1 for a script to see. */
async function foundProblems(...argv: string[]) {
  const r = await cli(...argv, '--json');
  expect([r.code, r.stderr]).toEqual([1, '']);
  return r.json;
}

async function counts() {
  const out: Record<string, number> = {};
  for (const t of ['users', 'memberships', 'activation_codes', 'audit_events', 'org_roles', 'commissioned_sites']) {
    out[t] = (await db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n;
  }
  return out;
}

let files = 0;
function csv(lines: string[]): string {
  const file = join(dir, `people-${(files += 1)}.csv`);
  writeFileSync(file, `${lines.join('\r\n')}\r\n`);
  return file;
}

test('a dry run reports shared emails, generic mailboxes, unknown sites and invalid emails, and writes nothing', async () => {
  const file = csv([
    'email,name,site,role',
    'ann.fine@example.nhs.uk,Ann Fine,IMP01,site-admin',
    'same.address@example.nhs.uk,Bob One,IMP01,member',
    'Same.Address@example.nhs.uk,Carol Two,IMP01,member',
    'pharmacy@highstreet.example,Whole Team,IMP01,',
    'info@surgery.example,Front Desk,A81001,',
    'practice.manager@surgery.example,Pat Manager,A81001,',
    'england.imp01@nhs.net,Team Mailbox,IMP01,',
    'dan.locum@example.nhs.uk,Dan Locum,IMP01,',
    'dan.locum@example.nhs.uk,Dan Locum,A81001,',
    'eve.nowhere@example.nhs.uk,Eve Nowhere,ZZZ999,',
    'not-an-email,Frank Typo,IMP01,',
    'gail.badcode@example.nhs.uk,Gail Badcode,FA-12,',
    '"kept.name@example.nhs.uk","Someone Else",IMP01,',
    '"quoted, name@example.nhs.uk",Quote Person,IMP01,',
    'hal.role@example.nhs.uk,Hal Role,IMP01,owner',
  ]);
  const before = await counts();
  const report = await foundProblems('user', 'import', file, '--dry-run');
  expect(await counts()).toEqual(before);
  expect(report).toMatchObject({ dry_run: true, written: false, rows: 15 });
  const problems = report.problems.map((q: { line: number; kind: string }) => `${q.line} ${q.kind}`);
  expect(problems).toEqual([
    '3 shared-email', '4 shared-email', '5 generic-mailbox', '6 generic-mailbox', '7 generic-mailbox', '8 generic-mailbox',
    '11 unknown-site', '12 invalid-email', '13 invalid-site', '14 existing-account', '15 invalid-email', '16 invalid-role',
  ]);
  expect(report.problems.find((q: { line: number }) => q.line === 3).message).toMatch(/shared by different people \(lines 3, 4\)/);
  expect(report.problems.find((q: { line: number }) => q.line === 5).message).toMatch(/shared team mailbox \(pharmacy@\)/);
  // The locum on two lines (same email, same name) is one person with two sites, not a problem.
  expect(report.people.filter((x: { email: string }) => x.email === 'dan.locum@example.nhs.uk').map((x: { site: string }) => x.site)).toEqual(['IMP01', 'A81001']);
  // A dry run never shows activation codes: nothing it made exists.
  expect(JSON.stringify(report)).not.toMatch(/activation_code/);

  const human = await cli('user', 'import', file, '--dry-run');
  expect(human.code).toBe(1);
  expect(human.stdout).toMatch(/12 problems \(a real run would write nothing\)/);
  expect(human.stdout).toMatch(/line 11: unknown-site: No site has ODS code ZZZ999/);
});

test('a real run with one failing row writes nothing, not even the good rows before it', async () => {
  const file = csv([
    'email,name,site',
    'ivy.good@example.nhs.uk,Ivy Good,IMP01',
    'jack.good@example.nhs.uk,Jack Good,IMP01',
    'kim.bad@example.nhs.uk,Kim Bad,ZZZ998',
  ]);
  const before = await counts();
  const r = await cli('user', 'import', file, '--json');
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.json.error).toMatch(/^nothing was imported: 1 problems \(line 4: No site has ODS code ZZZ998\)/);
  expect(await counts()).toEqual(before);
});

test('rows are written, then rolled back, when the database refuses the file as a whole (a site cap)', async () => {
  await ok('site', 'add', '--ods', 'TINY1', '--name', 'Tiny Pharmacy');
  await ok('site', 'update', '--ods', 'TINY1', '--cap', '2');
  const file = csv(['email,name,site', ...['leo', 'mia', 'ned'].map((n) => `${n}.cap@example.nhs.uk,${n} Cap,TINY1`)]);
  const before = await counts();
  const r = await cli('user', 'import', file, '--json');
  expect(r.code).toBe(1);
  expect(r.json.error).toMatch(/TINY1: 3 new people would pass its limit of 2 active people/);
  expect(await counts()).toEqual(before);
  // The dry run says the same, with nothing written either.
  const dry = await foundProblems('user', 'import', file, '--dry-run');
  expect(dry.problems.map((q: { kind: string }) => q.kind)).toEqual(['over-cap']);
  expect(await counts()).toEqual(before);
});

test('a clean file is written in one go: people, memberships, activation codes, audit', async () => {
  const file = csv([
    'Email,Name,Site,Role',
    'olga.new@example.nhs.uk,Olga New,IMP01,site-admin',
    'pete.locum@example.nhs.uk,Pete Locum,IMP01,member',
    'pete.locum@example.nhs.uk,Pete Locum,IMP02,member',
    'kept.name@example.nhs.uk,Kept Name,IMP01,member',
  ]);
  const report = await ok('user', 'import', file);
  expect(report).toMatchObject({ dry_run: false, written: true, rows: 4, problems: [] });
  expect(report.people.map((x: { email: string; existing: boolean; activation_code?: string }) => [x.email, x.existing, Boolean(x.activation_code)])).toEqual([
    ['olga.new@example.nhs.uk', false, true], ['pete.locum@example.nhs.uk', false, true],
    ['pete.locum@example.nhs.uk', true, false], ['kept.name@example.nhs.uk', true, false],
  ]);
  const { rows } = await db.query(
    `SELECT u.email, u.status, s.ods_code, m.role FROM memberships m JOIN users u ON u.id = m.user_id JOIN sites s ON s.id = m.site_id
      WHERE u.email IN ('olga.new@example.nhs.uk', 'pete.locum@example.nhs.uk', 'kept.name@example.nhs.uk') ORDER BY u.email, s.ods_code`,
  );
  expect(rows).toEqual([
    { email: 'kept.name@example.nhs.uk', status: 'invited', ods_code: 'IMP01', role: 'member' },
    { email: 'kept.name@example.nhs.uk', status: 'invited', ods_code: 'IMP02', role: 'member' },
    { email: 'olga.new@example.nhs.uk', status: 'invited', ods_code: 'IMP01', role: 'site-admin' },
    { email: 'pete.locum@example.nhs.uk', status: 'invited', ods_code: 'IMP01', role: 'member' },
    { email: 'pete.locum@example.nhs.uk', status: 'invited', ods_code: 'IMP02', role: 'member' },
  ]);
  // The code is stored hashed, never as shown.
  const code = report.people[0].activation_code as string;
  const stored = await db.query('SELECT code_hash FROM activation_codes a JOIN users u ON u.id = a.user_id WHERE u.email = $1', ['olga.new@example.nhs.uk']);
  expect(stored.rows[0].code_hash).not.toContain(code.replace('-', ''));
  const audit = await db.query("SELECT action, actor FROM audit_events WHERE action IN ('user.add', 'user.link', 'user.import') AND details->>'import' = 'true' OR action = 'user.import'");
  expect(audit.rows.filter((a) => a.action === 'user.import')).toHaveLength(1);
  expect(audit.rows.every((a) => a.actor === 'cli')).toBe(true);
});

test('bad files: no header, no file, two files, a quote left open', async () => {
  const before = await counts();
  for (const [argv, reason] of [
    [[csv(['ann@example.nhs.uk,Ann,IMP01'])], /first line must name the columns/],
    [[join(dir, 'missing.csv')], /Cannot read/],
    [[], /Give one CSV file/],
    [[csv(['email,name,site']), csv(['email,name,site'])], /Give one CSV file/],
    [[csv(['email,name,site', '"open@example.nhs.uk,Open,IMP01'])], /ends inside a quoted field/],
  ] as [string[], RegExp][]) {
    const r = await cli('user', 'import', ...argv);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(reason);
  }
  expect(await counts()).toEqual(before);
});

describe('pharmid admin grant', () => {
  test('grants organisation-wide roles, a commissioner with their sites', async () => {
    await ok('user', 'add', '--email', 'quinn.comm@example.nhs.uk', '--name', 'Quinn Comm', '--site', 'IMP02');
    expect(await ok('admin', 'grant', '--email', 'Quinn.Comm@example.nhs.uk', '--role', 'commissioner', '--site', 'imp01', '--site', 'A81001'))
      .toMatchObject({ email: 'quinn.comm@example.nhs.uk', role: 'commissioner', sites: ['IMP01', 'A81001'] });
    expect(await ok('admin', 'grant', '--email', 'quinn.comm@example.nhs.uk', '--role', 'helpdesk')).toMatchObject({ role: 'helpdesk', sites: [] });
    const list = await ok('admin', 'list');
    expect(list.roles).toEqual(expect.arrayContaining([
      expect.objectContaining({ email: 'quinn.comm@example.nhs.uk', role: 'commissioner', sites: ['A81001', 'IMP01'] }),
      expect.objectContaining({ email: 'quinn.comm@example.nhs.uk', role: 'helpdesk' }),
    ]));
    expect(await ok('admin', 'revoke', '--email', 'quinn.comm@example.nhs.uk', '--role', 'commissioner', '--site', 'IMP01')).toMatchObject({ revoked: true });
    expect((await ok('admin', 'list')).roles).toEqual(expect.arrayContaining([expect.objectContaining({ role: 'commissioner', sites: ['A81001'] })]));
  });

  test.each([
    [['--email', 'quinn.comm@example.nhs.uk', '--role', 'commissioner'], /commissioner needs at least one site/],
    [['--email', 'quinn.comm@example.nhs.uk', '--role', 'helpdesk', '--site', 'IMP01'], /reaches every site: give no --site/],
    [['--email', 'quinn.comm@example.nhs.uk', '--role', 'overlord'], /role must be one of helpdesk, commissioner, superadmin/],
    [['--email', 'nobody@example.nhs.uk', '--role', 'superadmin'], /No one has the email/],
    [['--email', 'quinn.comm@example.nhs.uk', '--role', 'commissioner', '--site', 'ZZZ997'], /No site has ODS code ZZZ997/],
    [['--email', 'quinn.comm@example.nhs.uk', '--role', 'commissioner', '--site', 'F-1'], /ODS code is 3 to 6/],
  ])('refuses %j', async (argv, reason) => {
    const before = await counts();
    const r = await cli('admin', 'grant', ...argv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(reason);
    expect(await counts()).toEqual(before);
  });
});

test('a dry run reports every problem of a row, and a clean dry run exits 0', async () => {
  const file = csv([
    'email,name,site,role',
    'not-an-email,Ann\u0000Bad,FA-12,owner',
    'bob.clean@example.nhs.uk,Bob Clean,IMP01,member',
  ]);
  const report = await foundProblems('user', 'import', file, '--dry-run');
  expect(report.problems.map((q: { line: number; kind: string }) => `${q.line} ${q.kind}`))
    .toEqual(['2 invalid-name', '2 invalid-email', '2 invalid-site', '2 invalid-role']);
  const clean = await cli('user', 'import', csv(['email,name,site', 'bob.clean@example.nhs.uk,Bob Clean,IMP01']), '--dry-run', '--json');
  expect(clean.code).toBe(0);
  expect(clean.json).toMatchObject({ dry_run: true, problems: [] });
});
