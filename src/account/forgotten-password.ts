import Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import { PASSWORD_HINT } from '../domain/passwords.js';
import { askForLink, isSignInId, LINK_GONE, linkPasskeyOptions, openLink, SAME_ANSWER, useLink } from '../domain/forgotten-password.js';
import { fieldsOf, handleForm, type FieldError } from './forms.js';

/**
 * "Forgotten your password?": ask for a link (one answer for every email),
 * then, from the mailed link, prove the second factor and choose a new
 * password. Nobody is signed in here: the person signs in afresh (with
 * their authenticator), from the portal they came from when there is one.
 */
export function forgottenPasswordPages({ deps, render, pageForm, sessions, provider }: PageContext): Router {
  const router = new Router({ prefix: '/password' });
  const query = (ctx: Koa.Context, name: string) => (typeof ctx.query[name] === 'string' ? ctx.query[name] as string : undefined);

  /** The portal of the sign-in the person came from, while that sign-in lives. */
  async function portalOf(from: string | undefined): Promise<{ name: string; url: string } | undefined> {
    if (!isSignInId(from) || !provider) return undefined;
    const interaction = await provider().Interaction.find(from).catch(() => undefined);
    if (!interaction) return undefined;
    const client = await provider().Client.find(String(interaction.params.client_id)).catch(() => undefined);
    return client ? { name: client.clientName ?? 'the portal', url: `/interaction/${from}` } : undefined;
  }

  const askPage = (ctx: Koa.Context, from: string | undefined, errors: FieldError[] = [], email = '', status = 200) => render(ctx, {
    template: 'forgotten-password',
    model: { title: 'Forgotten your password?', action: '/password/forgotten', from: isSignInId(from) ? from : '', email, errors, backUrl: isSignInId(from) ? `/interaction/${from}` : undefined },
  }, status);

  router.get('/forgotten', (ctx) => askPage(ctx, query(ctx, 'from')));

  router.post('/forgotten', ...pageForm, async (ctx) => {
    const form = fieldsOf(ctx);
    const from = isSignInId(form.from) ? form.from : undefined;
    const done = await handleForm(
      () => askForLink(deps, form.email ?? '', ctx.ip, from),
      (errors, status) => askPage(ctx, from, errors, form.email ?? '', status),
    );
    if (!done) return;
    await render(ctx, { template: 'forgotten-password-sent', model: { title: 'Check your email', answer: SAME_ANSWER, backUrl: from ? `/interaction/${from}` : undefined } });
  });

  async function linkPage(ctx: Koa.Context, token: string, from: string | undefined, errors: FieldError[] = [], status = 200, used?: string) {
    const page = await openLink(deps, token);
    if (!page) {
      await render(ctx, { template: 'password-link-gone', model: { title: 'This link does not work any more', message: LINK_GONE, askUrl: `/password/forgotten${from ? `?from=${from}` : ''}` } }, 410);
      return;
    }
    // Which proof the page asks for: the app's code where there is an app, else the passkey; a recovery code or the other on request.
    const asked = used ?? query(ctx, 'with');
    const mode = !page.needsSecondFactor ? 'none'
      : asked === 'recovery-code' ? 'recovery'
        : asked === 'passkey' && page.passkey ? 'passkey'
          : page.app ? 'code' : 'passkey';
    const here = `/password/reset?token=${encodeURIComponent(token)}${from ? `&from=${from}` : ''}`;
    await render(ctx, {
      template: 'reset-password',
      model: {
        title: 'Choose a new password',
        action: '/password/reset',
        token,
        from: from ?? '',
        email: page.user.email,
        issuer: deps.settings.totp.issuer,
        askCode: mode === 'code',
        askRecoveryCode: mode === 'recovery',
        askPasskey: mode === 'passkey',
        passkeyOptions: mode === 'passkey' ? JSON.stringify(await linkPasskeyOptions(deps, token, page)) : undefined,
        recoveryUrl: page.needsSecondFactor && mode !== 'recovery' && page.recoveryCodesLeft > 0 ? `${here}&with=recovery-code` : undefined,
        otpUrl: page.app && mode !== 'code' ? `${here}&with=code` : undefined,
        passkeyUrl: page.passkey && mode !== 'passkey' ? `${here}&with=passkey` : undefined,
        passwordHint: PASSWORD_HINT,
        errors,
      },
    }, status);
  }

  router.get('/reset', (ctx) => {
    const from = query(ctx, 'from');
    return linkPage(ctx, query(ctx, 'token') ?? '', isSignInId(from) ? from : undefined);
  });

  router.post('/reset', ...pageForm, async (ctx) => {
    const form = fieldsOf(ctx);
    const token = form.token ?? '';
    const from = isSignInId(form.from) ? form.from : undefined;
    // A link gone by now (used, or too old) gets the page that says so, whatever else was typed.
    if (!(await openLink(deps, token))) return linkPage(ctx, token, from);
    let userId: string | undefined;
    const done = await handleForm(
      async () => {
        const user = await useLink(deps, {
          token, code: form.code, recoveryCode: form.recovery_code, credential: form.credential, newPassword: form.new_password ?? '',
        }, ctx.ip);
        userId = user.id;
      },
      // Shown again with the proof the person was using.
      (errors, status) => linkPage(ctx, token, from, errors, status, form.credential !== undefined ? 'passkey' : form.recovery_code !== undefined ? 'recovery-code' : 'code'),
    );
    if (!done || !userId) return;
    // Every session of the person ends (their portals told); earlier tokens were refused with the new password.
    await sessions?.endAll({ kind: 'user', id: userId }, userId);
    await render(ctx, { template: 'password-reset-done', model: { title: 'Your password has been changed', portal: await portalOf(from) } });
  });

  return router;
}
