import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { cli, setCliEnvironment } from '../helpers/cli.js';
import { startTestPharmid } from '../helpers/pharmid.js';
import { readFileSync } from 'node:fs';

/** `pharmid rollout set|list`, `readiness` and `notices send`, as an operator runs them. */
let restoreEnv: () => void;
let backends: TestBackends;
let dataDir: string;
let secretKey: string;

beforeAll(async () => {
  backends = await createTestBackends();
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-rollout-cli-'));
  restoreEnv = setCliEnvironment({
    NODE_ENV: 'test', DATABASE_URL: backends.databaseUrl, PHARMID_SECRET_KEY: (secretKey = randomBytes(32).toString('base64')),
    COOKIE_KEYS: 'k', LOG_LEVEL: 'silent', PHARMID_DATA_DIR: dataDir,
  });
});
afterAll(async () => {
  restoreEnv();
  rmSync(dataDir, { recursive: true, force: true });
  await backends.drop();
});

test('announce MFA for a site, see who is not ready, send the notices once', async () => {
  expect((await cli('site', 'add', '--ods', 'CLI01', '--name', 'Cli Pharmacy')).code).toBe(0);
  expect((await cli('user', 'add', '--email', 'rae.ready@example.nhs.uk', '--name', 'Rae Ready', '--site', 'CLI01')).code).toBe(0);
  expect((await cli('user', 'add', '--email', 'pharmacy@cli.example', '--name', 'Shared', '--site', 'CLI01', '--password', 'the counter phrase')).code).toBe(0);

  const empty = await cli('rollout', 'list');
  expect(empty.stdout).toContain('no rollout policies: MFA is enforced everywhere');

  const set = await cli('rollout', 'set', '--scope', 'site', '--site', 'cli01', '--state', 'announced', '--enforce-on', '2099-06-01', '--json');
  expect(set.code).toBe(0);
  expect(set.json).toMatchObject({ scope: 'site', state: 'announced', enforce_on: '2099-06-01T00:00:00.000Z', max_skips: 3 });
  expect((await cli('rollout', 'list', '--json')).json.policies).toEqual([
    expect.objectContaining({ scope: 'site', site: 'CLI01', state: 'announced' }),
  ]);

  const report = await cli('readiness', '--site', 'CLI01', '--json');
  expect(report.json.sites[0]).toMatchObject({ ods: 'CLI01', people: 2, ready: 0 });
  expect(report.json.sites[0].notReady.map((n: { email: string; reasons: string[] }) => `${n.email}: ${n.reasons.join(' ')}`)).toEqual([
    'rae.ready@example.nhs.uk: not-activated not-enrolled',
    'pharmacy@cli.example: shared-or-generic not-enrolled',
  ]);

  const sent = await cli('notices', 'send', '--json');
  expect(sent.json).toEqual({ sent: 2, via: 'outbox', issuer: 'http://localhost:3000' });
  expect(readdirSync(join(dataDir, 'outbox'))).toHaveLength(2);
  expect((await cli('notices', 'send', '--json')).json).toMatchObject({ sent: 0, via: 'outbox' });
});

test('bad policies are refused with a reason and change nothing', async () => {
  for (const argv of [
    ['rollout', 'set', '--scope', 'global', '--state', 'grace'],
    ['rollout', 'set', '--scope', 'global', '--state', 'maybe'],
    ['rollout', 'set', '--scope', 'site', '--site', 'NOPE1', '--state', 'off'],
    ['rollout', 'set', '--scope', 'global', '--state', 'announced', '--enforce-on', 'next tuesday'],
    ['rollout', 'set', '--state', 'off'],
  ]) {
    const r = await cli(...argv);
    expect({ argv, failed: r.code !== 0 }).toEqual({ argv, failed: true });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect((await cli('rollout', 'list', '--json')).json.policies).toHaveLength(1);
});

test('announced or grace with today or a past date is refused, saying enforcing now gives nobody notice, naming the flag', async () => {
  const today = new Date().toISOString().slice(0, 10);
  for (const [state, date] of [['announced', today], ['grace', '2020-01-01']]) {
    const r = await cli('rollout', 'set', '--scope', 'global', '--state', state!, '--enforce-on', date!);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('gives nobody notice');
    expect(r.stderr).toContain('(--enforce-on)');
  }
  const missing = await cli('rollout', 'set', '--scope', 'site', '--state', 'off');
  expect(missing.stderr).toContain('A site policy needs the site it covers (--site)');
  expect((await cli('rollout', 'list', '--json')).json.policies.filter((p: { scope: string }) => p.scope === 'global')).toEqual([]);
});

test('notices send from a shell without ISSUER names the address the server serves, not localhost', async () => {
  // The server has started once with its real address (and is gone again): the CLI's shell has no ISSUER.
  const server = await startTestPharmid({ ISSUER: 'https://id.example.org', DATABASE_URL: backends.databaseUrl, PHARMID_DATA_DIR: dataDir },
    { backends, secretKey, cookieKey: 'k' });
  await server.close();
  expect(process.env.ISSUER).toBeUndefined();
  expect((await cli('site', 'add', '--ods', 'CLI02', '--name', 'Second Cli Pharmacy')).code).toBe(0);
  expect((await cli('user', 'add', '--email', 'sol.second@example.nhs.uk', '--name', 'Sol Second', '--site', 'CLI02')).code).toBe(0);
  expect((await cli('rollout', 'set', '--scope', 'site', '--site', 'CLI02', '--state', 'announced', '--enforce-on', '2099-06-01')).code).toBe(0);
  const before = new Set(readdirSync(join(dataDir, 'outbox')));
  const sent = await cli('notices', 'send', '--json');
  expect(sent.json).toEqual({ sent: 1, via: 'outbox', issuer: 'https://id.example.org' });
  const mail = readdirSync(join(dataDir, 'outbox')).filter((f) => !before.has(f)).map((f) => readFileSync(join(dataDir, 'outbox', f), 'utf8'));
  expect(mail).toHaveLength(1);
  expect(mail[0]).toContain('https://id.example.org');
  expect(mail[0]).not.toContain('localhost:3000');
});
