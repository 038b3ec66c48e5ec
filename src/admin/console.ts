import Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import type { Render } from '../http/render.js';
import { loadPrincipal } from '../domain/authorization.js';
import { NotFound, PharmidError } from '../domain/errors.js';
import { sitesAdministeredBy, type AdminRequest } from '../domain/admin/people.js';
import { sitePages } from './console-sites.js';
import { peoplePages } from './console-people.js';
import { portalPages } from './console-portals.js';
import { rolloutPages } from './console-rollout.js';
import { rolesInWords } from './signed-in.js';

const lastUseKey = (pageSession: string) => `admin-console:last-use:${pageSession}`;

/**
 * /admin: the admin console, a first-party portal of pharmid (signed in with
 * password and code). Every page asks the domain, which asks the one
 * authorization module; every form posts through pageForm (CSRF checked).
 * Every page shows who is signed in, with their roles, their account and
 * "Sign out"; a refusal or an unknown page leads back to the console's home.
 */
export function adminPages(page: PageContext): Router {
  const router = new Router({ prefix: '/admin' });
  const render: Render = (ctx, view, status) => page.render(ctx, { ...view, model: { ...view.model, signedIn: ctx.state.signedIn } }, status);
  router.use(consoleErrors(render));
  router.use(idleLimit(page, render));
  router.use(page.requireSignIn);
  router.use(async (ctx, next) => {
    const { user } = ctx.state.person as Person;
    const principal = await loadPrincipal(page.deps, user.id);
    ctx.state.admin = { principal, ip: ctx.ip } satisfies AdminRequest;
    ctx.state.signedIn = { name: user.name, roles: rolesInWords(principal, await sitesAdministeredBy(page.deps, user.id)) };
    await next();
  });
  const consolePage = { ...page, render };
  sitePages(router, consolePage);
  peoplePages(router, consolePage);
  portalPages(router, consolePage);
  rolloutPages(router, consolePage);
  router.all('/{*rest}', () => {
    throw new NotFound('Page not found.');
  });
  return router;
}

/** A refusal or a page that is not there: the console's own error page, with the header and a way back to its home. */
function consoleErrors(render: Render): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof PharmidError) || (err.status !== 403 && err.status !== 404)) throw err;
      await render(ctx, {
        template: 'admin/error',
        model: {
          title: err.status === 403 ? 'You cannot do that' : 'Page not found', status: err.status,
          message: err.message === 'Page not found.' ? 'There is no page at this address. The link may be wrong or out of date.' : err.message,
        },
      }, err.status);
    }
  };
}

/**
 * pharmid's own sign-in session stays two hours when idle (portals and the
 * account page); the console can reset colleagues, and dispensary PCs are
 * shared. So after config.ttl.consoleIdle (15 minutes) without a console page
 * (or as long since the sign-in, on the first one) the console asks for the
 * password and code again (own-portal's requireSignIn, with
 * ctx.state.signInAgain); a form posted after that does nothing and says why.
 * Real time, as the sign-in's auth_time is.
 */
function idleLimit(page: PageContext, render: Render): Koa.Middleware {
  return async (ctx, next) => {
    const person = ctx.state.person as Person | undefined;
    const pageSession = ctx.state.ownSessionId as string | undefined;
    if (!person || !pageSession) return next();
    const limit = page.config.ttl.consoleIdle;
    const now = Math.floor(Date.now() / 1000);
    const last = Number((await page.deps.store.get(lastUseKey(pageSession))) ?? 0);
    if (now - Math.max(last, person.authTime) > limit) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        await render(ctx, { template: 'admin/timed-out', model: { title: 'Sign in again', minutes: Math.max(1, Math.round(limit / 60)) } }, 401);
        return;
      }
      ctx.state.signInAgain = true;
      return next();
    }
    await page.deps.store.set(lastUseKey(pageSession), String(now), page.config.ttl.session);
    await next();
  };
}
