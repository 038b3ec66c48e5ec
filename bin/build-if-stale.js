#!/usr/bin/env node
// Compiles the TypeScript only when a source is newer than the last build, so
// that `npm start` after `npm ci` (which builds, through `prepare`) or after an
// earlier start does not spend twenty seconds compiling what is already built.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** What tsconfig.build.json compiles, and the settings that change its output. */
const SOURCES = ['src', 'config', 'bench', 'examples', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
/** Written by tsc at every build, after every source it read. */
const BUILT = join(root, 'dist', 'src', 'main.js');

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return /\.(ts|json)$/.test(path) ? stat.mtimeMs : 0;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function stale() {
  if (!existsSync(BUILT)) return true;
  const built = statSync(BUILT).mtimeMs;
  return SOURCES.some((name) => newest(join(root, name)) > built);
}

if (stale()) {
  process.stderr.write('pharmid: compiling the TypeScript (sources are newer than dist/)\n');
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  } catch (err) {
    // tsc has printed what is wrong; a stack trace from here would only hide it.
    process.exit(typeof err.status === 'number' ? err.status : 1);
  }
}
