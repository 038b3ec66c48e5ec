import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { cli, setCliEnvironment } from '../helpers/cli.js';

/**
 * Attack: bad bytes through the CLI and the import (which the HTTP input
 * gate never sees). Each bad input must end with a one-line reason and a
 * non-zero exit, never a stack trace or a database error, and write nothing.
 */
let restoreEnv: () => void;
let backends: TestBackends;
const dir = mkdtempSync(join(tmpdir(), 'pharmid-attack-cli-'));

beforeAll(async () => {
  backends = await createTestBackends();
  restoreEnv = setCliEnvironment({
    NODE_ENV: 'test', DATABASE_URL: backends.databaseUrl, PHARMID_SECRET_KEY: randomBytes(32).toString('base64'),
    COOKIE_KEYS: randomBytes(24).toString('base64url'), LOG_LEVEL: 'silent',
  });
  const r = await cli('site', 'add', '--ods', 'CLB01', '--name', 'Bad Bytes Pharmacy');
  if (r.code !== 0) throw new Error(r.stderr);
});
afterAll(async () => { restoreEnv?.(); await backends?.drop(); });

const looksBad = (s: string) => /\n\s+at |invalid byte sequence|TypeError|ReferenceError|syntax error at|violates/i.test(s);

test('NUL and control characters in CLI flags and import files get a one-line reason, not a crash', async () => {
  const results: string[] = [];
  const run = async (label: string, ...argv: string[]) => {
    const r = await cli(...argv, '--json');
    if (r.code === 0 || looksBad(r.stderr) || looksBad(r.stdout)) results.push(`${label}: exit ${r.code} ${(r.stderr || r.stdout).slice(0, 200)}`);
  };
  await run('user add name NUL', 'user', 'add', '--email', 'nul.name@example.nhs.uk', '--name', 'Nul\u0000Name', '--site', 'CLB01');
  await run('user add name ESC', 'user', 'add', '--email', 'esc.name@example.nhs.uk', '--name', 'Esc\u001b[31mName', '--site', 'CLB01');
  await run('user add email NUL', 'user', 'add', '--email', 'nul\u0000@example.nhs.uk', '--name', 'N', '--site', 'CLB01');
  await run('site add name NUL', 'site', 'add', '--ods', 'CLB02', '--name', 'Bad\u0000Site');
  await run('site add ods NUL', 'site', 'add', '--ods', 'CL\u0000B3', '--name', 'Bad');
  await run('client add name NUL', 'client', 'add', '--name', 'Bad\u0000Portal', '--redirect-uri', 'https://portal.example/cb');
  await run('client add uri NUL', 'client', 'add', '--name', 'Portal', '--redirect-uri', 'https://portal.example/c\u0000b');
  await run('reset-mfa email NUL', 'user', 'reset-mfa', '--email', 'x\u0000@example.nhs.uk');
  await run('client remove id NUL', 'client', 'remove', '--client-id', 'ab\u0000c');
  for (const [label, csv] of [
    ['import name NUL', 'email,name,site\nimp.nul@example.nhs.uk,Imp\u0000Nul,CLB01\n'],
    ['import name with a line break', 'email,name,site\nimp.lf@example.nhs.uk,"Imp\r\nLf",CLB01\n'],
    ['import site NUL', 'email,name,site\nimp.site@example.nhs.uk,Imp Site,CLB\u000001\n'],
    ['import invalid UTF-8', Buffer.from([0x65, 0x6d, 0x61, 0x69, 0x6c, 0x2c, 0x6e, 0x61, 0x6d, 0x65, 0x2c, 0x73, 0x69, 0x74, 0x65, 0x0a, 0x61, 0x40, 0x62, 0x2e, 0x63, 0x6f, 0x2c, 0xc3, 0x28, 0x2c, 0x43, 0x4c, 0x42, 0x30, 0x31, 0x0a]).toString('latin1')],
  ] as const) {
    const file = join(dir, `${label.replace(/\W+/g, '-')}.csv`);
    writeFileSync(file, csv, label.includes('UTF-8') ? 'latin1' : 'utf8');
    await run(label, 'user', 'import', file);
  }
  expect(results).toEqual([]);
});
