import { createServer, type Server } from 'node:http';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { createPool, type Pool } from './db/pool.js';
import { migrate } from './db/migrate.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { RedisStore } from './store/redis-store.js';
import { MemoryStore } from './store/memory-store.js';
import type { KeyValueStore } from './store/key-value-store.js';
import { createSealer } from './domain/secrets.js';
import { PasswordHasher } from './domain/passwords.js';
import { loadSigningKeys } from './domain/signing-keys.js';
import type { Deps } from './domain/deps.js';
import { buildApp } from './app.js';

export interface Backends {
  pool: Pool;
  store: KeyValueStore;
  embedded?: EmbeddedDatabase;
  mode: { postgres: 'external' | 'embedded'; redis: 'external' | 'in-process' };
  close(): Promise<void>;
}

/** Postgres (from DATABASE_URL, or embedded) and Redis (from REDIS_URL, or in-process). */
export async function openBackends(config: Config, log?: Logger): Promise<Backends> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedDatabase(config.dataDir, (line) => log?.debug({ postgres: line }));
  const pool = createPool(config.databaseUrl ?? embedded!.url);
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

export function buildDeps(config: Config, pool: Pool, store: KeyValueStore, now: () => Date = () => new Date()): Deps {
  return {
    db: pool,
    store,
    sealer: createSealer(config.secretKey),
    passwords: new PasswordHasher(config.argon2),
    settings: { env: config.env, totp: config.totp, recoveryCodes: config.recoveryCodes, activationCodeTtl: config.activationCodeTtl },
    now,
  };
}

export interface Running {
  server: Server;
  url: string;
  deps: Deps;
  backends: Backends;
  /** Stops taking connections, lets in-flight requests finish, then closes the pools. */
  close(): Promise<void>;
}

/** Starts one pharmid process: backends, migrations, signing keys, HTTP. */
export async function startPharmid(config: Config, log: Logger, opts: { now?: () => Date; host?: string } = {}): Promise<Running> {
  const backends = await openBackends(config, log);
  await migrate(backends.pool);
  const deps = buildDeps(config, backends.pool, backends.store, opts.now);
  const keys = await loadSigningKeys(deps);
  const { app } = buildApp({ config, deps, keys, log });
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, opts.host, () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    server,
    url: `http://localhost:${address.port}`,
    deps,
    backends,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await backends.close();
    },
  };
}
