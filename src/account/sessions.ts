import type Router from '@koa/router';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import { NotFound } from '../domain/errors.js';
import { backToAccount } from './forms.js';

/**
 * Signing out of sessions from the account page: one other browser, or every
 * session at once (this one too). Portals in each session are told by
 * back-channel logout and their tokens revoked. This browser's own session
 * ends with the ordinary Sign out button (RP-initiated logout).
 */
export function sessionRoutes(router: Router, { pageForm, sessions }: PageContext): void {
  if (!sessions) return;

  router.post('/sessions/:id/end', ...pageForm, async (ctx) => {
    const { user } = ctx.state.person as Person;
    const ended = await sessions.end({ kind: 'user', id: user.id }, user.id, ctx.params.id!);
    if (!ended) throw new NotFound('That session has already ended.');
    backToAccount(ctx, 'session');
  });

  router.post('/sessions/end-all', ...pageForm, async (ctx) => {
    const { user } = ctx.state.person as Person;
    await sessions.endAll({ kind: 'user', id: user.id }, user.id);
    // Every sign-in, this page's included, no longer counts: the next page asks to sign in.
    ctx.status = 303;
    ctx.redirect('/account');
  });
}
