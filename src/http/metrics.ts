import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type Koa from 'koa';

/** One registry per app (tests build several apps in one process). */
export function createMetrics(argon2QueueDepth: () => number) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const signInSteps = new Counter({
    name: 'pharmid_sign_in_steps_total',
    help: 'Sign-in steps shown, passed and failed, by step',
    labelNames: ['step', 'outcome'] as const,
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'pharmid_http_request_duration_seconds',
    help: 'HTTP request latency by route and status class',
    labelNames: ['route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'pharmid_argon2_queue_depth',
    help: 'Password hashes waiting for a free slot',
    registers: [registry],
    collect() { this.set(argon2QueueDepth()); },
  });

  const timing: Koa.Middleware = async (ctx, next) => {
    const end = requestSeconds.startTimer();
    try {
      await next();
    } finally {
      const oidcRoute = (ctx as unknown as { oidc?: { route?: string } }).oidc?.route;
      const route = oidcRoute ?? (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'other';
      end({ route: String(route), status: `${String(ctx.status).charAt(0)}xx` });
    }
  };

  return {
    registry,
    timing,
    countStep: (step: string, outcome: string) => signInSteps.inc({ step, outcome }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
