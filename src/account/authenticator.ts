import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import {
  finishAuthenticatorChange, pendingAuthenticator, regenerateRecoveryCodes,
  startAuthenticatorChange, takeNewRecoveryCodes,
} from '../domain/self-service.js';
import { proofChoices, proveCurrentFactor } from '../domain/factors/own-passkeys.js';
import { hasAuthenticator } from '../domain/factors/authenticators.js';
import { fieldsOf, handleForm, type FieldError } from './forms.js';

/** What each use of "prove your current code" is for. */
const PROOFS = {
  authenticator: {
    title: 'Change your authenticator app',
    intro: 'First, enter the code your current authenticator app shows. Then you will set up the new one. Your current app stops working as soon as the new one is set up.',
    button: 'Continue',
  },
  /** The same change for a person with no app yet: their passkey proves it. */
  'add-authenticator': {
    title: 'Add an authenticator app',
    intro: 'First, show it is you with one of your passkeys or security keys. Then you will set up the app. Your passkeys keep working as they are.',
    button: 'Continue',
  },
  'recovery-codes': {
    title: 'Get new recovery codes',
    intro: 'First, show it is you with your authenticator app or one of your passkeys. You will get 10 new recovery codes, and every old one stops working.',
    button: 'Get new recovery codes',
  },
} as const;

/**
 * Change authenticator (prove the current code, enrol a new one, the old one
 * stops at once, other sessions end) and new recovery codes (prove the
 * code; shown once). What a proof unlocks is kept for the sign-in session
 * that gave it (Person.sessionId), never for the person's other browsers.
 */
export function authenticatorRoutes(router: Router, { render, pageForm, deps, config, sessions }: PageContext): void {
  const prove = async (ctx: Koa.Context, purpose: 'authenticator' | 'recovery-codes', errors: FieldError[] = [], status = 200) => {
    const { user, sessionId } = ctx.state.person as Person;
    // A person with passkeys may prove one of them instead of (or, with no app, in place of) the app's code.
    const choices = await proofChoices(deps, user, sessionId);
    const words = purpose === 'authenticator' && !choices.app ? PROOFS['add-authenticator'] : PROOFS[purpose];
    await render(ctx, {
      template: 'account/prove-code',
      model: {
        ...words, action: `/account/${purpose}`, issuer: config.totp.issuer, errors,
        app: choices.app, options: choices.passkey ? JSON.stringify(choices.passkey) : undefined,
      },
    }, status);
  };

  const enrolPage = async (ctx: Koa.Context, errors: FieldError[] = [], status = 200) => {
    const { user, sessionId } = ctx.state.person as Person;
    const view = await pendingAuthenticator(deps, user, sessionId);
    if (!view) {
      ctx.status = 303;
      ctx.redirect('/account/authenticator');
      return;
    }
    const adding = !(await hasAuthenticator(deps, user.id));
    await render(ctx, {
      template: 'account/new-authenticator',
      model: {
        title: adding ? 'Set up your authenticator app' : 'Set up your new authenticator app',
        adding,
        action: '/account/authenticator/new',
        ...view,
        digits: config.totp.digits,
        period: config.totp.period,
        errors,
      },
    }, status);
  };

  router.get('/authenticator', (ctx) => prove(ctx, 'authenticator'));
  router.post('/authenticator', ...pageForm, async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    const form = fieldsOf(ctx);
    const proved = await handleForm(
      async () => {
        await proveCurrentFactor(deps, user, sessionId, form, ctx.ip);
        await startAuthenticatorChange(deps, user, sessionId);
      },
      (errors, status) => prove(ctx, 'authenticator', errors, status),
    );
    if (!proved) return;
    ctx.status = 303;
    ctx.redirect('/account/authenticator/new');
  });

  router.get('/authenticator/new', (ctx) => enrolPage(ctx));
  router.post('/authenticator/new', ...pageForm, async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    const form = fieldsOf(ctx);
    let added = false;
    const done = await handleForm(
      async () => { ({ added } = await finishAuthenticatorChange(deps, user, sessionId, form.code ?? '', ctx.ip)); },
      (errors, status) => enrolPage(ctx, errors, status),
    );
    if (!done) return;
    await sessions?.endOthers({ kind: 'user', id: user.id }, user.id, sessionId, 'authenticator-changed');
    ctx.status = 303;
    ctx.redirect(`/account/recovery-codes/new?after=${added ? 'authenticator-added' : 'authenticator'}`);
  });

  router.get('/recovery-codes', (ctx) => prove(ctx, 'recovery-codes'));
  router.post('/recovery-codes', ...pageForm, async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    const form = fieldsOf(ctx);
    const done = await handleForm(
      async () => {
        await proveCurrentFactor(deps, user, sessionId, form, ctx.ip);
        await regenerateRecoveryCodes(deps, user, sessionId, ctx.ip);
      },
      (errors, status) => prove(ctx, 'recovery-codes', errors, status),
    );
    if (!done) return;
    ctx.status = 303;
    ctx.redirect('/account/recovery-codes/new');
  });

  /** The new codes, shown once: reloading the page finds nothing and goes back to the account page. */
  router.get('/recovery-codes/new', async (ctx) => {
    const { user, sessionId } = ctx.state.person as Person;
    const codes = await takeNewRecoveryCodes(deps, user, sessionId);
    if (!codes) {
      ctx.status = 303;
      ctx.redirect('/account');
      return;
    }
    await render(ctx, {
      template: 'account/new-recovery-codes',
      model: {
        title: 'Save your new recovery codes',
        codes,
        afterAuthenticator: ctx.query.after === 'authenticator',
        afterAddedApp: ctx.query.after === 'authenticator-added',
      },
    });
  });
}
