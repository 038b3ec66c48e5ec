import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { startPharmid, type Running } from '../../src/server.js';
import { createTestBackends, type TestBackends } from './backends.js';
import { freePort } from '../../src/db/embedded.js';

export { freePort };

/** A clock the test can move; TOTP and everything else that asks `deps.now` follow it. */
export class TestClock {
  offsetMs = 0;
  now = () => new Date(Date.now() + this.offsetMs);
  advance(seconds: number) { this.offsetMs += seconds * 1000; }
}

function withoutBlanks(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
}

export interface TestPharmid extends Running {
  config: Config;
  clock: TestClock;
  backends_: TestBackends;
  stop(): Promise<void>;
}

/**
 * The two places pharmid keeps counters, locks and sessions: Redis, and (with
 * no REDIS_URL, as in the embedded default) its Postgres. Lockout tests run in
 * both: pass the mode's env to startTestPharmid.
 */
export const STORE_MODES: [string, Record<string, string>][] = [
  ['with Redis', {}],
  ['without Redis (the Postgres store of the embedded default)', { REDIS_URL: '' }],
];

/**
 * A whole pharmid process on its own database and Redis prefix, listening on a
 * free port. `env` adds or overrides environment settings; a setting given
 * as '' is left unset.
 */
export async function startTestPharmid(
  env: Record<string, string> = {},
  shared?: { backends: TestBackends; secretKey: string; cookieKey: string },
  opts: { log?: Logger } = {},
): Promise<TestPharmid> {
  const backends = shared?.backends ?? (await createTestBackends());
  const port = await freePort();
  // Notices to people land in the data directory's outbox: a folder of the test's own, never the checkout's .data.
  const ownDataDir = env.PHARMID_DATA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'pharmid-test-data-'));
  const config = loadConfig(withoutBlanks({
    NODE_ENV: 'test',
    PORT: String(port),
    ISSUER: `http://localhost:${port}`,
    DATABASE_URL: backends.databaseUrl,
    REDIS_URL: backends.redisUrl,
    REDIS_KEY_PREFIX: backends.redisKeyPrefix,
    PHARMID_SECRET_KEY: shared?.secretKey ?? randomBytes(32).toString('base64'),
    COOKIE_KEYS: shared?.cookieKey ?? randomBytes(24).toString('base64url'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...(ownDataDir ? { PHARMID_DATA_DIR: ownDataDir } : {}),
    ...env,
  }));
  const clock = new TestClock();
  const running = await startPharmid(config, opts.log ?? createLogger(config.logLevel), { now: clock.now });
  return {
    ...running,
    config,
    clock,
    backends_: backends,
    async stop() {
      await running.close();
      if (!shared) await backends.drop();
      if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
    },
  };
}
