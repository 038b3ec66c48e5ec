import { withTransaction } from '../db/pool.js';
import * as orgRoles from '../db/queries/org-roles.js';
import * as commissioned from '../db/queries/commissioned-sites.js';
import type { OrgRole, OrgRoleHolderRow } from '../db/queries/org-roles.js';
import type { SiteRow } from '../db/queries/sites.js';
import { authorize } from './authorization.js';
import { InvalidInput, NotFound } from './errors.js';
import { requireUser } from './users.js';
import { requireSite } from './sites.js';
import { audit } from './audit.js';
import type { AdminRequest } from './admin/people.js';
import type { Deps } from './deps.js';

export const ORG_ROLES: readonly OrgRole[] = ['helpdesk', 'commissioner', 'superadmin'];

function checkOrgRole(role: string): OrgRole {
  if (!ORG_ROLES.includes(role as OrgRole)) throw new InvalidInput(`role must be one of ${ORG_ROLES.join(', ')}`, 'role');
  return role as OrgRole;
}

/** Grants an organisation-wide role; a commissioner's sites are added to those they have. */
export async function grantOrgRole(deps: Deps, r: AdminRequest, input: { email: string; role: string; sites?: string[] }) {
  const role = checkOrgRole(input.role);
  const odsCodes = input.sites ?? [];
  if (role === 'commissioner' && odsCodes.length === 0) throw new InvalidInput('A commissioner needs at least one site: --site CODE', 'site');
  if (role !== 'commissioner' && odsCodes.length > 0) throw new InvalidInput(`A ${role} reaches every site: give no --site`, 'site');
  await authorize(deps, r.principal, 'org-role.grant', {}, r);
  const user = await requireUser(deps, input.email);
  const sites: SiteRow[] = [];
  for (const ods of odsCodes) sites.push(await requireSite(deps, ods));
  await withTransaction(deps.db, async (tx) => {
    await orgRoles.insertOrgRole(tx, user.id, role);
    for (const site of sites) await commissioned.insertCommissionedSite(tx, user.id, site.id);
    await audit(tx, r.principal.actor, {
      action: 'org-role.grant', outcome: 'success', targetUser: user.id, ip: r.ip, details: { role, sites: sites.map((s) => s.ods_code) },
    });
  });
  return { user, role, sites: sites.map((s) => s.ods_code) };
}

/** Takes a role away; for a commissioner, `sites` takes away only those sites (all of them without). */
export async function revokeOrgRole(deps: Deps, r: AdminRequest, input: { email: string; role: string; sites?: string[] }) {
  const role = checkOrgRole(input.role);
  await authorize(deps, r.principal, 'org-role.grant', {}, r);
  const user = await requireUser(deps, input.email);
  const sites: SiteRow[] = [];
  for (const ods of input.sites ?? []) sites.push(await requireSite(deps, ods));
  await withTransaction(deps.db, async (tx) => {
    if (role === 'commissioner') {
      await commissioned.deleteCommissionedSites(tx, user.id, sites.length ? sites.map((s) => s.id) : null);
      const left = await commissioned.listCommissionedSiteIds(tx, user.id);
      if (left.length === 0) await orgRoles.deleteOrgRole(tx, user.id, role);
    } else if (!(await orgRoles.deleteOrgRole(tx, user.id, role))) {
      throw new NotFound(`${user.email} is not ${role}`);
    }
    await audit(tx, r.principal.actor, {
      action: 'org-role.revoke', outcome: 'success', targetUser: user.id, ip: r.ip, details: { role, sites: sites.map((s) => s.ods_code) },
    });
  });
  return { user, role };
}

export async function listOrgRoleHolders(deps: Deps, r: AdminRequest): Promise<OrgRoleHolderRow[]> {
  await authorize(deps, r.principal, 'org-role.grant', {}, r);
  return orgRoles.listOrgRoleHolders(deps.db);
}
