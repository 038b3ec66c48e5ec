import Router from '@koa/router';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import { listSites } from '../domain/accounts.js';
import { unusedRecoveryCodes } from '../domain/factors/recovery-codes.js';
import { sessionRow } from './present.js';
import { sessionRoutes } from './sessions.js';
import { passwordRoutes } from './password.js';
import { authenticatorRoutes } from './authenticator.js';
import { passkeyRoutes } from './passkeys.js';
import { hasAuthenticator } from '../domain/factors/authenticators.js';
import { listPasskeys } from '../domain/factors/passkeys.js';
import { passkeyRow } from './present.js';

/** What the account page says after a change (from `?done=`). */
const DONE: Record<string, string> = {
  password: 'Your password has been changed. You have been signed out everywhere else.',
  authenticator: 'Your new authenticator app is set up. Your old one no longer works, and you have been signed out everywhere else.',
  'authenticator-added': 'Your authenticator app is set up. Your passkeys keep working, and you have been signed out everywhere else.',
  'recovery-codes': 'You have new recovery codes. The old ones no longer work.',
  session: 'That session has been signed out, and its portals told.',
  'passkey-added': 'Your passkey or security key is added. You can use it the next time you sign in.',
  'passkey-renamed': 'Your key has its new name.',
  'passkey-removed': 'That passkey or security key is removed: it no longer works for your account. You have been signed out everywhere else.',
};

/** /account: a person's own page — details, sessions, password, authenticator, recovery codes. */
export function accountPages(context: PageContext): Router {
  const { deps, render, requireSignIn, sessions } = context;
  const router = new Router({ prefix: '/account' });
  router.use(requireSignIn);

  router.get('/', async (ctx) => {
    const { user } = ctx.state.person as Person;
    const [sites, recoveryCodesLeft, list, currentId, hasApp, passkeys] = await Promise.all([
      listSites(deps, user.id),
      unusedRecoveryCodes(deps, user.id),
      sessions ? sessions.list(user.id) : Promise.resolve([]),
      sessions ? sessions.currentId(ctx.cookies) : Promise.resolve(undefined),
      hasAuthenticator(deps, user.id),
      listPasskeys(deps, user.id),
    ]);
    const done = typeof ctx.query.done === 'string' ? DONE[ctx.query.done] : undefined;
    await render(ctx, {
      template: 'account/index',
      model: {
        title: 'Your account',
        name: user.name,
        email: user.email,
        sites,
        recoveryCodesLeft,
        hasApp,
        passkeys: passkeys.map(passkeyRow),
        done,
        showSessions: Boolean(sessions),
        sessions: list.map((s) => sessionRow(s, currentId)),
        endAllAction: '/account/sessions/end-all',
        signOutAction: '/portal/sign-out',
      },
    });
  });

  sessionRoutes(router, context);
  passwordRoutes(router, context);
  authenticatorRoutes(router, context);
  passkeyRoutes(router, context);
  return router;
}
