import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import { PASSWORD_HINT } from '../domain/passwords.js';
import { changePassword } from '../domain/self-service.js';
import { backToAccount, fieldsOf, handleForm, type FieldError } from './forms.js';

/**
 * Change password: the current one, then a new one under the sign-in
 * password policy. Every other session of the person ends and every token
 * issued before is refused; this browser stays signed in.
 */
export function passwordRoutes(router: Router, { render, pageForm, deps, sessions }: PageContext): void {
  const page = (ctx: Koa.Context, errors: FieldError[] = [], status = 200) => render(ctx, {
    template: 'account/password',
    model: { title: 'Change your password', action: '/account/password', passwordHint: PASSWORD_HINT, errors },
  }, status);

  router.get('/password', (ctx) => page(ctx));

  router.post('/password', ...pageForm, async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    const form = fieldsOf(ctx);
    const done = await handleForm(
      () => changePassword(deps, user, form.current_password ?? '', form.new_password ?? '', ctx.ip),
      (errors, status) => page(ctx, errors, status),
    );
    if (!done) return;
    await sessions?.endOthers({ kind: 'user', id: user.id }, user.id, sessionId, 'password-changed');
    backToAccount(ctx, 'password');
  });
}
