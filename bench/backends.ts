import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';

export interface BenchBackends {
  databaseUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  /** Drops the database and deletes every key under the prefix; safe to call twice. */
  drop(): Promise<void>;
}

/**
 * A Postgres database and a Redis key prefix of the bench's own, on the
 * servers DATABASE_URL / REDIS_URL name (local ones by default), as the test
 * helpers do.
 */
export async function createBenchBackends(env: NodeJS.ProcessEnv = process.env): Promise<BenchBackends> {
  const adminUrl = env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const name = `pharmid_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const redisKeyPrefix = `pharmid-bench:${name}:`;
  let dropped = false;
  return {
    databaseUrl: url.toString(),
    redisUrl,
    redisKeyPrefix,
    async drop() {
      if (dropped) return;
      dropped = true;
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
      try {
        let cursor = '0';
        for (let i = 0; i < 100_000; i += 1) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisKeyPrefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await redis.del(...keys);
          if (cursor === '0') break;
        }
      } finally {
        await redis.quit().catch(() => redis.disconnect());
      }
    },
  };
}
