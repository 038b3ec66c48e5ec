import { join } from 'node:path';
import type { Config } from './config.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import type { Logger } from './log.js';
import { createPool, type Pool } from './db/pool.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { RedisStore } from './store/redis-store.js';
import { MemoryStore } from './store/memory-store.js';
import type { KeyValueStore } from './store/key-value-store.js';
import { createSealer } from './domain/secrets.js';
import { PasswordHasher } from './domain/passwords.js';
import type { Deps } from './domain/deps.js';
import { createCounters } from './store/counters.js';

export interface Backends {
  pool: Pool;
  store: KeyValueStore;
  embedded?: EmbeddedDatabase;
  mode: { postgres: 'external' | 'embedded'; redis: 'external' | 'in-process' };
  close(): Promise<void>;
}

/** Postgres from DATABASE_URL, or the embedded engine (started, or found running beside us). */
export async function openDatabase(config: Config, log?: Logger): Promise<{ pool: Pool; embedded?: EmbeddedDatabase }> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedDatabase(config.dataDir, (line) => log?.debug({ postgres: line }));
  return { pool: createPool(config.databaseUrl ?? embedded!.url), embedded };
}

/** Postgres (from DATABASE_URL, or embedded) and Redis (from REDIS_URL, or in-process). */
export async function openBackends(config: Config, log?: Logger): Promise<Backends> {
  const { pool, embedded } = await openDatabase(config, log);
  const store: KeyValueStore = config.redisUrl
    ? await new RedisStore(config.redisUrl, config.redisKeyPrefix).connect()
    : new MemoryStore();
  return {
    pool,
    store,
    embedded,
    mode: { postgres: embedded ? 'embedded' : 'external', redis: config.redisUrl ? 'external' : 'in-process' },
    async close() {
      await store.close();
      await pool.end();
      await embedded?.stop();
    },
  };
}

export function buildDeps(
  config: Config, pool: Pool, store: KeyValueStore, now: () => Date = () => new Date(), mailer: Mailer = buildMailer(config),
): Deps {
  return {
    db: pool,
    store,
    counters: createCounters(store),
    sealer: createSealer(config.secretKey, config.previousSecretKeys),
    passwords: new PasswordHasher(config.argon2),
    mailer,
    settings: {
      env: config.env, issuer: config.issuer, totp: config.totp, recoveryCodes: config.recoveryCodes, activationCodeTtl: config.activationCodeTtl, throttle: config.throttle,
    },
    now,
  };
}

/** Where notices go: SMTP, or the outbox folder in the data directory. */
export function buildMailer(config: Config): Mailer {
  return createMailer({ smtpUrl: config.smtpUrl, from: config.notices.from, outboxDir: join(config.dataDir, 'outbox') });
}
