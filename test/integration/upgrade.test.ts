/**
 * Upgrades and scale-out: migrations run at start, under an advisory lock, so
 * several processes started together on an empty database all come up, and
 * they agree on one schema and one set of signing keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { freePort } from '../helpers/pharmid.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function start(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['dist/src/main.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const listening = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('"msg":"pharmid is listening"')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`pharmid exited (${code}):\n${text}`)));
  });
  return { child, listening };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
}

let backends: TestBackends;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  backends = await createTestBackends();
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-upgrade-'));
  chmodSync(dataDir, 0o711);
});

afterAll(async () => {
  for (const child of children) await stop(child);
  await backends.drop();
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

test('two processes started together on an empty database both come up, with one schema and one set of keys', async () => {
  const shared: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: backends.databaseUrl,
    REDIS_URL: backends.redisUrl,
    REDIS_KEY_PREFIX: backends.redisKeyPrefix,
    PHARMID_SECRET_KEY: randomBytes(32).toString('base64'),
    COOKIE_KEYS: randomBytes(24).toString('base64url'),
    PHARMID_DATA_DIR: dataDir,
    ISSUER: 'http://localhost:3999',
  };
  delete shared.NODE_ENV;
  const ports = [await freePort(), await freePort()];
  const started = ports.map((port) => start({ ...shared, PORT: String(port) }));
  children.push(...started.map((s) => s.child));
  await Promise.all(started.map((s) => s.listening));

  const files = readdirSync(join(ROOT, 'migrations')).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  const db = new pg.Client({ connectionString: backends.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual(files);
  } finally {
    await db.end();
  }
  const jwks = await Promise.all(ports.map(async (port) => (await (await fetch(`http://127.0.0.1:${port}/jwks`)).json()) as { keys: { kid: string }[] }));
  expect(jwks[0]!.keys.map((k) => k.kid).sort()).toEqual(jwks[1]!.keys.map((k) => k.kid).sort());
}, 90_000);
