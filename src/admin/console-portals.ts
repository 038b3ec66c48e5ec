import type Router from '@koa/router';
import type Koa from 'koa';
import type { PageContext } from '../http/pages.js';
import type { AdminRequest } from '../domain/admin/people.js';
import { disablePortal, portalsForAdmin, registerPortal, rotatePortalSecret } from '../domain/admin/portals.js';
import { authorize } from '../domain/authorization.js';
import type { RegisteredClient } from '../domain/clients.js';
import { parseInput, portalInput } from './schemas.js';
import { consoleForm } from './form-gate.js';
import { backTo, doneMessage, fieldsOf, tryForm, when, type FieldError } from './forms.js';

const req = (ctx: Koa.Context) => ctx.state.admin as AdminRequest;

/** Portals (relying parties): registering, rotating a secret, disabling. Superadmins only. */
export function portalPages(router: Router, { deps, render, pageForm }: PageContext): void {
  router.get('/portals', async (ctx) => {
    const portals = await portalsForAdmin(deps, req(ctx));
    await render(ctx, {
      template: 'admin/portals',
      model: { title: 'Portals', done: doneMessage(ctx), portals: portals.map((p) => ({ ...p, registered: when(p.created_at) })) },
    });
  });

  async function portalForm(ctx: Koa.Context, values: Record<string, string> = {}, errors: FieldError[] = [], status = 200) {
    await render(ctx, { template: 'admin/portal-new', model: { title: 'Register a portal', values, errors } }, status);
  }

  const secretShown = (ctx: Koa.Context, c: RegisteredClient, rotated: boolean) => render(ctx, {
    template: 'admin/secret-shown',
    model: { title: rotated ? 'New client secret' : 'Portal registered', portal: c, rotated },
  }, rotated ? 200 : 201);

  router.get('/portals/new', async (ctx) => {
    await authorize(deps, req(ctx).principal, 'client.manage', {}, req(ctx));
    await portalForm(ctx, { require_mfa: 'on' });
  });
  router.post('/portals', ...consoleForm(pageForm, (ctx, errors, status, values) => portalForm(ctx, values, errors, status)), async (ctx) => {
    const values = fieldsOf(ctx);
    await tryForm(async () => {
      const i = parseInput(portalInput, values);
      const c = await registerPortal(deps, req(ctx), {
        name: i.name, redirectUris: i.redirect_uris, postLogoutRedirectUris: i.post_logout_redirect_uris,
        backchannelLogoutUri: i.backchannel_logout_uri, firstParty: i.first_party ?? false, requireMfa: i.require_mfa ?? false,
      });
      await secretShown(ctx, c, false);
    }, (errors, status) => portalForm(ctx, values, errors, status));
  });
  router.post('/portals/:id/rotate-secret', ...pageForm, async (ctx) => {
    await secretShown(ctx, await rotatePortalSecret(deps, req(ctx), ctx.params.id!), true);
  });
  router.post('/portals/:id/disable', ...pageForm, async (ctx) => {
    await disablePortal(deps, req(ctx), ctx.params.id!, true);
    backTo(ctx, '/admin/portals', 'portal-disabled');
  });
  router.post('/portals/:id/enable', ...pageForm, async (ctx) => {
    await disablePortal(deps, req(ctx), ctx.params.id!, false);
    backTo(ctx, '/admin/portals', 'portal-enabled');
  });
}
