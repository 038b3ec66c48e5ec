/**
 * What `npm start` does before pharmid listens: it compiles only when a
 * source is newer than the last build (`npm ci` builds once, through
 * `prepare`), so a second start does not pay for the compiler again.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, copyFileSync } from 'node:fs';
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
