import Router from '@koa/router';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import { loadPrincipal } from '../domain/authorization.js';
import { NotFound } from '../domain/errors.js';
import type { AdminRequest } from '../domain/admin-people.js';
import { sitePages } from './console-sites.js';
import { peoplePages } from './console-people.js';
import { portalPages } from './console-portals.js';
import { rolloutPages } from './console-rollout.js';

/**
 * /admin: the admin console, a first-party portal of pharmid (signed in with
 * password and code). Every page asks the domain, which asks the one
 * authorization module; every form posts through pageForm (CSRF checked).
 */
export function adminPages(page: PageContext): Router {
  const router = new Router({ prefix: '/admin' });
  router.use(page.requireSignIn);
  router.use(async (ctx, next) => {
    const { user } = ctx.state.person as Person;
    ctx.state.admin = { principal: await loadPrincipal(page.deps, user.id), ip: ctx.ip } satisfies AdminRequest;
    await next();
  });
  sitePages(router, page);
  peoplePages(router, page);
  portalPages(router, page);
  rolloutPages(router, page);
  router.all('/{*rest}', () => {
    throw new NotFound('Page not found.');
  });
  return router;
}
