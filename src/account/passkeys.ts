import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import { countPasskeys, listPasskeys, MAX_PASSKEYS, renamePasskey, tooManyPasskeys } from '../domain/factors/passkeys.js';
import { addOwnPasskey, mayAddPasskey, newPasskeyOptions, proofChoices, proveForNewPasskey, removeOwnPasskey } from '../domain/factors/own-passkeys.js';
import { backToAccount, fieldsOf, handleForm, type FieldError } from './forms.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Passkeys and security keys on the account page: add one (after proving a
 * current factor), rename one, and remove one (never the last factor; removing one signs
 * the person out everywhere else, as a lost key may be in someone's hands).
 */
export function passkeyRoutes(router: Router, { render, pageForm, deps, config, sessions }: PageContext): void {
  const provePage = async (ctx: Koa.Context, errors: FieldError[] = [], status = 200) => {
    const { user, sessionId } = ctx.state.person as Person;
    if ((await countPasskeys(deps, user.id)) >= MAX_PASSKEYS) {
      // Said before the proof, with nothing to prove: no key could be kept after it.
      await render(ctx, { template: 'account/passkey-prove', model: { title: 'Add a passkey or security key', full: true, errors: [{ message: tooManyPasskeys().message }] } }, 409);
      return;
    }
    const choices = await proofChoices(deps, user, sessionId);
    await render(ctx, {
      template: 'account/passkey-prove',
      model: {
        title: 'Add a passkey or security key',
        action: '/account/passkeys/add',
        app: choices.app,
        options: choices.passkey ? JSON.stringify(choices.passkey) : undefined,
        issuer: config.totp.issuer,
        errors,
      },
    }, status);
  };

  const newPage = async (ctx: Koa.Context, errors: FieldError[] = [], status = 200, name = '') => {
    const { user, sessionId } = ctx.state.person as Person;
    if (!(await mayAddPasskey(deps, user, sessionId))) {
      ctx.status = 303;
      ctx.redirect('/account/passkeys/add');
      return;
    }
    await render(ctx, {
      template: 'account/passkey-new',
      model: { title: 'Add a passkey or security key', action: '/account/passkeys/new', options: JSON.stringify(await newPasskeyOptions(deps, user, sessionId)), name, errors },
    }, status);
  };

  /** The person's own key named in the URL, or a 404 page. */
  const ownKey = async (ctx: Koa.Context) => {
    const { user } = ctx.state.person as Person;
    const id = String(ctx.params.id ?? '');
    const key = UUID.test(id) ? (await listPasskeys(deps, user.id)).find((p) => p.id === id) : undefined;
    if (!key) ctx.throw(404, 'That key is not on your account');
    return key;
  };

  const removePage = async (ctx: Koa.Context, errors: FieldError[] = [], status = 200) => {
    const key = await ownKey(ctx);
    await render(ctx, {
      template: 'account/passkey-remove',
      model: { title: `Remove ${key.name}`, name: key.name, action: `/account/passkeys/${key.id}/remove`, errors },
    }, status);
  };

  const renamePage = async (ctx: Koa.Context, errors: FieldError[] = [], status = 200, name?: string) => {
    const key = await ownKey(ctx);
    await render(ctx, {
      template: 'account/passkey-rename',
      model: { title: `Rename ${key.name}`, name: name ?? key.name, current: key.name, action: `/account/passkeys/${key.id}/rename`, errors },
    }, status);
  };

  router.get('/passkeys/:id/rename', (ctx) => renamePage(ctx));
  router.post('/passkeys/:id/rename', ...pageForm, async (ctx) => {
    const { user } = ctx.state.person as Person;
    const key = await ownKey(ctx);
    const form = fieldsOf(ctx);
    const done = await handleForm(() => renamePasskey(deps, user.id, key.id, form.name, ctx.ip), (errors, status) => renamePage(ctx, errors, status, form.name ?? ''));
    if (done) backToAccount(ctx, 'passkey-renamed');
  });

  router.get('/passkeys/add', async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    if (await mayAddPasskey(deps, user, sessionId)) {
      ctx.status = 303;
      ctx.redirect('/account/passkeys/new');
      return;
    }
    await provePage(ctx);
  });
  router.post('/passkeys/add', ...pageForm, async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    const form = fieldsOf(ctx);
    const proved = await handleForm(() => proveForNewPasskey(deps, user, sessionId, form, ctx.ip), (errors, status) => provePage(ctx, errors, status));
    if (!proved) return;
    ctx.status = 303;
    ctx.redirect('/account/passkeys/new');
  });

  router.get('/passkeys/new', (ctx) => newPage(ctx));
  router.post('/passkeys/new', ...pageForm, async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    if (!(await mayAddPasskey(deps, user, sessionId))) {
      ctx.status = 303;
      ctx.redirect('/account/passkeys/add');
      return;
    }
    const form = fieldsOf(ctx);
    const done = await handleForm(async () => { await addOwnPasskey(deps, user, sessionId, form, ctx.ip); }, (errors, status) => newPage(ctx, errors, status, form.name ?? ''));
    if (done) backToAccount(ctx, 'passkey-added');
  });

  router.get('/passkeys/:id/remove', (ctx) => removePage(ctx));
  router.post('/passkeys/:id/remove', ...pageForm, async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    const key = await ownKey(ctx);
    const done = await handleForm(async () => { await removeOwnPasskey(deps, user, key.id, ctx.ip); }, (errors, status) => removePage(ctx, errors, status));
    if (!done) return;
    await sessions?.endOthers({ kind: 'user', id: user.id }, user.id, sessionId, 'passkey-removed');
    backToAccount(ctx, 'passkey-removed');
  });
}
