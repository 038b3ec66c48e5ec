import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type Koa from 'koa';
import * as oidc from 'openid-client';
import type { Config } from '../config.js';
import type { Deps } from '../domain/deps.js';
import { OWN_PORTAL_ID } from '../domain/clients.js';
import { findUser } from '../domain/accounts.js';
import { isMultiFactorAcr, signInStillValid } from '../domain/sign-in.js';
import type { UserRow } from '../db/queries/users.js';
import type { Render } from './render.js';

/** Who is signed in to pharmid's own pages. */
export interface Person {
  user: UserRow;
  acr: string;
  amr: string[];
  authTime: number;
  /** The pharmid sign-in session (its uid) these pages are signed in through: what a proof on these pages is bound to. */
  sessionId: string;
}

interface StoredSession {
  userId: string; acr: string; amr: string[]; authTime: number; idToken: string;
  /** The pharmid sign-in session this page session came from: it ends with it. */
  sessionUid?: string;
}

/** How long a page session may last from now: the idle timeout, never past the absolute lifetime of the sign-in. */
function lifeLeft(authTime: number, absolute: number, idle: number, now = Date.now()): number {
  return Math.min(idle, authTime + absolute - Math.floor(now / 1000));
}
interface PendingSignIn { verifier: string; nonce: string; returnTo: string }

const COOKIE = 'pharmid.portal';
const LOGIN_COOKIE = 'pharmid.portal.login';

/** Only a path on pharmid itself: never an open redirect. */
export function safeReturnTo(value: unknown, fallback = '/account'): string {
  if (typeof value !== 'string' || !/^\/(?![/\\])[\w\-./?=&%~]*$/.test(value) || value.length > 500) return fallback;
  return value;
}

/**
 * pharmid's own pages (account, admin) are a first-party portal of pharmid:
 * people reach them by the same sign-in, with password and code, through a
 * real authorization code flow (openid-client). The token request goes to
 * this process directly, so it needs no route out to the public address.
 */
export function ownPortal(opts: {
  config: Config; deps: Deps; secret: () => string; render: Render;
  /** The uid of this browser's live pharmid sign-in session, if any. */
  liveSession(ctx: Koa.Context): Promise<string | undefined>;
  /** Using these pages is using pharmid: the sign-in session's idle timeout starts again. */
  touchSession(uid: string): Promise<void>;
  /** A new CSRF cookie for the browser, at sign-in. */
  renewCsrf(ctx: Koa.Context): void;
}) {
  const { config, deps } = opts;
  const issuer = config.issuer;
  const local = `http://127.0.0.1:${config.port}`;
  const ttl = config.ttl.session;
  let client: oidc.Configuration | undefined;

  function configuration(): oidc.Configuration {
    if (client) return client;
    client = new oidc.Configuration({
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      end_session_endpoint: `${issuer}/session/end`,
    }, OWN_PORTAL_ID, opts.secret());
    if (issuer.startsWith('http:')) oidc.allowInsecureRequests(client);
    client[oidc.customFetch] = (url, init) => {
      const headers = new Headers(init.headers as HeadersInit);
      if (issuer.startsWith('https:')) headers.set('x-forwarded-proto', 'https');
      return fetch(url.replace(issuer, local), { ...init, headers } as RequestInit);
    };
    return client;
  }

  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure: config.secureCookies, signed: true, overwrite: true };

  /** `fresh`: the password and code are asked again even when pharmid's sign-in session is live (max_age=0). */
  async function startSignIn(ctx: Koa.Context, returnTo: string, fresh = false) {
    const state = randomBytes(24).toString('base64url');
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const pending: PendingSignIn = { verifier, nonce, returnTo };
    await deps.store.set(`own-portal:login:${state}`, JSON.stringify(pending), 600);
    ctx.cookies.set(LOGIN_COOKIE, state, { ...cookieOptions, maxAge: 600_000 });
    const url = oidc.buildAuthorizationUrl(configuration(), {
      redirect_uri: `${issuer}/portal/callback`,
      scope: 'openid email profile sites',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      acr_values: 'mfa',
      ...(fresh ? { max_age: '0' } : {}),
    });
    ctx.redirect(url.href);
  }

  /** Loads ctx.state.person when someone is signed in and their sign-in still counts. */
  const load: Koa.Middleware = async (ctx, next) => {
    const id = ctx.cookies.get(COOKIE, { signed: true });
    const raw = id ? await deps.store.get(`own-portal:session:${id}`) : null;
    if (raw) {
      const s = JSON.parse(raw) as StoredSession;
      const user = await findUser(deps, s.userId);
      const left = lifeLeft(s.authTime, ttl, config.ttl.sessionIdle);
      // Signed out of pharmid (here, from another browser's account page, or by a portal): out of these pages too.
      const live = user && left > 0 ? await opts.liveSession(ctx) : undefined;
      if (user && left > 0 && live !== undefined && live === s.sessionUid && signInStillValid(user, s.authTime)) {
        ctx.state.person = { user, acr: s.acr, amr: s.amr, authTime: s.authTime, sessionId: live } satisfies Person;
        ctx.state.ownSessionId = id;
        // Each use restarts the idle clock, here and on the pharmid session it came from.
        await Promise.all([deps.store.set(`own-portal:session:${id}`, raw, left), opts.touchSession(live)]);
      }
    }
    await next();
  };

  /**
   * Sends a person who is not signed in (with MFA) to pharmid's sign-in, and
   * back here afterwards; also one whose area asks for a fresh sign-in
   * (ctx.state.signInAgain: the admin console after a while unused).
   */
  const requireSignIn: Koa.Middleware = async (ctx, next) => {
    const person = ctx.state.person as Person | undefined;
    const again = ctx.state.signInAgain === true;
    if (!person || !isMultiFactorAcr(person.acr) || again) {
      if (ctx.method !== 'GET') ctx.throw(401, 'sign in first');
      await startSignIn(ctx, safeReturnTo(ctx.originalUrl), again);
      return;
    }
    await next();
  };

  const routes = (pageForm: Koa.Middleware[]) => {
  const router = new Router({ prefix: '/portal' });
  router.get('/callback', async (ctx) => {
    const state = ctx.cookies.get(LOGIN_COOKIE, { signed: true });
    const raw = state && ctx.query.state === state ? await deps.store.get(`own-portal:login:${state}`) : null;
    if (!raw) {
      ctx.redirect('/account');
      return;
    }
    await deps.store.del(`own-portal:login:${state}`);
    ctx.cookies.set(LOGIN_COOKIE, null);
    const pending = JSON.parse(raw) as PendingSignIn;
    const current = new URL(ctx.originalUrl, issuer);
    const tokens = await oidc.authorizationCodeGrant(configuration(), current, {
      pkceCodeVerifier: pending.verifier, expectedNonce: pending.nonce, expectedState: state, idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    const session: StoredSession = {
      userId: claims.sub,
      acr: String(claims.acr ?? ''),
      amr: (claims.amr as string[] | undefined) ?? [],
      authTime: Number(claims.auth_time),
      idToken: tokens.id_token!,
      sessionUid: await opts.liveSession(ctx),
    };
    const id = randomBytes(24).toString('base64url');
    await deps.store.set(`own-portal:session:${id}`, JSON.stringify(session), lifeLeft(session.authTime, ttl, config.ttl.sessionIdle));
    ctx.cookies.set(COOKIE, id, { ...cookieOptions, maxAge: ttl * 1000 });
    // A new page session, a new CSRF cookie: nothing set before the sign-in carries over.
    opts.renewCsrf(ctx);
    ctx.redirect(pending.returnTo);
  });

  /** Ends the page session here, then pharmid's sign-in session (and so every portal's). */
  router.post('/sign-out', ...pageForm, async (ctx) => {
    const id = ctx.state.ownSessionId as string | undefined;
    const raw = id ? await deps.store.get(`own-portal:session:${id}`) : null;
    if (id) await deps.store.del(`own-portal:session:${id}`);
    ctx.cookies.set(COOKIE, null);
    const hint = raw ? (JSON.parse(raw) as StoredSession).idToken : undefined;
    const url = oidc.buildEndSessionUrl(configuration(), {
      ...(hint ? { id_token_hint: hint } : {}),
      post_logout_redirect_uri: `${issuer}/portal/signed-out`,
    });
    ctx.redirect(url.href);
  });

  router.get('/signed-out', async (ctx) => {
    await opts.render(ctx, { template: 'signed-out', model: { title: 'You have signed out' } });
  });
  return router;
  };

  return { load, requireSignIn, routes };
}

export type OwnPortal = ReturnType<typeof ownPortal>;
