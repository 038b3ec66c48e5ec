import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import { mailActivationCode } from '../domain/code-mail.js';
import {
  changePersonRole, disablePerson, enablePerson, linkPerson, resetPersonMfa, resetPersonPassword,
  searchPeople, unlinkPerson, unlockPerson, viewPerson, type AdminRequest,
} from '../domain/admin-people.js';
import { sitesForLinking } from '../domain/admin-sites.js';
import { personFactors } from '../domain/factors/summary.js';
import { factorsView } from './present-factors.js';
import { authorize } from '../domain/authorization.js';
import { linkInput, pageOf, parseInput, queryOf, roleInput, searchQuery } from './schemas.js';
import { backTo, doneMessage, fieldsOf, pagination, ROLE_NAMES, STATUS_NAMES, tryForm, when, type FieldError } from './forms.js';

const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;
const personPath = (id: string) => `/admin/people/${encodeURIComponent(id)}`;

/** Searching for people, a person's page, and every act on a person. */
export function peoplePages(router: Router, { deps, render, pageForm, config, mailer }: PageContext): void {
  router.get('/people', async (ctx) => {
    const { q } = parseInput(searchQuery, queryOf(ctx.query));
    let errors: FieldError[] = [];
    let results;
    if (q !== undefined) {
      await tryForm(async () => { results = await searchPeople(deps, req(ctx), q, pageOf(ctx.query)); }, async (e) => { errors = e; });
    } else {
      await authorize(deps, req(ctx).principal, 'user.search', {}, req(ctx));
    }
    const list = results as Awaited<ReturnType<typeof searchPeople>> | undefined;
    await render(ctx, {
      template: 'admin/search',
      model: {
        title: 'Find a person', q: q ?? '', errors,
        results: list?.items.map((p) => ({ ...p, statusName: STATUS_NAMES[p.status], lastSignIn: when(p.lastSignInAt) })),
        pages: list ? pagination(ctx, list) : undefined,
      },
    }, errors.length ? 400 : 200);
  });

  async function personPage(ctx: Koa.Context, errors: FieldError[] = [], status = 200) {
    const r = req(ctx);
    const person = await viewPerson(deps, r, ctx.params.id!);
    const linkable = (await sitesForLinking(deps, r)).filter((s) => !person.sites.some((m) => m.ods === s.ods));
    const sites = person.sites.map((m) => ({ ...m, roleName: ROLE_NAMES[m.role] }));
    await render(ctx, {
      template: 'admin/person',
      model: {
        title: person.name, person: { ...person, statusName: STATUS_NAMES[person.status], lastSignIn: when(person.lastSignInAt) },
        sites, linkable, roles: ROLE_NAMES, path: personPath(person.id), done: doneMessage(ctx), errors,
        may: {
          resetPassword: person.allowed['user.reset-password'] && person.status !== 'disabled',
          resetMfa: person.allowed['user.reset-mfa'], unlock: person.allowed['user.unlock'],
          disable: person.allowed['user.disable'] && person.status !== 'disabled', enable: person.allowed['user.enable'] && person.status === 'disabled',
        },
        codesGoToPerson: person.codesGoTo === 'person',
        factors: factorsView(await personFactors(deps, r, person.id)),
      },
    }, status);
  }

  router.get('/people/:id', (ctx) => personPage(ctx));

  /**
   * Resets that issue a one-time code: shown once here (and emailed when
   * pharmid has SMTP) when the person is entirely within the administrator's
   * reach; otherwise emailed to the person alone, and the page says so.
   */
  const resets = {
    'reset-password': {
      act: resetPersonPassword, purpose: 'password-reset', title: 'Password reset',
      heading: (name: string) => `${name} needs to choose a new password`, flag: { reset: true },
    },
    'reset-mfa': {
      act: resetPersonMfa, purpose: 'mfa-reset', title: 'Two-step sign-in reset',
      heading: (name: string) => `${name} will set up a new authenticator`, flag: { mfaReset: true },
    },
  } as const;
  for (const [name, r] of Object.entries(resets)) {
    router.post(`/people/:id/${name}`, ...pageForm, async (ctx) => {
      await tryForm(async () => {
        const outcome = await r.act(deps, req(ctx), ctx.params.id!);
        const { user } = outcome;
        const shown = outcome.activationCode !== undefined
          ? { code: outcome.activationCode, emailed: await mailActivationCode(mailer, config.issuer, user, outcome.activationCode, r.purpose) }
          : { emailedOnly: outcome.emailedTo };
        await render(ctx, {
          template: 'admin/code-shown',
          model: {
            title: r.title, heading: r.heading(user.name), email: user.email, ...shown,
            ...r.flag, back: personPath(user.id), backText: `Back to ${user.name}`,
          },
        });
      }, (errors, status) => personPage(ctx, errors, status));
    });
  }

  const acts = { unlock: unlockPerson, disable: disablePerson, enable: enablePerson } as const;
  for (const [name, act] of Object.entries(acts)) {
    router.post(`/people/:id/${name}`, ...pageForm, async (ctx) => {
      await tryForm(async () => {
        const user = await act(deps, req(ctx), ctx.params.id!);
        backTo(ctx, personPath(user.id), name);
      }, (errors, status) => personPage(ctx, errors, status));
    });
  }

  router.post('/people/:id/sites', ...pageForm, async (ctx) => {
    await tryForm(async () => {
      const i = parseInput(linkInput, fieldsOf(ctx));
      const r = await linkPerson(deps, req(ctx), { id: ctx.params.id! }, i);
      backTo(ctx, personPath(ctx.params.id!), r.waiting ? 'link-waiting' : 'linked');
    }, (errors, status) => personPage(ctx, errors, status));
  });
  router.post('/people/:id/sites/:ods/role', ...pageForm, async (ctx) => {
    await tryForm(async () => {
      const { role } = parseInput(roleInput, fieldsOf(ctx));
      await changePersonRole(deps, req(ctx), ctx.params.id!, ctx.params.ods!, role);
      backTo(ctx, personPath(ctx.params.id!), 'role');
    }, (errors, status) => personPage(ctx, errors, status));
  });
  router.post('/people/:id/sites/:ods/remove', ...pageForm, async (ctx) => {
    await tryForm(async () => {
      await unlinkPerson(deps, req(ctx), ctx.params.id!, ctx.params.ods!);
      backTo(ctx, personPath(ctx.params.id!), 'removed');
    }, (errors, status) => personPage(ctx, errors, status));
  });
}
