import { join } from 'node:path';
import type { Config } from './config.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import type { Logger } from './log.js';
import { createPool, type Pool } from './db/pool.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { RedisStore } from './store/redis-store.js';
import { PostgresStore } from './store/postgres-store.js';
import type { KeyValueStore } from './store/key-value-store.js';
import { createSealer } from './domain/secrets.js';
import { PasswordHasher } from './domain/passwords.js';
import type { Deps } from './domain/deps.js';
import { createCounters } from './store/counters.js';

export interface Backends {
  pool: Pool;
  store: KeyValueStore;
  embedded?: EmbeddedDatabase;
  /** Where Postgres runs, and what keeps sessions, tokens and counters: Redis, or that Postgres. */
  mode: { postgres: 'external' | 'embedded'; store: 'redis' | 'postgres' };
  close(): Promise<void>;
}

/** Postgres from DATABASE_URL, or the embedded engine (started, or found running beside us). */
export async function openDatabase(config: Config, log?: Logger): Promise<{ pool: Pool; embedded?: EmbeddedDatabase }> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedDatabase(config.dataDir, (line) => log?.debug({ postgres: line }));
  return { pool: createPool(config.databaseUrl ?? embedded!.url), embedded };
}

/**
 * The store for what expires (sessions, tokens, counters): Redis from
 * REDIS_URL, else the same Postgres the rest lives in. The server and the CLI
 * open it alike, so a lock the server set is the one the CLI lifts.
 */
export async function openStore(config: Config, pool: Pool): Promise<KeyValueStore> {
  return config.redisUrl ? new RedisStore(config.redisUrl, config.redisKeyPrefix).connect() : new PostgresStore(pool);
}

/** Postgres (from DATABASE_URL, or embedded) and the store (Redis from REDIS_URL, or that Postgres). */
export async function openBackends(config: Config, log?: Logger): Promise<Backends> {
  const { pool, embedded } = await openDatabase(config, log);
  const store = await openStore(config, pool);
  return {
    pool,
    store,
    embedded,
    mode: { postgres: embedded ? 'embedded' : 'external', store: store.kind },
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
