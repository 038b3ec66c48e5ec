import Router from '@koa/router';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import { listSites } from '../domain/accounts.js';
import { unusedRecoveryCodes } from '../domain/recovery-codes.js';

/** /account: a person's own page. */
export function accountPages({ deps, render, requireSignIn }: PageContext): Router {
  const router = new Router({ prefix: '/account' });
  router.use(requireSignIn);

  router.get('/', async (ctx) => {
    const { user } = ctx.state.person as Person;
    await render(ctx, {
      template: 'account/index',
      model: {
        title: 'Your account',
        name: user.name,
        email: user.email,
        sites: await listSites(deps, user.id),
        recoveryCodesLeft: await unusedRecoveryCodes(deps, user.id),
        signOutAction: '/portal/sign-out',
      },
    });
  });
  return router;
}
