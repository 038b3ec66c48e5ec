import type Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import type { PageContext } from '../http/pages.js';
import type { AdminRequest } from '../domain/admin/people.js';
import { readinessCsv, rolloutOverview, setPolicyAsAdmin } from '../domain/admin/rollout.js';
import { REASON_WORDS } from '../domain/readiness.js';
import { ROLLOUT_STATES } from '../domain/rollout.js';
import { parseInput } from './schemas.js';
import { authorize, can } from '../domain/authorization.js';
import { listOutbox } from '../domain/outbox.js';
import { join } from 'node:path';
import { consoleForm } from './form-gate.js';
import { backTo, doneMessage, fieldsOf, tryForm, type FieldError } from './forms.js';

const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;

const DAY = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'Europe/London' });
export const dayOf = (d: Date | null) => (d ? DAY.format(d) : '');

export const STATE_NAMES: Record<string, string> = {
  off: 'Off: password only for people without an authenticator',
  announced: 'Announced: enrolment offered, can be put off',
  grace: 'Grace: enrolment at every sign-in, put off a few times at most',
  enforced: 'Enforced: everyone uses an authenticator',
};

export const policyInput = z.strictObject({
  scope: z.enum(['global', 'site', 'client'], { message: 'Choose what the policy covers' }),
  // A form sends every field: an empty one is not given (a global policy posted with an empty portal is global).
  site: z.string().trim().max(20, { message: 'Choose a site from the list' }).optional().transform((v) => v || undefined),
  client_id: z.string().trim().max(100, { message: 'Choose a portal from the list' }).optional().transform((v) => v || undefined),
  state: z.enum(ROLLOUT_STATES as [string, ...string[]], { message: 'Choose a state' }),
  enforce_on: z.string().trim().max(40).optional().transform((v) => v || undefined),
  max_skips: z.string().trim().regex(/^\d{0,3}$/, { message: 'Give a whole number of times' }).optional()
    .transform((v) => (v ? Number(v) : undefined)),
  // Once enforced: any second factor, or a passkey or security key (acr phr).
  require: z.enum(['mfa', 'phr'], { message: 'Choose what the policy requires' }).optional(),
});

/** /admin/rollout: MFA rollout policies and each site's readiness beside its enforcement date. */
export function rolloutPages(router: Router, { deps, config, render, pageForm, mailer }: PageContext): void {
  async function show(ctx: Koa.Context, errors: FieldError[] = [], values: Record<string, string> = {}, status = 200) {
    const o = await rolloutOverview(deps, req(ctx));
    await render(ctx, {
      template: 'admin/rollout',
      model: {
        title: 'MFA rollout', done: doneMessage(ctx), errors, values, states: STATE_NAMES, reasonWords: REASON_WORDS,
        policies: o.policies.map((p) => ({ ...p, enforceOnText: dayOf(p.enforceOn), stateName: STATE_NAMES[p.state] })),
        sites: o.sites.map((s) => ({ ...s, enforceOnText: dayOf(s.enforceOn), stateName: STATE_NAMES[s.state]?.split(':')[0] ?? s.state })),
        maySetGlobal: o.maySetGlobal, maySetPortals: o.maySetPortals, settableSites: o.settableSites, settablePortals: o.settablePortals,
        mayViewOutbox: can(req(ctx).principal, 'notices.view'),
        crumbs: [{ href: '/admin', text: 'Administration' }],
      },
    }, status);
  }

  router.get('/rollout', (ctx) => show(ctx));
  router.post('/rollout', ...consoleForm(pageForm, (ctx, errors, status, values) => show(ctx, errors, values, status)), async (ctx) => {
    const values = fieldsOf(ctx);
    await tryForm(async () => {
      const i = parseInput(policyInput, values);
      await setPolicyAsAdmin(deps, req(ctx), {
        scope: i.scope, site: i.site, clientId: i.client_id, state: i.state, enforceOn: i.enforce_on, maxSkips: i.max_skips,
        require: i.require,
      });
      backTo(ctx, '/admin/rollout', 'rollout-saved');
    }, (errors, status) => show(ctx, errors, values, status));
  });
  /** Notices written to the outbox folder when pharmid has no SMTP (superadmins: they name other people). */
  router.get('/outbox', async (ctx) => {
    await authorize(deps, req(ctx).principal, 'notices.view', {}, req(ctx));
    await render(ctx, {
      template: 'admin/outbox',
      model: {
        title: 'Notices sent', smtp: mailer?.kind === 'smtp', messages: await listOutbox(join(config.dataDir, 'outbox')),
        crumbs: [{ href: '/admin', text: 'Administration' }, { href: '/admin/rollout', text: 'MFA rollout' }],
      },
    });
  });

  router.get('/sites/:ods/readiness.csv', async (ctx) => {
    const { filename, csv } = await readinessCsv(deps, req(ctx), ctx.params.ods!);
    ctx.type = 'text/csv; charset=utf-8';
    ctx.attachment(filename);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = csv;
  });
}
