import type Koa from 'koa';
import { Busy, PharmidError, Unavailable } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { Render } from './render.js';

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001']);

/** Postgres or Redis is away: a 503 that says so, not a 500. */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.code && UNAVAILABLE_CODES.has(e.code)) return true;
  if (e?.name === 'MaxRetriesPerRequestError') return true;
  return /Connection is closed|enableOfflineQueue|connection is not ready|Connection terminated|timeout exceeded when trying to connect|Command timed out|connect ETIMEDOUT/i
    .test(e?.message ?? '');
}

export const UNAVAILABLE_PAGE = {
  title: 'Temporarily unavailable',
  heading: 'pharmid is temporarily unavailable',
  message: 'pharmid is temporarily unavailable. Please try again in a minute.',
  status: 503,
};

function wantsJson(ctx: Koa.Context): boolean {
  return ctx.path.startsWith('/api/') || ctx.accepts('html', 'json') === 'json';
}

/** The one place errors become responses: a page for people, JSON for programs; never a stack trace. */
export function errorResponses(render: Render, log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      let err = caught as Error & { status?: number; statusCode?: number; expose?: boolean; error?: string };
      if (isUnavailable(err)) err = new Unavailable();
      let status: number;
      let code: string;
      let message: string;
      let field: string | undefined;
      if (err instanceof PharmidError) {
        ({ status, code, message, field } = err);
      } else if (err.name === 'SessionNotFound' || err.name === 'InvalidRequest' && /interaction/i.test(err.message)) {
        status = 400;
        code = 'sign_in_expired';
        message = 'This sign-in has expired, or was started in another browser. Go back to the portal and sign in again.';
      } else if ((err.status ?? err.statusCode ?? 500) < 500 && err.expose !== false) {
        status = err.status ?? err.statusCode ?? 400;
        code = err.error ?? 'bad_request';
        message = status === 413 ? 'What was sent is too large.' : status === 404 ? 'Page not found.' : 'The request could not be understood.';
      } else {
        status = 500;
        code = 'server_error';
        message = 'Something went wrong on our side. Please try again.';
        log.error({ err: { name: err.name, message: err.message, stack: err.stack }, path: ctx.path }, 'request failed');
      }
      if (status === 503) ctx.set('Retry-After', String(err instanceof Busy ? err.retryAfterSeconds : 5));
      if (wantsJson(ctx)) {
        ctx.status = status;
        ctx.body = { error: code, error_description: message, ...(field ? { field } : {}) };
        return;
      }
      await render(ctx, {
        template: 'error',
        model: { title: status === 503 ? 'Temporarily unavailable' : 'Sorry, there is a problem', heading: status === 503 ? (err instanceof Busy ? 'pharmid is busy' : 'pharmid is temporarily unavailable') : 'Sorry, there is a problem', message, status },
      }, status);
    }
  };
}
