import Koa from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { Config } from './config.js';
import type { Deps } from './domain/deps.js';
import type { Logger } from './log.js';
import { createRenderer } from './http/render.js';
import { errorResponses, isUnavailable } from './http/errors.js';
import { Unavailable } from './domain/errors.js';
import { seenAddress } from './domain/addresses.js';
import { securityHeaders } from './http/security-headers.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { opsRoutes } from './http/ops.js';
import { serveAssets } from './http/assets.js';
import { csrfProtection, formBody } from './http/csrf.js';
import { checkQuery } from './http/input.js';
import { ownPortal } from './http/own-portal.js';
import { providerPages, type PageRoutes } from './http/pages.js';
import type { Mailer } from './mail/mailer.js';
import { interactionRoutes } from './interactions/router.js';
import { createProvider } from './oidc/provider.js';
import { signInSessions } from './oidc/sign-in-sessions.js';
import type { PrivateJwk } from './domain/signing-keys.js';

export interface AppParts {
  config: Config;
  deps: Deps;
  keys: PrivateJwk[];
  log: Logger;
  /** The secret of pharmid's own portal (account and admin pages). */
  ownPortalSecret: () => string;
  /** Page areas for signed-in people (account, admin). */
  extraPages?: PageRoutes[];
  mailer?: Mailer;
}

/** Paths of pharmid's own pages (not the protocol endpoints, not bearer-token APIs). */
const OWN_PAGES = /^\/(interaction|portal|account|admin|password)(\/|$)/;
const ADMIN_API = /^\/api\/admin(\/|$)/;

/** Sign-in steps whose answer costs an argon2 hash. */
const HASHING_STEPS = /^\/interaction\/[^/]+\/(password|activate)$/;

/** The composition of one pharmid process's HTTP side. */
export function buildApp({ config, deps, keys, log, ownPortalSecret, extraPages, mailer }: AppParts): { app: Koa; metrics: Metrics; provider(): Provider; useKeys(keys: PrivateJwk[]): void } {
  const render = createRenderer();
  const pages = providerPages(render, deps);

  /** The provider is made again when the signing keys change (pharmid keys rotate); its state lives in the stores. */
  const makeProvider = (signingKeys: PrivateJwk[]) => {
    const provider = createProvider({ config, deps, store: deps.store, keys: signingKeys, pages });
    provider.on('server_error', (ctx: Koa.Context, err: Error) => {
      if (isUnavailable(err)) {
        ctx.state.unavailable = true;
        log.warn({ err: { name: err.name, message: err.message }, path: ctx.path }, 'a backend is unavailable');
        return;
      }
      log.error({ err: { name: err.name, message: err.message, stack: err.stack } }, 'oidc server error');
    });
    return { provider, middleware: mount(provider) };
  };
  let current = makeProvider(keys);
  const metrics = createMetrics(() => deps.passwords.queueDepth);

  // The caller's address: the socket's, or with N trusted proxy hops the Nth X-Forwarded-For
  // entry from the right (the one the outermost trusted proxy added); entries a caller sent
  // itself sit further left and are never read.
  const app = new Koa({ proxy: config.trustProxy > 0, maxIpsCount: config.trustProxy });
  app.silent = true;
  // oidc-provider runs on this app's context when mounted, so its signed cookies use these keys.
  app.keys = config.cookieKeys;
  // One spelling of the caller's address from here on (IPv4-mapped back to IPv4, any port a
  // proxy appended dropped, IPv6 in RFC 5952 form): what the audit trail records. The limits
  // count it by `addressKey` (an IPv6 host by its /64).
  app.use((ctx, next) => {
    ctx.request.ip = seenAddress(ctx.ip);
    return next();
  });
  app.use(metrics.timing);
  app.use(async (ctx, next) => {
    const started = performance.now();
    await next();
    log.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
  });
  app.use(errorResponses(render, log));
  // A password step with no room left in the argon2 line for this address is refused here,
  // before any session lookup: a flood's surplus then costs almost nothing (503, Retry-After).
  app.use((ctx, next) => {
    if (ctx.method === 'POST' && HASHING_STEPS.test(ctx.path)) deps.passwords.assertRoom(ctx.ip);
    return next();
  });

  // Strict headers on every response; oidc-provider adds the hash of any inline script it sends.
  app.use(securityHeaders(config.secureCookies));
  const ops = opsRoutes(deps.db, deps.store, metrics, config.metrics);
  app.use(ops.routes());
  app.use(serveAssets());
  // Bad bytes in the path or query of pharmid's own pages and API are refused before any route reads them.
  app.use((ctx, next) => (OWN_PAGES.test(ctx.path) || ADMIN_API.test(ctx.path) ? checkQuery(ctx, next) : next()));
  const csrf = csrfProtection(config.cookieKeys, config.secureCookies);
  // pharmid's own pages carry CSRF tokens in their forms.
  app.use((ctx, next) => (OWN_PAGES.test(ctx.path) ? csrf.issue(ctx, next) : next()));
  const interactions = interactionRoutes({ provider: () => current.provider, deps, render, csrf, onStep: metrics.countStep, secureCookies: config.secureCookies });
  app.use(interactions.routes());

  const sessions = signInSessions({ provider: () => current.provider, deps, limits: config.ttl });
  const portal = ownPortal({
    config, deps, secret: ownPortalSecret, render,
    liveSession: (ctx) => sessions.currentId(ctx.cookies),
    touchSession: (uid) => sessions.touch(uid),
    renewCsrf: (ctx) => csrf.renew(ctx),
  });
  const pageForm = formBody(csrf);
  app.use((ctx, next) => (OWN_PAGES.test(ctx.path) ? portal.load(ctx, next) : next()));
  app.use(portal.routes(pageForm).routes());
  for (const router of (extraPages ?? [])) app.use(router({ deps, config, render, requireSignIn: portal.requireSignIn, pageForm, sessions, mailer, provider: () => current.provider }).routes());

  // While Redis is away, sign-in and token requests get a clear 503 at once instead of a hang or a 500.
  app.use(async (ctx, next) => {
    if (!deps.store.isReady()) throw new Unavailable();
    await next();
    if (ctx.state.unavailable && ctx.status === 500) {
      ctx.status = 503;
      ctx.set('Retry-After', '5');
      if (ctx.body && typeof ctx.body === 'object') ctx.body = { error: 'temporarily_unavailable', error_description: new Unavailable().message };
    }
  });
  app.use((ctx, next) => current.middleware(ctx, next));
  return {
    app,
    metrics,
    provider: () => current.provider,
    useKeys(signingKeys) { current = makeProvider(signingKeys); },
  };
}
