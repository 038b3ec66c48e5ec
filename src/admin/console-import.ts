import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import type { Person } from '../http/own-portal.js';
import type { AdminRequest } from '../domain/admin/people.js';
import { applyCheckedImport, checkImport, MAX_IMPORT_BYTES } from '../domain/admin/import.js';
import type { ImportReport, ImportedPerson } from '../domain/user-import.js';
import { mailActivationCode } from '../domain/code-mail.js';
import { InvalidInput } from '../domain/errors.js';
import { sitesInReach } from '../domain/admin/sites.js';
import { readUpload, type Upload } from './upload.js';
import { consoleForm } from './form-gate.js';
import { fieldsOf, ROLE_NAMES, tryForm, type FieldError } from './forms.js';

const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;
const sessionOf = (ctx: Koa.Context) => (ctx.state.person as Person).sessionId;
const crumbs = [{ href: '/admin', text: 'Administration' }];

/** What a row of a checked file will do, in words. */
function willDo(p: ImportedPerson): string {
  const role = ROLE_NAMES[p.role]?.toLowerCase() ?? p.role;
  if (p.waiting) return `Already has a pharmid account elsewhere: pharmid will ask them to confirm they work at ${p.site}, as a ${role}`;
  if (p.existing) return `Already has a pharmid account: will be added to ${p.site} as a ${role}, with the same sign-in`;
  return `Will be added to ${p.site} as a ${role}, with an activation code`;
}

/**
 * /admin/import: people from a CSV file (email,name,site[,role]), as `pharmid
 * user import` takes it. First a dry run that lists what each row would do or
 * what is wrong with it; then "Apply", which writes the file that was checked
 * (kept server-side for this administrator and sign-in), never one sent again.
 */
export function importPages(router: Router, { deps, config, render, pageForm, mailer }: PageContext): void {
  async function form(ctx: Koa.Context, errors: FieldError[] = [], status = 200) {
    // The ODS codes to put in the site column: the sites where the administrator may add people.
    const sites = (await sitesInReach(deps, req(ctx), { perPage: 20 })).items;
    await render(ctx, {
      template: 'admin/import',
      model: {
        title: 'Add people from a spreadsheet', errors, crumbs, maxSize: `${MAX_IMPORT_BYTES / 1024 / 1024} MB`,
        sites: sites.map((s) => ({ ods: s.ods, name: s.name })), example: sites[0]?.ods ?? 'FA123',
      },
    }, status);
  }

  async function findings(ctx: Koa.Context, report: ImportReport, token: string | undefined, status: number) {
    await render(ctx, {
      template: 'admin/import-check',
      model: {
        title: report.problems.length ? 'Fix these rows first' : 'Check the people to add',
        rows: report.rows, token,
        people: report.people.map((p) => ({ ...p, willDo: willDo(p) })),
        problems: report.problems,
        crumbs: [...crumbs, { href: '/admin/import', text: 'Add people from a spreadsheet' }],
      },
    }, status);
  }

  router.get('/import', (ctx) => form(ctx));
  // A post over the limit was not read, so its form token was not either: the answer only shows the form again, and changes nothing.
  const tooLarge: Koa.Middleware = async (ctx, next) => {
    if (!(ctx.state.upload as Upload | undefined)?.tooLarge) return next();
    await form(ctx, [{ field: 'file', message: `The file is too large: at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB. Split it into smaller files and add each one.` }], 413);
  };

  const gate = consoleForm(pageForm, (ctx, errors, status) => form(ctx, errors.map((e) => ({ ...e, field: 'file' })), status));
  router.post('/import', readUpload(MAX_IMPORT_BYTES), tooLarge, ...gate, async (ctx) => {
    const upload = (ctx.state.upload ?? { tooLarge: false }) as Upload;
    await tryForm(async () => {
      const pasted = upload.pasted && upload.pasted.toString('utf8').trim() ? upload.pasted : undefined;
      if (upload.file && pasted) throw new InvalidInput('Choose a file or paste the list, not both', 'file');
      const bytes = upload.file ?? pasted;
      if (!bytes) throw new InvalidInput('Choose a CSV file, or paste the list of people', 'file');
      const { report, token } = await checkImport(deps, req(ctx), sessionOf(ctx), bytes);
      await findings(ctx, report, token, report.problems.length ? 422 : 200);
    }, (errors, status) => form(ctx, errors.map((e) => ({ ...e, field: e.field ?? 'file' })), status));
  });

  router.post('/import/apply', ...gate, async (ctx) => {
    const { token } = fieldsOf(ctx);
    await tryForm(async () => {
      const report = await applyCheckedImport(deps, req(ctx), sessionOf(ctx), token ?? '');
      if (!report.written) return findings(ctx, report, undefined, 409);
      const added = [];
      for (const p of report.people) {
        const emailed = p.activation_code ? await mailActivationCode(mailer, config.issuer, p, p.activation_code, 'new-account') : false;
        added.push({ ...p, emailed, roleName: ROLE_NAMES[p.role] ?? p.role });
      }
      await render(ctx, { template: 'admin/import-done', model: { title: 'People added', people: added, crumbs } }, 201);
    }, (errors, status) => form(ctx, errors.map((e) => ({ ...e, field: 'file' })), status));
  });
}
