import { createHmac, randomBytes } from 'node:crypto';
import type Koa from 'koa';
import { Forbidden } from '../domain/errors.js';
import { constantTimeEqual } from '../domain/secrets.js';
import { parseForm } from './input.js';

const COOKIE = 'pharmid.csrf';
const FIELD = '_csrf';

function tokenFor(key: string, value: string): string {
  return createHmac('sha256', key).update(`csrf:${value}`).digest('base64url');
}

export interface Csrf {
  /** Makes sure the browser has the cookie and puts the form token in ctx.state.csrfToken. */
  issue: Koa.Middleware;
  /** Throws Forbidden unless the parsed form carries the token for this browser's cookie. */
  verify(ctx: Koa.Context): void;
}

/**
 * Double-submit protection for pharmid's own forms: a random cookie, and in
 * each form an HMAC of it under the cookie keys (so a token cannot be made
 * without the server's secret). Protocol endpoints (oidc-provider) and
 * bearer-token APIs do not use it.
 */
export function csrfProtection(cookieKeys: string[], secure: boolean): Csrf {
  return {
    async issue(ctx, next) {
      let value = ctx.cookies.get(COOKIE);
      if (!value || !/^[A-Za-z0-9_-]{32,64}$/.test(value)) {
        value = randomBytes(24).toString('base64url');
        ctx.cookies.set(COOKIE, value, { httpOnly: true, sameSite: 'lax', secure, overwrite: true, signed: false });
      }
      ctx.state.csrfCookie = value;
      ctx.state.csrfToken = tokenFor(cookieKeys[0]!, value);
      await next();
    },
    verify(ctx) {
      const value = ctx.state.csrfCookie as string;
      const sent = (ctx.request.body as Record<string, unknown> | undefined)?.[FIELD];
      const valid = typeof sent === 'string' && cookieKeys.some((k) => constantTimeEqual(sent, tokenFor(k, value)));
      if (!valid) throw new Forbidden('This form has expired or did not come from pharmid. Go back, reload the page and try again.');
    },
  };
}

/** Parses a posted form (64 kB at most, bad bytes refused) and checks its CSRF token: for pharmid's own page forms. */
export function formBody(csrf: Csrf): Koa.Middleware[] {
  return [
    ...parseForm(),
    async (ctx, next) => {
      csrf.verify(ctx);
      await next();
    },
  ];
}
