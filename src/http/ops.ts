import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Router from '@koa/router';
import type Koa from 'koa';
import type { Config } from '../config.js';
import type { Db } from '../db/pool.js';
import type { KeyValueStore } from '../store/key-value-store.js';
import type { Metrics } from './metrics.js';

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref()),
  ]);
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** `Authorization: Bearer TOKEN` with the configured token, compared in constant time. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? '')?.[1];
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

/**
 * Liveness, readiness (Postgres and Redis both answer within a second) and,
 * where config.metrics allows it on the public port, Prometheus metrics.
 */
export function opsRoutes(db: Db, store: KeyValueStore, metrics: Metrics, access: Config['metrics']): Router {
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
  const serve: Koa.Middleware = async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  };
  if (access.port) return router; // served on its own port only
  if (access.token) {
    const token = access.token;
    router.get('/metrics', async (ctx, next) => {
      if (bearerMatches(ctx.get('authorization'), token)) return serve(ctx, next);
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
      ctx.body = { error: 'unauthorized', error_description: 'metrics need the bearer token set in METRICS_TOKEN' };
    });
  } else if (access.open) {
    router.get('/metrics', serve);
  }
  return router;
}

/** /metrics alone, on METRICS_PORT: for a scraper on the private network, never the public one. */
export async function startMetricsServer(port: number, metrics: Metrics, host?: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
