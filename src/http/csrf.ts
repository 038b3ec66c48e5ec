import { createHmac, randomBytes } from 'node:crypto';
import type Koa from 'koa';
import { Forbidden } from '../domain/errors.js';
import { constantTimeEqual } from '../domain/secrets.js';
import { parseForm } from './input.js';

const COOKIE = 'pharmid.csrf';
const FIELD = '_csrf';

/**
 * A form token is an HMAC, under the cookie keys, of the browser's CSRF
 * cookie and of the page session it is signed in with (ctx.state.ownSessionId,
 * set by pharmid's own portal; none before sign-in): a token made for one
 * session is worth nothing in another, even with the same cookie.
 */
function tokenFor(key: string, value: string, session: string): string {
  return createHmac('sha256', key).update(`csrf:${session}:${value}`).digest('base64url');
}

const sessionOf = (ctx: Koa.Context) => (ctx.state.ownSessionId as string | undefined) ?? '';

export interface Csrf {
  /** Makes sure the browser has the cookie and offers the form token as ctx.state.csrfToken. */
  issue: Koa.Middleware;
  /** Throws Forbidden unless the parsed form carries the token for this browser's cookie and session. */
  verify(ctx: Koa.Context): void;
  /** A new cookie value, at sign-in: a value set before it (perhaps by someone else) does not outlive it. */
  renew(ctx: Koa.Context): void;
}

/**
 * Protection for pharmid's own forms: a random cookie, and in each form an
 * HMAC of it and of the page session (so a token cannot be made without the
 * server's secret, nor carried from one session to another). The cookie is
 * replaced at every sign-in, against fixation. Protocol endpoints
 * (oidc-provider) and bearer-token APIs do not use it.
 */
export function csrfProtection(cookieKeys: string[], secure: boolean): Csrf {
  const setCookie = (ctx: Koa.Context) => {
    const value = randomBytes(24).toString('base64url');
    ctx.cookies.set(COOKIE, value, { httpOnly: true, sameSite: 'lax', secure, overwrite: true, signed: false });
    ctx.state.csrfCookie = value;
  };
  return {
    async issue(ctx, next) {
      const value = ctx.cookies.get(COOKIE);
      if (!value || !/^[A-Za-z0-9_-]{32,64}$/.test(value)) setCookie(ctx);
      else ctx.state.csrfCookie = value;
      // Drawn when a page is rendered, by then the page session (if any) is known.
      Object.defineProperty(ctx.state, 'csrfToken', {
        configurable: true,
        enumerable: true,
        get: () => tokenFor(cookieKeys[0]!, ctx.state.csrfCookie as string, sessionOf(ctx)),
      });
      await next();
    },
    verify(ctx) {
      const value = ctx.state.csrfCookie as string;
      const session = sessionOf(ctx);
      const sent = (ctx.request.body as Record<string, unknown> | undefined)?.[FIELD];
      const valid = typeof sent === 'string' && cookieKeys.some((k) => constantTimeEqual(sent, tokenFor(k, value, session)));
      if (!valid) throw new Forbidden('This form has expired or did not come from pharmid. Go back, reload the page and try again.');
    },
    renew(ctx) {
      setCookie(ctx);
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
