import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import { mailActivationCode } from '../domain/code-mail.js';
import { disablePerson, requireAct, resetPersonMfa, resetPersonPassword, viewPerson, type AdminRequest, type PersonDetails } from '../domain/admin/people.js';
import { changePersonDetails, endPersonSession, sendNewActivationCode } from '../domain/admin/person-changes.js';
import { findGenericMailbox } from '../domain/generic-mailboxes.js';
import { InvalidInput } from '../domain/errors.js';
import type { ResetOutcome } from '../domain/users.js';
import { confirmInput, detailsInput, parseInput } from './schemas.js';
import { backTo, fieldsOf, tryForm, when, type FieldError } from './forms.js';
import { consoleForm } from './form-gate.js';

const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;
export const personPath = (id: string) => `/admin/people/${encodeURIComponent(id)}`;

type PersonPage = (ctx: Koa.Context, errors?: FieldError[], status?: number) => Promise<void>;

/** What the asker may do to the person now: each button shows only when the act is allowed and has something to do. */
export function mayOnPerson(p: PersonDetails) {
  const a = p.allowed;
  const somethingLocked = p.locked || p.temporaryLocks.length > 0 || p.addressesRefused.length > 0;
  return {
    activationCode: !!a['user.activation-code'] && p.status === 'invited',
    resetPassword: !!a['user.reset-password'] && p.status === 'active',
    resetMfa: !!a['user.reset-mfa'] && p.status !== 'disabled' && p.enrolled,
    unlock: !!a['user.unlock'] && somethingLocked,
    disable: !!a['user.disable'] && p.status !== 'disabled',
    enable: !!a['user.enable'] && p.status === 'disabled',
    edit: !!a['user.edit'],
    endSession: !!a['user.end-session'],
  };
}

const LOCK_WORDS = { password: 'Password', activation: 'Activation code', 'second-factor': 'Authenticator and recovery codes' } as const;

/** The person's locks as the page says them, with the time each lifts by itself (UK time). */
export function locksInWords(p: PersonDetails) {
  return {
    hard: p.locked,
    temporary: p.temporaryLocks.map((l) => ({ what: LOCK_WORDS[l.kind], until: when(l.until), minutes: Math.max(1, Math.ceil((l.until.getTime() - Date.now()) / 60_000)) })),
    addresses: p.addressesRefused,
  };
}

/** The acts that ask first: what each will do, and what to tell the person. */
const CONFIRM = {
  'reset-password': {
    title: (n: string) => `Reset ${n}'s password?`, button: 'Yes, reset their password',
    happens: [
      'Their password stops working straight away.',
      'They are signed out everywhere: every browser and every portal.',
      'pharmid emails them to say their password was reset, and by whom.',
      'You get a one-time code for them to choose a new password (it works once, within 72 hours).',
    ],
    tell: 'On pharmid\'s sign-in page, choose "Activate your account", then enter your email, the code I give you and a new password. Your authenticator app stays as it is.',
  },
  'reset-mfa': {
    title: (n: string) => `Reset ${n}'s authenticator?`, button: 'Yes, reset their authenticator',
    happens: [
      'Their authenticator app, any passkeys or security keys, and their recovery codes stop working straight away.',
      'They are signed out everywhere: every browser and every portal.',
      'pharmid emails them to say their two-step sign-in was reset, and by whom.',
      'You get a one-time code: at their next sign-in they give their password, then this code, then set up an authenticator app or a passkey again.',
    ],
    tell: 'Sign in as usual with your email and password. pharmid then asks for the code I give you, and takes you through setting up your authenticator app, or a passkey or security key, again.',
  },
  disable: {
    title: (n: string) => `Disable ${n}?`, button: 'Yes, disable them',
    happens: [
      'They can no longer sign in to pharmid or any portal, at any of their sites.',
      'They are signed out everywhere: every browser and every portal.',
      'pharmid emails them to say their account was disabled, and by whom.',
      'Nothing is deleted: "Re-enable" on this page lets them sign in again.',
    ],
    tell: 'Your pharmid account is disabled. Speak to your site administrator if you think this is a mistake.',
  },
} as const;
type Confirmable = keyof typeof CONFIRM;

/** Confirmation pages and the acts behind them, a new activation code, name and email, and ending a session. */
export function personChangePages(router: Router, { deps, render, pageForm, config, mailer, sessions }: PageContext, personPage: PersonPage): void {
  async function confirmPage(ctx: Koa.Context, act: Confirmable, errors: FieldError[] = [], status = 200) {
    const person = await viewPerson(deps, req(ctx), ctx.params.id!);
    await requireAct(deps, req(ctx), person.id, `user.${act}`);
    const c = CONFIRM[act];
    const emailedOnly = act !== 'disable' && person.codesGoTo === 'person';
    await render(ctx, {
      template: 'admin/person-confirm',
      model: {
        title: c.title(person.name), button: c.button, errors, person, action: `${personPath(person.id)}/${act}`, back: personPath(person.id),
        happens: emailedOnly
          ? [...c.happens.slice(0, -1), `pharmid emails the one-time code to ${person.email} only: you will not see it, because they also work at a site you do not look after.`]
          : c.happens,
        tell: emailedOnly ? c.tell.replace('the code I give you', 'the code pharmid emailed you') : c.tell, act,
      },
    }, status);
  }

  /** Shows a code once (or says where it was emailed), with what to tell the person. */
  async function codePage(ctx: Koa.Context, outcome: ResetOutcome, purpose: 'password-reset' | 'mfa-reset' | 'new-account', model: Record<string, unknown>) {
    const { user } = outcome;
    const shown = outcome.activationCode !== undefined
      ? { code: outcome.activationCode, emailed: await mailActivationCode(mailer, config.issuer, user, outcome.activationCode, purpose) }
      : { emailedOnly: outcome.emailedTo };
    await render(ctx, {
      template: 'admin/code-shown',
      model: { email: user.email, ...shown, ...model, back: personPath(user.id), backText: `Back to ${user.name}` },
    });
  }

  const headings = { 'reset-password': (n: string) => `${n} needs to choose a new password`, 'reset-mfa': (n: string) => `${n} will set up a new authenticator` };

  for (const act of Object.keys(CONFIRM) as Confirmable[]) {
    router.get(`/people/:id/${act}`, (ctx) => confirmPage(ctx, act));
    router.post(`/people/:id/${act}`, ...pageForm, async (ctx) => {
      await tryForm(async () => {
        const { confirm } = parseInput(confirmInput, fieldsOf(ctx));
        // Only the button on the confirmation page says yes: anything else shows that page, and nothing is done.
        if (confirm !== 'yes') throw new InvalidInput('Check what will happen, then choose the button to go ahead.', 'confirm');
        if (act === 'disable') {
          const user = await disablePerson(deps, req(ctx), ctx.params.id!);
          return backTo(ctx, personPath(user.id), 'disable');
        }
        const person = await viewPerson(deps, req(ctx), ctx.params.id!);
        const outcome = act === 'reset-password' ? await resetPersonPassword(deps, req(ctx), person.id) : await resetPersonMfa(deps, req(ctx), person.id);
        await codePage(ctx, outcome, act === 'reset-password' ? 'password-reset' : 'mfa-reset', {
          title: act === 'reset-password' ? 'Password reset' : 'Two-step sign-in reset', heading: headings[act](person.name),
          ...(act === 'reset-password' ? { reset: true } : { mfaReset: true }),
        });
      }, (errors, status) => confirmPage(ctx, act, errors, status));
    });
  }

  router.post('/people/:id/activation-code', ...pageForm, async (ctx) => {
    await tryForm(async () => {
      parseInput(confirmInput, fieldsOf(ctx));
      const outcome = await sendNewActivationCode(deps, req(ctx), ctx.params.id!);
      await codePage(ctx, outcome, 'new-account', { title: 'New activation code', heading: `A new activation code for ${outcome.user.name}`, activation: true });
    }, (errors, status) => personPage(ctx, errors, status));
  });

  async function editForm(ctx: Koa.Context, values: Record<string, string> = {}, errors: FieldError[] = [], status = 200) {
    const person = await viewPerson(deps, req(ctx), ctx.params.id!);
    await requireAct(deps, req(ctx), person.id, 'user.edit');
    const email = values.email ?? person.email;
    await render(ctx, {
      template: 'admin/person-edit',
      model: {
        title: `Change ${person.name}'s name or email`, person, errors, back: personPath(person.id), action: `${personPath(person.id)}/edit`,
        values: { name: values.name ?? person.name, email },
        askOnePerson: errors.some((e) => e.field === 'email') && findGenericMailbox(email) !== undefined,
      },
    }, status);
  }
  router.get('/people/:id/edit', (ctx) => editForm(ctx));
  router.post('/people/:id/edit', ...consoleForm(pageForm, (ctx, errors, status, values) => editForm(ctx, values, errors, status)), async (ctx) => {
    const values = fieldsOf(ctx);
    await tryForm(async () => {
      const i = parseInput(detailsInput, values);
      // The form always sends both: one missing is a form that did not come from this page.
      if (i.name === undefined) throw new InvalidInput('Enter their full name', 'name');
      if (i.email === undefined) throw new InvalidInput('Enter their email address', 'email');
      const { user, changed } = await changePersonDetails(deps, req(ctx), ctx.params.id!, { name: i.name, email: i.email, onePersonOnly: i.one_person });
      backTo(ctx, personPath(user.id), changed.includes('email') ? 'email-changed' : changed.length ? 'name-changed' : 'nothing-changed');
    }, (errors, status) => editForm(ctx, values, errors, status));
  });

  router.post('/people/:id/sessions/:session/end', ...pageForm, async (ctx) => {
    if (!sessions) throw new InvalidInput('Sessions cannot be listed here');
    await tryForm(async () => {
      parseInput(confirmInput, fieldsOf(ctx));
      const user = await endPersonSession(deps, sessions, req(ctx), ctx.params.id!, ctx.params.session!);
      backTo(ctx, personPath(user.id), 'session-ended');
    }, (errors, status) => personPage(ctx, errors, status));
  });
}
