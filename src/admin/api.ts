import Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import { InvalidInput, NotFound, PharmidError, TooLarge } from '../domain/errors.js';
import { importUsers } from '../domain/user-import.js';
import { MAX_IMPORT_BYTES } from '../domain/admin/import.js';
import { readLimited } from './upload.js';
import {
  addPerson, changePersonRole, disablePerson, enablePerson, linkPerson, resetPersonMfa, resetPersonPassword,
  searchPeople, unlinkPerson, unlockPerson, viewPerson, type AdminRequest,
} from '../domain/admin/people.js';
import { addSiteAsAdmin, siteOverview, sitesInReach, updateSiteAsAdmin } from '../domain/admin/sites.js';
import { siteAudit, siteAuditCsv } from '../domain/admin/audit-trail.js';
import { disablePortal, portalsForAdmin, registerPortal, rotatePortalSecret } from '../domain/admin/portals.js';
import { supportedSiteIds } from '../domain/authorization.js';
import type { ResetOutcome } from '../domain/users.js';
import { readinessCsv, rolloutOverview, setPolicyAsAdmin } from '../domain/admin/rollout.js';
import { policyInput } from './console-rollout.js';
import { personFactors } from '../domain/factors/summary.js';
import { factorsJson } from './present-factors.js';
import { bearerPerson } from './bearer.js';
import { parseJson } from '../http/input.js';
import { changePersonDetails, sendNewActivationCode } from '../domain/admin/person-changes.js';
import { auditQuery, detailsInput, linkInput, locumInput, noInput, pageOf, parseInput, personInput, portalInput, queryOf, roleInput, searchQuery, siteInput, siteUpdate } from './schemas.js';
import { auditJson, pageJson, personJson, personSummaryJson, portalJson, siteJson, sitePersonJson, waitingJson, WAITING_MESSAGE } from './present.js';

/** Errors as JSON with the field at fault; a 401 says how to authenticate (RFC 6750). */
const jsonErrors: Koa.Middleware = async (ctx, next) => {
  try {
    await next();
  } catch (err) {
    if (!(err instanceof PharmidError)) throw err;
    ctx.status = err.status;
    if (err.status === 401) ctx.set('WWW-Authenticate', 'Bearer realm="pharmid", error="invalid_token"');
    ctx.body = { error: err.code, error_description: err.message, ...(err.field ? { field: err.field } : {}) };
  }
};


/**
 * /api/admin: the admin console's acts as JSON, one to one, for people's
 * scripts and tools. Bearer tokens that pharmid issued (see bearer.ts); the
 * same domain functions, so the same authorization module, as the console.
 *
 *   GET    /me                                 who the token speaks for
 *   GET    /sites  · POST /sites               sites in reach (paged) · add a site (superadmin)
 *   GET    /sites/:ods · PATCH /sites/:ods     a site and its administrator warning · name, address, user_cap
 *   GET    /sites/:ods/people                  people with status, role, enrolled, last sign-in (paged)
 *   POST   /sites/:ods/people                  {email, name, role?, one_person?} (a shared-looking mailbox needs one_person: true) → 201 with activation_code (shown once)
 *   POST   /sites/:ods/locums                  {email, role?}: someone who has an account works here too; unless the
 *                                       caller looks after all their sites, it waits for them to confirm (status, message)
 *   GET    /sites/:ods/audit[.csv]             ?action=&outcome=&email=&from=&to= (paged; CSV up to 10,000 rows)
 *   GET    /people?q=  · GET /people/:id       search across reach (paged) · one person, with `factors` (authenticator app since,
 *                                       passkeys by name with last use, recovery codes left)
 *   POST   /people/:id/{reset-password,reset-mfa} → activation_code (shown once), or code_emailed_to when the
 *                                       person also works beyond the caller's reach (the code goes to them alone)
 *   POST   /people/:id/activation-code       a new activation code for someone not yet activated (shown, or emailed as above)
 *   PATCH  /people/:id                         {name?, email?, one_person?}: only over every one of their sites; told at both addresses
 *   POST   /people/:id/{unlock,disable,enable}
 *   POST   /people/:id/sites {site, role?} · PATCH|DELETE /people/:id/sites/:ods {role}
 *   GET    /portals · POST /portals            superadmin; POST → 201 with client_secret (shown once)
 *   POST   /portals/:id/{rotate-secret,disable,enable}
 *   GET    /rollout · POST /rollout            policies and readiness in reach · {scope, site?, client_id?, state, enforce_on?, max_skips?, require? (mfa|phr)}
 *   GET    /sites/:ods/readiness.csv           who is not ready at a site, and why
 *   POST   /import[?dry_run=true]              a CSV body (text/csv, at most 1 MB; email,name,site[,role]) as
 *                                       `pharmid user import` takes it: 200 dry run, 201 written (codes shown once),
 *                                       422 with the problems and nothing written
 *
 * Lists take ?page= (from 1) and ?per_page= (1 to 100, 50 by default) and
 * answer {items, page, per_page, total}. Errors: {error, error_description, field?}.
 */
export function adminApi({ deps, provider }: PageContext): Router {
  const router = new Router({ prefix: '/api/admin' });
  router.use(jsonErrors);
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  if (!provider) throw new Error('the admin API needs the provider to check its tokens');
  router.use(bearerPerson(deps, provider));
  // Bad bytes in any field are refused here, for every route (src/http/input.ts).
  router.use(...parseJson());
  const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;
  const body = (ctx: Koa.Context) => ctx.request.body;
  const q = (ctx: Koa.Context) => queryOf(ctx.query);

  /** Who the token speaks for, and how far they reach (their sites are at GET /sites). */
  router.get('/me', async (ctx) => {
    const { principal: p } = req(ctx);
    const roles = [p.superadmin && 'superadmin', p.helpdesk && 'helpdesk', p.commissionerOf.size > 0 && 'commissioner'].filter(Boolean);
    ctx.body = { id: p.userId, org_roles: roles, every_site: supportedSiteIds(p) === null };
  });

  router.get('/sites', async (ctx) => {
    ctx.body = pageJson(await sitesInReach(deps, req(ctx), pageOf(ctx.query)), siteJson);
  });
  router.post('/sites', async (ctx) => {
    const i = parseInput(siteInput, body(ctx));
    ctx.status = 201;
    ctx.body = siteJson(await addSiteAsAdmin(deps, req(ctx), { ods: i.ods, name: i.name, kind: i.kind, address: i.address, userCap: i.user_cap }));
  });
  router.get('/sites/:ods', async (ctx) => {
    const o = await siteOverview(deps, req(ctx), ctx.params.ods!, { perPage: 1 });
    ctx.body = { ...siteJson(o.site), warning: o.warning ?? null };
  });
  router.patch('/sites/:ods', async (ctx) => {
    const i = parseInput(siteUpdate, body(ctx));
    ctx.body = siteJson(await updateSiteAsAdmin(deps, req(ctx), ctx.params.ods!, { name: i.name, address: i.address, userCap: i.user_cap }));
  });
  router.get('/sites/:ods/people', async (ctx) => {
    const o = await siteOverview(deps, req(ctx), ctx.params.ods!, pageOf(ctx.query));
    ctx.body = { ...pageJson(o.people, sitePersonJson), waiting: o.waiting.map(waitingJson), warning: o.warning ?? null };
  });
  router.post('/sites/:ods/people', async (ctx) => {
    const i = parseInput(personInput, body(ctx));
    const r = await addPerson(deps, req(ctx), ctx.params.ods!, { ...i, onePersonOnly: i.one_person });
    ctx.status = 201;
    ctx.body = { id: r.user.id, email: r.user.email, name: r.user.name, status: r.user.status, site: r.site.ods_code, role: r.role, activation_code: r.activationCode };
  });
  router.post('/sites/:ods/locums', async (ctx) => {
    const i = parseInput(locumInput, body(ctx));
    const r = await linkPerson(deps, req(ctx), { email: i.email }, { site: ctx.params.ods!, role: i.role });
    ctx.status = 201;
    ctx.body = linkJson(r);
  });
  /** A link made, or waiting for the person to confirm it (they do not work at the site until then). */
  const linkJson = (r: Awaited<ReturnType<typeof linkPerson>>) => ({
    id: r.user.id, email: r.user.email, site: r.site.ods_code, role: r.role,
    ...(r.waiting ? { status: 'waiting for the person to confirm', message: WAITING_MESSAGE(r.user.email, r.site.ods_code) } : {}),
  });
  router.get('/sites/:ods/audit', async (ctx) => {
    ctx.body = pageJson(await siteAudit(deps, req(ctx), ctx.params.ods!, parseInput(auditQuery, q(ctx)), pageOf(ctx.query)), auditJson);
  });
  router.get('/sites/:ods/audit.csv', async (ctx) => {
    const { filename, csv } = await siteAuditCsv(deps, req(ctx), ctx.params.ods!, parseInput(auditQuery, q(ctx)));
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment(filename);
    ctx.body = csv;
  });

  router.get('/rollout', async (ctx) => {
    const o = await rolloutOverview(deps, req(ctx));
    ctx.body = {
      policies: o.policies.map((p) => ({
        scope: p.scope, site: p.site, client_id: p.clientId, state: p.state, enforce_on: p.enforceOn?.toISOString() ?? null, max_skips: p.maxSkips,
        require: p.require,
      })),
      sites: o.sites.map((s) => ({
        ods: s.ods, name: s.name, people: s.people, ready: s.ready, counts: s.counts, state: s.state,
        enforce_on: s.enforceOn?.toISOString() ?? null, not_ready: s.notReady,
      })),
    };
  });
  router.post('/rollout', async (ctx) => {
    const raw = body(ctx) as Record<string, unknown> | undefined;
    const i = parseInput(policyInput, raw && typeof raw.max_skips === 'number' ? { ...raw, max_skips: String(raw.max_skips) } : raw);
    const p = await setPolicyAsAdmin(deps, req(ctx), {
      scope: i.scope, site: i.site, clientId: i.client_id, state: i.state, enforceOn: i.enforce_on, maxSkips: i.max_skips,
      require: i.require,
    });
    ctx.body = { scope: p.scope, state: p.state, enforce_on: p.enforce_on?.toISOString() ?? null, max_skips: p.max_skips, require: p.require };
  });
  router.get('/sites/:ods/readiness.csv', async (ctx) => {
    const { filename, csv } = await readinessCsv(deps, req(ctx), ctx.params.ods!);
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment(filename);
    ctx.body = csv;
  });
  router.post('/import', async (ctx) => {
    if (!ctx.is('text/csv', 'text/plain')) throw new InvalidInput('Send the file as the body, with Content-Type: text/csv');
    const declared = Number(ctx.get('content-length') || 0);
    const bytes = declared > MAX_IMPORT_BYTES ? undefined : await readLimited(ctx.req, MAX_IMPORT_BYTES);
    if (!bytes) {
      if (declared > MAX_IMPORT_BYTES) ctx.req.resume();
      throw new TooLarge(`The file is too large: at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB. Split it into smaller files.`);
    }
    const dryRun = ['true', '1', 'yes'].includes(String(ctx.query.dry_run ?? ''));
    const report = await importUsers(deps, req(ctx), bytes, { dryRun });
    ctx.status = report.problems.length ? 422 : report.written ? 201 : 200;
    ctx.body = report;
  });

  router.get('/people', async (ctx) => {
    const { q: text } = parseInput(searchQuery, q(ctx));
    ctx.body = pageJson(await searchPeople(deps, req(ctx), text ?? '', pageOf(ctx.query)), personSummaryJson);
  });
  router.get('/people/:id', async (ctx) => {
    const person = await viewPerson(deps, req(ctx), ctx.params.id!);
    ctx.body = { ...personJson(person), factors: factorsJson(await personFactors(deps, req(ctx), person.id)) };
  });
  /** A reset answers with the code (shown once), or, for a person not entirely in reach, where it was emailed instead. */
  const resetJson = (r: ResetOutcome) => (r.activationCode !== undefined
    ? { id: r.user.id, email: r.user.email, activation_code: r.activationCode }
    : { id: r.user.id, email: r.user.email, code_emailed_to: r.emailedTo, message: `We emailed the code to ${r.emailedTo}: it is not shown to you, because they also work at a site you do not look after.` });
  router.post('/people/:id/reset-password', async (ctx) => {
    parseInput(noInput, body(ctx));
    ctx.body = resetJson(await resetPersonPassword(deps, req(ctx), ctx.params.id!));
  });
  router.post('/people/:id/reset-mfa', async (ctx) => {
    parseInput(noInput, body(ctx));
    ctx.body = resetJson(await resetPersonMfa(deps, req(ctx), ctx.params.id!));
  });
  router.post('/people/:id/activation-code', async (ctx) => {
    parseInput(noInput, body(ctx));
    ctx.body = resetJson(await sendNewActivationCode(deps, req(ctx), ctx.params.id!));
  });
  router.patch('/people/:id', async (ctx) => {
    const i = parseInput(detailsInput, body(ctx));
    const { user, changed } = await changePersonDetails(deps, req(ctx), ctx.params.id!, { name: i.name, email: i.email, onePersonOnly: i.one_person });
    ctx.body = { id: user.id, email: user.email, name: user.name, changed };
  });
  const simple = { unlock: unlockPerson, disable: disablePerson, enable: enablePerson } as const;
  for (const [name, act] of Object.entries(simple)) {
    router.post(`/people/:id/${name}`, async (ctx) => {
      parseInput(noInput, body(ctx));
      const user = await act(deps, req(ctx), ctx.params.id!);
      ctx.body = { id: user.id, email: user.email, status: user.status, done: name };
    });
  }
  router.post('/people/:id/sites', async (ctx) => {
    const i = parseInput(linkInput, body(ctx));
    const r = await linkPerson(deps, req(ctx), { id: ctx.params.id! }, i);
    ctx.status = 201;
    ctx.body = linkJson(r);
  });
  router.patch('/people/:id/sites/:ods', async (ctx) => {
    const { role } = parseInput(roleInput, body(ctx));
    ctx.body = { id: ctx.params.id, site: ctx.params.ods!.toUpperCase(), role: await changePersonRole(deps, req(ctx), ctx.params.id!, ctx.params.ods!, role) };
  });
  router.delete('/people/:id/sites/:ods', async (ctx) => {
    await unlinkPerson(deps, req(ctx), ctx.params.id!, ctx.params.ods!);
    ctx.status = 204;
  });

  router.get('/portals', async (ctx) => {
    ctx.body = { items: (await portalsForAdmin(deps, req(ctx))).map(portalJson) };
  });
  router.post('/portals', async (ctx) => {
    const i = parseInput(portalInput, body(ctx));
    ctx.status = 201;
    ctx.body = portalJson(await registerPortal(deps, req(ctx), {
      name: i.name, redirectUris: i.redirect_uris, postLogoutRedirectUris: i.post_logout_redirect_uris,
      backchannelLogoutUri: i.backchannel_logout_uri, firstParty: i.first_party, requireMfa: i.require_mfa,
    }));
  });
  router.post('/portals/:id/rotate-secret', async (ctx) => {
    parseInput(noInput, body(ctx));
    ctx.body = portalJson(await rotatePortalSecret(deps, req(ctx), ctx.params.id!));
  });
  router.post('/portals/:id/disable', async (ctx) => {
    parseInput(noInput, body(ctx));
    await disablePortal(deps, req(ctx), ctx.params.id!, true);
    ctx.body = { client_id: ctx.params.id, disabled: true };
  });
  router.post('/portals/:id/enable', async (ctx) => {
    parseInput(noInput, body(ctx));
    await disablePortal(deps, req(ctx), ctx.params.id!, false);
    ctx.body = { client_id: ctx.params.id, disabled: false };
  });
  router.all('/{*rest}', () => {
    throw new NotFound('No such admin API endpoint (nor method)');
  });
  return router;
}
