/**
 * README.md's "A first sign-in, step by step", followed as written: its
 * shell block is read from the README and each line run in a shell (ports
 * moved off 3000/3001 so that tests can run side by side, the data directory
 * a fresh folder, and the printed client_id and secret put where the README
 * says), then Ann signs in through the demo portal it starts. The start
 * banner must print the same lines. Then pharmid restarts and she is still
 * signed in to it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { freePort, TestClock } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { driveSignIn, type Person } from '../helpers/sign-in.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/** The commands of the README section's shell block, comments and blank lines left out. */
function readmeSteps(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n## A first sign-in, step by step\n')[1]!.split('\n## ')[0]!;
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

/** Runs a long-lived command line in a shell; `printed` waits for output matching a pattern. */
function startLine(line: string, env: NodeJS.ProcessEnv) {
  const child = spawn('bash', ['-c', line], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  const listeners: (() => void)[] = [];
  const onData = (chunk: Buffer) => { text += chunk.toString(); for (const l of listeners) l(); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const printed = (pattern: RegExp, withinMs = 60_000) => new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not printed within ${withinMs} ms: ${pattern}\n${text}`)), withinMs);
    const check = () => {
      const m = pattern.exec(text);
      if (m) { clearTimeout(timer); resolve(m); }
    };
    listeners.push(check);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}) before printing ${pattern}:\n${text}`)); });
    check();
  });
  return { child, printed, output: () => text };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(-child.pid!, 'SIGTERM');
  });
}

let dataDir: string;
const running: ChildProcess[] = [];

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-readme-'));
  chmodSync(dataDir, 0o711); // as root, the embedded Postgres's user must be able to enter it
});

afterAll(async () => {
  for (const child of running.reverse()) await stop(child);
  rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

test('the README\'s first sign-in, run as written, signs Ann in through the demo portal, and a restart keeps her signed in', async () => {
  const steps = readmeSteps();
  expect(steps[0]).toBe('npm ci && npm start');
  expect(steps).toHaveLength(5);
  // The banner names the portal's port as pharmid's + 1, as 3000 and 3001 in the README.
  const port = await freePort();
  const portalPort = port + 1;
  const issuer = `http://localhost:${port}`;
  const here = (line: string) => line.replaceAll('localhost:3000', `localhost:${port}`)
    .replaceAll('localhost:3001', `localhost:${portalPort}`).replaceAll('PORT=3001', `PORT=${portalPort}`);
  const env: NodeJS.ProcessEnv = { ...process.env, PHARMID_DATA_DIR: dataDir, PORT: String(port) };
  for (const name of ['NODE_ENV', 'DATABASE_URL', 'REDIS_URL', 'ISSUER', 'PHARMID_SECRET_KEY', 'COOKIE_KEYS']) delete env[name];

  // `npm ci` has been done for the suite; the rest of the first line is the start.
  let server = startLine('npm start', env);
  running.push(server.child);
  await server.printed(/pharmid has no people or portals yet/);
  const banner = (await server.printed(/Discovery: /)).input;
  for (const line of steps.slice(1)) expect(banner).toContain(`  ${here(line)}\n`);

  await run('bash', ['-c', here(steps[1]!)], { cwd: ROOT, env });
  const added = await run('bash', ['-c', here(steps[2]!)], { cwd: ROOT, env });
  const activationCode = /activation code \(give it to them once\): (\S+)/.exec(added.stdout)![1]!;
  const client = await run('bash', ['-c', here(steps[3]!)], { cwd: ROOT, env });
  const clientId = /client_id: +(\S+)/.exec(client.stdout)![1]!;
  const clientSecret = /client_secret: (\S+)/.exec(client.stdout)![1]!;
  const portalLine = here(steps[4]!).replace('<client_id>', clientId).replace('<client_secret>', clientSecret);
  const portalProcess = startLine(portalLine, { ...process.env });
  running.push(portalProcess.child);
  await portalProcess.printed(/PharmOutcomes is at /);

  // Ann, in one browser: the portal, then pharmid's pages, then back to the portal.
  const portalUrl = `http://localhost:${portalPort}`;
  const atPortal = request.agent(portalUrl);
  const pharmid = new Browser(issuer);
  const ann: Person = { email: 'ann@example.nhs.uk', password: 'a long enough passphrase', activationCode };
  const signIn = async () => {
    const toPharmid = await atPortal.get('/login').redirects(0);
    expect(toPharmid.status).toBe(303);
    const { callback, steps: shown } = await driveSignIn(pharmid, toPharmid.headers.location!, ann, new TestClock());
    expect(callback.startsWith(`${portalUrl}/callback?`)).toBe(true);
    const back = await atPortal.get(callback.slice(portalUrl.length)).redirects(0);
    expect(back.status).toBe(303);
    return shown;
  };
  expect(await signIn()).toEqual(['password', 'activate', 'enrol', 'recovery-codes']);
  const home = await atPortal.get('/');
  expect(home.text).toContain('Ann Smith');
  expect(home.text).toContain('FA123');

  // pharmid stops and starts again: the same browser is still signed in to it (no form at all).
  await stop(server.child);
  server = startLine('npm start', env);
  running.push(server.child);
  await server.printed(/"msg":"pharmid is listening"/);
  await atPortal.post('/logout').redirects(0); // the portal's own session only: pharmid's session is what is tested
  expect(await signIn()).toEqual([]);
}, 120_000);
