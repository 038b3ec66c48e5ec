import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startPharmid } from '../src/server.js';
import { createBenchBackends } from './backends.js';
import { freePort } from './server-process.js';
import { seed, UserPool } from './seed.js';
import { HttpClient, type HttpResponse } from './http.js';
import { basicAuth, refresh, signIn, type SignInTarget } from './sign-in.js';

/**
 * Counts the Postgres queries and Redis commands behind each request of a
 * sign-in and of a refresh grant, by statement. A diagnostic, not a
 * benchmark: pharmid runs in this process so its pg and ioredis clients can
 * be counted.
 *
 *   node dist/bench/round-trips.js [--count 20]
 */
const count = Number(process.argv[process.argv.indexOf('--count') + 1] || 20);
type Tally = Record<string, Record<string, number>>;
let current = 'set-up';
const tally = (t: Tally, what: string) => {
  const step = (t[current] ??= {});
  step[what] = (step[what] ?? 0) + 1;
};
const pgTally: Tally = {};
const redisTally: Tally = {};

const clientProto = pg.Client.prototype as unknown as { query(q: unknown, ...rest: unknown[]): unknown };
const query = clientProto.query;
clientProto.query = function (q: unknown, ...rest: unknown[]) {
  const text = typeof q === 'string' ? q : (q as { text?: string }).text ?? '?';
  tally(pgTally, text.replace(/\s+/g, ' ').slice(0, 80));
  return query.call(this, q, ...rest);
};
const redisProto = Redis.prototype as unknown as { sendCommand(cmd: { name: string; args: unknown[] }, ...rest: unknown[]): unknown };
const sendCommand = redisProto.sendCommand;
redisProto.sendCommand = function (cmd, ...rest) {
  const key = String(cmd.args[0] ?? '').replace(/^pharmid-bench:[^:]+:/, '').replace(/:[A-Za-z0-9_@.-]{12,}.*$/, ':…');
  tally(redisTally, cmd.name === 'evalsha' || cmd.name === 'multi' || cmd.name === 'exec' ? cmd.name : `${cmd.name} ${key}`);
  return sendCommand.call(this, cmd, ...rest);
};

function print(title: string, t: Tally, n: number): void {
  let total = 0;
  const lines: string[] = [];
  for (const [step, counts] of Object.entries(t)) {
    const sum = Object.values(counts).reduce((a, b) => a + b, 0) / n;
    total += sum;
    lines.push(`  ${step}: ${sum.toFixed(1)}`);
    for (const [what, c] of Object.entries(counts).sort((a, b) => b[1] - a[1])) lines.push(`      ${(c / n).toFixed(1)}  ${what}`);
  }
  process.stdout.write(`${title}: ${total.toFixed(1)}\n${lines.join('\n')}\n`);
}

const backends = await createBenchBackends();
const port = await freePort();
const config = loadConfig({
  ...process.env, NODE_ENV: 'development', PORT: String(port), ISSUER: `http://127.0.0.1:${port}`,
  DATABASE_URL: backends.databaseUrl, REDIS_URL: backends.redisUrl, REDIS_KEY_PREFIX: backends.redisKeyPrefix,
  PHARMID_SECRET_KEY: randomBytes(32).toString('base64'), COOKIE_KEYS: randomBytes(32).toString('base64url'), LOG_LEVEL: 'silent',
});
const running = await startPharmid(config, createLogger('silent'), { host: '127.0.0.1' });
let code = 0;
try {
  const seeded = await seed(config, count + 5, 4);
  const pool = new UserPool(seeded.users);
  const http = new HttpClient('127.0.0.1', port, 2);
  const send = http.request.bind(http);
  http.request = (method, path, headers, body): Promise<HttpResponse> => {
    const parts = path.split('?')[0]!.split('/');
    current = path.startsWith('/token') ? 'POST /token'
      : path.startsWith('/auth?') ? 'GET /auth'
        : path.startsWith('/auth/') ? 'GET /auth/:uid (resume)'
          : `${method} /interaction/:uid${parts.length > 3 ? `/${parts.at(-1)}` : ''}`;
    return send(method, path, headers, body);
  };
  const target: SignInTarget = { http, client: seeded.client, basicAuth: basicAuth(seeded.client), issuerOrigin: new URL(config.issuer).origin };
  let token = '';
  for (const t of [pgTally, redisTally]) for (const k of Object.keys(t)) delete t[k];
  for (let i = 0; i < count; i += 1) {
    const user = await pool.take();
    token = await signIn(target, user, {});
    pool.give(user);
  }
  delete pgTally['set-up'];
  delete redisTally['set-up'];
  print('Postgres queries per sign-in', pgTally, count);
  print('Redis commands per sign-in (multi/exec included)', redisTally, count);
  for (const t of [pgTally, redisTally]) for (const k of Object.keys(t)) delete t[k];
  for (let i = 0; i < count; i += 1) token = await refresh(target, token);
  print('Postgres queries per refresh grant', pgTally, count);
  print('Redis commands per refresh grant (multi/exec included)', redisTally, count);
  http.close();
} catch (err) {
  process.stderr.write(`round-trips: ${(err as Error).stack ?? String(err)}\n`);
  code = 1;
} finally {
  await running.close();
  await backends.drop();
}
process.exit(code);
