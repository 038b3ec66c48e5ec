/**
 * The README and the contract (docs/CONTRACT.md) point only at what a clone
 * has, and the contract's CLI commands are the ones the CLI knows.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['README.md', 'docs/CONTRACT.md'];

test.each(DOCS)('%s links only to files in the repository', (doc) => {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|mailto:|#)/.test(l));
  for (const link of links) expect([link, existsSync(join(ROOT, dirname(doc), link.split('#')[0]!))]).toEqual([link, true]);
  // A path outside the clone, written as code rather than as a link.
  expect(text).not.toMatch(/`\.\.\//);
});

test('README.md points to the contract', () => {
  expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('[docs/CONTRACT.md](docs/CONTRACT.md)');
});

test('every CLI command in the contract is one the CLI knows', async () => {
  const contract = readFileSync(join(ROOT, 'docs/CONTRACT.md'), 'utf8');
  const table = contract.split('| command | does |')[1]!.split('\n\n')[0]!;
  const named = [...table.matchAll(/`([a-z]+(?: [a-z-]+)?)[ `]/g)].map((m) => m[1]!)
    .filter((n) => !n.includes(' ') ? n === 'migrate' : true);
  expect(named.length).toBeGreaterThan(20);
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/pharmid.js', 'help'], { cwd: ROOT });
  const known = stdout.split('\n').map((l) => l.trim().split(' ').slice(0, 2).filter((w) => !w.startsWith('-')).join(' '));
  for (const name of named) expect([name, known.includes(name)]).toEqual([name, true]);
});
