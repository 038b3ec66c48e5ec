import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import { addPerson, linkPerson, type AdminRequest } from '../domain/admin/people.js';
import { addSiteAsAdmin, siteForChanging, siteOverview, sitesInReach, updateSiteAsAdmin } from '../domain/admin/sites.js';
import { AUDIT_ACTIONS, siteAudit, siteAuditCsv } from '../domain/admin/audit-trail.js';
import { authorize, can } from '../domain/authorization.js';
import { SITE_KINDS } from '../domain/sites.js';
import { mailActivationCode } from '../domain/code-mail.js';
import { findGenericMailbox } from '../domain/generic-mailboxes.js';
import { auditQuery, locumInput, pageOf, parseInput, personInput, queryOf, siteInput, siteUpdate } from './schemas.js';
import { bulkPages } from './console-bulk.js';
import { consoleForm } from './form-gate.js';
import { importPages } from './console-import.js';
import { backTo, doneMessage, fieldsOf, pagination, ROLE_NAMES, STATUS_NAMES, tryForm, when, type FieldError } from './forms.js';

const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;
const sitePath = (ods: string) => `/admin/sites/${encodeURIComponent(ods)}`;
const OUTCOME_NAMES: Record<string, string> = { success: 'Done', failure: 'Failed', denied: 'Refused' };

/** The console's home, sites, their people, adding people, and each site's audit trail. */
export function sitePages(router: Router, page: PageContext): void {
  const { deps, config, render, pageForm, mailer } = page;
  importPages(router, page);
  router.get('/', async (ctx) => {
    const r = req(ctx);
    const list = await sitesInReach(deps, r, pageOf(ctx.query));
    await render(ctx, {
      template: 'admin/index',
      model: {
        title: 'Administration', sites: list.items, pages: pagination(ctx, list),
        maySearch: can(r.principal, 'user.search'), mayManagePortals: can(r.principal, 'client.manage'), mayAddSites: can(r.principal, 'site.add'),
        mayViewRollout: can(r.principal, 'rollout.view'),
      },
    });
  });

  async function siteForm(ctx: Koa.Context, model: { ods?: string; values: Record<string, string>; errors?: FieldError[] }, status = 200) {
    await render(ctx, {
      template: 'admin/site-form',
      model: {
        title: model.ods ? `Change ${model.ods}` : 'Add a site', isNew: !model.ods, kinds: SITE_KINDS,
        action: model.ods ? `${sitePath(model.ods)}/edit` : '/admin/sites', values: model.values, errors: model.errors ?? [],
      },
    }, status);
  }

  router.get('/sites/new', async (ctx) => {
    await authorize(deps, req(ctx).principal, 'site.add', {}, req(ctx));
    await siteForm(ctx, { values: { kind: 'pharmacy' } });
  });
  router.post('/sites', ...consoleForm(pageForm, (ctx, errors, status, values) => siteForm(ctx, { values, errors }, status)), async (ctx) => {
    const values = fieldsOf(ctx);
    await tryForm(async () => {
      const i = parseInput(siteInput, values);
      const site = await addSiteAsAdmin(deps, req(ctx), { ods: i.ods, name: i.name, kind: i.kind, address: i.address, userCap: i.user_cap });
      backTo(ctx, sitePath(site.ods), 'site-saved');
    }, (errors, status) => siteForm(ctx, { values, errors }, status));
  });

  async function sitePage(ctx: Koa.Context, errors: FieldError[] = [], status = 200, chosen: string[] = []) {
    const o = await siteOverview(deps, req(ctx), ctx.params.ods!, pageOf(ctx.query));
    await render(ctx, {
      template: 'admin/site',
      model: {
        title: o.site.name, site: o.site, warning: o.warning, done: doneMessage(ctx), pages: pagination(ctx, o.people), errors,
        people: o.people.items.map((p) => ({
          ...p, roleName: ROLE_NAMES[p.role], statusName: STATUS_NAMES[p.status], lastSignIn: when(p.lastSignInAt), chosen: chosen.includes(p.id),
        })),
        waiting: o.waiting.map((x) => ({ ...x, roleName: ROLE_NAMES[x.role], linked: when(x.since) })),
        mayAddPeople: o.mayAddPeople, mayLinkPeople: o.mayLinkPeople, mayChangeSite: o.mayChangeSite, path: sitePath(o.site.ods),
        // Choosing several people at once is for whoever adds people here (their reach is checked for each one).
        mayChooseSeveral: o.mayAddPeople && o.people.items.length > 0,
      },
    }, status);
  }

  router.get('/sites/:ods', (ctx) => sitePage(ctx));
  bulkPages(router, { deps, render, pageForm }, sitePage);

  router.get('/sites/:ods/edit', async (ctx) => {
    const site = await siteForChanging(deps, req(ctx), ctx.params.ods!);
    await siteForm(ctx, { ods: site.ods, values: { name: site.name, address: site.address ?? '', user_cap: site.userCap?.toString() ?? '' } });
  });
  router.post('/sites/:ods/edit', ...consoleForm(pageForm, (ctx, errors, status, values) => siteForm(ctx, { ods: ctx.params.ods!.toUpperCase(), values, errors }, status)), async (ctx) => {
    const values = fieldsOf(ctx);
    const ods = ctx.params.ods!;
    await tryForm(async () => {
      const i = parseInput(siteUpdate, values);
      const site = await updateSiteAsAdmin(deps, req(ctx), ods, { name: i.name, address: i.address ?? null, userCap: i.user_cap ?? null });
      backTo(ctx, sitePath(site.ods), 'site-saved');
    }, (errors, status) => siteForm(ctx, { ods: ods.toUpperCase(), values, errors }, status));
  });

  async function personForm(ctx: Koa.Context, errors: FieldError[] = [], values: Record<string, string> = {}, status = 200) {
    const o = await siteOverview(deps, req(ctx), ctx.params.ods!, { perPage: 1 });
    await render(ctx, {
      template: 'admin/person-new',
      model: {
        title: `Add a person to ${o.site.name}`, site: o.site, path: sitePath(o.site.ods), errors, values,
        mayAddPeople: o.mayAddPeople, mayLinkPeople: o.mayLinkPeople, roles: ROLE_NAMES,
        askOnePerson: errors.some((e) => e.field === 'email') && values.email !== undefined && findGenericMailbox(values.email, o.site.ods) !== undefined,
      },
    }, status);
  }

  router.get('/sites/:ods/people/new', (ctx) => personForm(ctx));
  router.post('/sites/:ods/people', ...consoleForm(pageForm, (ctx, errors, status, values) => personForm(ctx, errors, values, status)), async (ctx) => {
    const values = fieldsOf(ctx);
    await tryForm(async () => {
      const i = parseInput(personInput, values);
      const r = await addPerson(deps, req(ctx), ctx.params.ods!, { ...i, onePersonOnly: i.one_person });
      const emailed = await mailActivationCode(mailer, config.issuer, r.user, r.activationCode, 'new-account');
      await render(ctx, {
        template: 'admin/code-shown',
        model: {
          title: 'Person added', heading: `${r.user.name} has been added to ${r.site.name}`, email: r.user.email, code: r.activationCode,
          emailed, back: sitePath(r.site.ods_code), backText: `Back to ${r.site.name}`,
        },
      }, 201);
    }, (errors, status) => personForm(ctx, errors, values, status));
  });
  /** The locum form shares the add-person page: its email field is called locum_email there. */
  const locumForm = (ctx: Koa.Context, errors: FieldError[], status: number, values: Record<string, string>) =>
    personForm(ctx, errors.map((e) => ({ ...e, field: e.field === 'email' ? 'locum_email' : e.field })), { locum_email: values.email ?? '' }, status);
  router.post('/sites/:ods/locums', ...consoleForm(pageForm, locumForm), async (ctx) => {
    const values = fieldsOf(ctx);
    await tryForm(async () => {
      const i = parseInput(locumInput, values);
      const r = await linkPerson(deps, req(ctx), { email: i.email }, { site: ctx.params.ods!, role: i.role });
      if (r.waiting) backTo(ctx, sitePath(r.site.ods_code), 'link-waiting');
      else backTo(ctx, `/admin/people/${r.user.id}`, 'linked');
    }, (errors, status) => locumForm(ctx, errors, status, values));
  });

  router.get('/sites/:ods/audit', async (ctx) => {
    const filters = queryOf(ctx.query);
    let errors: FieldError[] = [];
    const show = async (list?: Awaited<ReturnType<typeof siteAudit>>, status = 200) => {
      const o = await siteOverview(deps, req(ctx), ctx.params.ods!, { perPage: 1 });
      const csv = new URLSearchParams(Object.entries(filters).filter(([k]) => k !== 'page'));
      await render(ctx, {
        template: 'admin/audit',
        model: {
          title: `Audit trail: ${o.site.name}`, site: o.site, path: sitePath(o.site.ods), filters, errors,
          actions: AUDIT_ACTIONS, outcomes: OUTCOME_NAMES,
          entries: (list?.items ?? []).map((e) => ({
            id: e.id, action: e.action, outcome: e.outcome, outcomeName: OUTCOME_NAMES[e.outcome], sentence: e.sentence, ip: e.ip, when: when(e.occurredAt),
          })),
          pages: list ? pagination(ctx, list) : undefined, csvHref: `${sitePath(o.site.ods)}/audit.csv${csv.size ? `?${csv}` : ''}`,
        },
      }, status);
    };
    await tryForm(async () => {
      await show(await siteAudit(deps, req(ctx), ctx.params.ods!, parseInput(auditQuery, filters), pageOf(ctx.query)));
    }, async (e, status) => {
      errors = e;
      await show(undefined, status);
    });
  });
  router.get('/sites/:ods/audit.csv', async (ctx) => {
    const { filename, csv } = await siteAuditCsv(deps, req(ctx), ctx.params.ods!, parseInput(auditQuery, queryOf(ctx.query)));
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment(filename);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = csv;
  });
}
