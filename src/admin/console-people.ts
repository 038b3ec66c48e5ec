import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import {
  changePersonRole, enablePerson, linkPerson, searchPeople, unlinkPerson, unlockPerson, viewPerson, type AdminRequest,
} from '../domain/admin/people.js';
import { personSessions } from '../domain/admin/person-changes.js';
import { sessionRow } from '../account/present.js';
import { locksInWords, mayOnPerson, personChangePages, personPath } from './console-person-changes.js';
import { sitesForLinking } from '../domain/admin/sites.js';
import { personFactors } from '../domain/factors/summary.js';
import { factorsView } from './present-factors.js';
import { authorize } from '../domain/authorization.js';
import { linkInput, pageOf, parseInput, queryOf, roleInput, searchQuery } from './schemas.js';
import { backTo, doneMessage, fieldsOf, pagination, ROLE_NAMES, STATUS_NAMES, tryForm, when, type FieldError } from './forms.js';

const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;

/** Searching for people, a person's page, and every act on a person. */
export function peoplePages(router: Router, page: PageContext): void {
  const { deps, render, pageForm, sessions } = page;
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
    const may = mayOnPerson(person);
    const sessionList = may.endSession && sessions ? await personSessions(deps, sessions, r, person.id) : [];
    await render(ctx, {
      template: 'admin/person',
      model: {
        title: person.name, person: { ...person, statusName: STATUS_NAMES[person.status], lastSignIn: when(person.lastSignInAt) },
        sites, linkable, roles: ROLE_NAMES, path: personPath(person.id), done: doneMessage(ctx), errors, may,
        locks: locksInWords(person),
        sessions: sessionList.map((s) => ({ ...sessionRow(s, undefined), endAction: `${personPath(person.id)}/sessions/${encodeURIComponent(s.id)}/end` })),
        codesGoToPerson: person.codesGoTo === 'person',
        factors: factorsView(await personFactors(deps, r, person.id)),
      },
    }, status);
  }

  router.get('/people/:id', (ctx) => personPage(ctx));
  personChangePages(router, page, personPage);

  const acts = { unlock: unlockPerson, enable: enablePerson } as const;
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
