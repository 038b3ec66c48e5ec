import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import type { AdminRequest } from '../domain/admin/people.js';
import { applyBulk, planBulk, type BulkPlan } from '../domain/admin/bulk.js';
import { PharmidError } from '../domain/errors.js';
import { consoleForm } from './form-gate.js';
import { fieldsOf, tryForm, type FieldError } from './forms.js';

const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;
const sitePath = (ods: string) => `/admin/sites/${encodeURIComponent(ods)}`;

/**
 * The people ticked on the site's list: the repeated `person` field (one or
 * many). The form parser (qs) gives more than 20 repeats as an object keyed
 * 0, 1, 2...: its values are the list all the same.
 */
function chosenOf(ctx: Koa.Context): string[] {
  const v = (ctx.request.body as Record<string, unknown> | undefined)?.person;
  const list = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : v === undefined ? [] : [v];
  return list.filter((x): x is string => typeof x === 'string').slice(0, 1000);
}

const HEADINGS: Record<string, { confirm: (n: number) => string; button: string; done: (n: number) => string }> = {
  'send-codes': {
    confirm: (n) => `Send a new activation code to ${n === 1 ? 'this person' : `these ${n} people`}?`,
    button: 'Send the activation codes',
    done: (n) => `Activation codes sent to ${n} ${n === 1 ? 'person' : 'people'}`,
  },
  disable: {
    confirm: (n) => `Disable ${n === 1 ? 'this person' : `these ${n} people`}?`,
    button: 'Disable them',
    done: (n) => `${n} ${n === 1 ? 'person' : 'people'} disabled`,
  },
};

type SitePage = (ctx: Koa.Context, errors?: FieldError[], status?: number, chosen?: string[]) => Promise<void>;

/**
 * Several people of a site at once: ticked on the site's list, shown on a
 * confirmation page that names each one and says what will happen, then done.
 * Nothing is done by the first post.
 */
export function bulkPages(router: Router, { render, pageForm, deps }: Pick<PageContext, 'render' | 'pageForm' | 'deps'>, sitePage: SitePage): void {
  async function confirm(ctx: Koa.Context, plan: BulkPlan, chosen: string[], errors: FieldError[] = [], status = 200) {
    const h = HEADINGS[plan.act]!;
    await render(ctx, {
      template: 'admin/bulk-confirm',
      model: {
        title: h.confirm(plan.ready.length), heading: h.confirm(plan.ready.length), button: h.button, plan, chosen, errors,
        action: `${sitePath(plan.site.ods)}/people/bulk/confirm`, back: sitePath(plan.site.ods),
        crumbs: [{ href: '/admin', text: 'Administration' }, { href: sitePath(plan.site.ods), text: plan.site.name }],
      },
    }, status);
  }

  const gate = consoleForm(pageForm, (ctx, errors, status) => sitePage(ctx, errors, status));
  router.post('/sites/:ods/people/bulk', ...gate, async (ctx) => {
    const chosen = chosenOf(ctx);
    await tryForm(async () => {
      const plan = await planBulk(deps, req(ctx), ctx.params.ods!, fieldsOf(ctx).act ?? '', chosen);
      // Someone out of reach stops the batch before anything is asked: a conflict to resolve on the list.
      await confirm(ctx, plan, chosen, [], plan.refused.length || plan.unknown ? 409 : 200);
    }, (errors, status) => sitePage(ctx, errors, status, chosen));
  });

  router.post('/sites/:ods/people/bulk/confirm', ...gate, async (ctx) => {
    const chosen = chosenOf(ctx);
    const act = fieldsOf(ctx).act ?? '';
    await tryForm(async () => {
      const done = await applyBulk(deps, req(ctx), ctx.params.ods!, act, chosen);
      await render(ctx, {
        template: 'admin/bulk-done',
        model: {
          title: HEADINGS[done.act]!.done(done.ready.length), heading: HEADINGS[done.act]!.done(done.ready.length), act: done.act, done,
          back: sitePath(done.site.ods), siteName: done.site.name,
          crumbs: [{ href: '/admin', text: 'Administration' }, { href: sitePath(done.site.ods), text: done.site.name }],
        },
      });
    }, async (errors, status) => {
      // Shown again with why nothing was done, and who is concerned, when the choice can still be read.
      try {
        await confirm(ctx, await planBulk(deps, req(ctx), ctx.params.ods!, act, chosen), chosen, errors, status);
      } catch (e) {
        if (!(e instanceof PharmidError) || e.status === 403 || e.status >= 500) throw e;
        await sitePage(ctx, errors, status, chosen);
      }
    });
  });
}
