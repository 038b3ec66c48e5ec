import Router from '@koa/router';
import type { Db } from '../db/pool.js';
import type { KeyValueStore } from '../store/key-value-store.js';
import type { Metrics } from './metrics.js';

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref()),
  ]);
}

/** Liveness, readiness (Postgres and Redis both answer within a second) and Prometheus metrics. */
export function opsRoutes(db: Db, store: KeyValueStore, metrics: Metrics): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const [postgres, redis] = await Promise.all([
      within(1_000, db.query('SELECT 1')).then(() => 'ok', () => 'unavailable'),
      within(1_000, store.ping()).then(() => 'ok', () => 'unavailable'),
    ]);
    ctx.status = postgres === 'ok' && redis === 'ok' ? 200 : 503;
    ctx.body = { status: ctx.status === 200 ? 'ready' : 'unavailable', postgres, [store.kind === 'redis' ? 'redis' : 'store']: redis };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
  return router;
}
