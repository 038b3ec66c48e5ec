import * as memberships from '../db/queries/memberships.js';
import * as orgRoles from '../db/queries/org-roles.js';
import * as commissioned from '../db/queries/commissioned-sites.js';
import type { SiteRole } from '../db/queries/memberships.js';
import type { OrgRole } from '../db/queries/org-roles.js';
import { Forbidden } from './errors.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';

/**
 * The one place that decides who may do what in administration. The console,
 * the admin API and the CLI all ask here; no route checks a role itself.
 *
 * Reach, from widest: a superadmin administers everything (portals too); the
 * helpdesk supports every site; a commissioner supports their sites; a
 * site-admin administers their sites. "Support" is seeing people and the
 * trail, linking people, and resets; "administer" adds creating people,
 * roles, removing people from a site, disabling and enabling.
 */
export type Act =
  | 'console.open' | 'site.view' | 'site.audit' | 'site.add' | 'site.update'
  | 'user.search' | 'user.view' | 'user.add' | 'user.link' | 'user.unlink' | 'user.role'
  | 'user.reset-password' | 'user.reset-mfa' | 'user.unlock' | 'user.disable' | 'user.enable'
  | 'client.manage' | 'org-role.grant'
  | 'rollout.view' | 'rollout.set-global' | 'rollout.set-site' | 'rollout.set-portal' | 'readiness.view' | 'notices.view';

export interface Principal {
  actor: Actor;
  /** The CLI operator: allowed everything. */
  operator: boolean;
  userId?: string;
  superadmin: boolean;
  helpdesk: boolean;
  /** Site ids. */
  commissionerOf: ReadonlySet<string>;
  /** Site id → the principal's own role there. */
  siteRoles: ReadonlyMap<string, SiteRole>;
}

/** The person an act is about: their organisation-wide roles and their sites. */
export interface PersonTarget { id: string; orgRoles: readonly OrgRole[]; sites: ReadonlyMap<string, SiteRole> }

export interface Target { siteId?: string; person?: PersonTarget; role?: SiteRole }

export const OPERATOR: Principal = Object.freeze({
  actor: { kind: 'cli' as const }, operator: true, superadmin: true, helpdesk: true, commissionerOf: new Set<string>(), siteRoles: new Map<string, SiteRole>(),
});

export async function loadPrincipal(deps: Deps, userId: string): Promise<Principal> {
  const [mine, roles, sites] = await Promise.all([
    memberships.listMembershipsOfUser(deps.db, userId),
    orgRoles.listOrgRolesOfUser(deps.db, userId),
    commissioned.listCommissionedSiteIds(deps.db, userId),
  ]);
  return {
    actor: { kind: 'user', id: userId },
    operator: false,
    userId,
    superadmin: roles.includes('superadmin'),
    helpdesk: roles.includes('helpdesk'),
    commissionerOf: new Set(roles.includes('commissioner') ? sites : []),
    siteRoles: new Map(mine.map((m) => [m.site_id, m.role])),
  };
}

export async function loadPersonTarget(deps: Deps, userId: string): Promise<PersonTarget> {
  const [mine, roles] = await Promise.all([memberships.listMembershipsOfUser(deps.db, userId), orgRoles.listOrgRolesOfUser(deps.db, userId)]);
  return { id: userId, orgRoles: roles, sites: new Map(mine.map((m) => [m.site_id, m.role])) };
}

export function administers(p: Principal, siteId: string | undefined): boolean {
  if (p.operator || p.superadmin) return true;
  return siteId !== undefined && p.siteRoles.get(siteId) === 'site-admin';
}

export function supports(p: Principal, siteId: string | undefined): boolean {
  if (p.operator || p.superadmin || p.helpdesk) return true;
  return siteId !== undefined && (p.commissionerOf.has(siteId) || p.siteRoles.get(siteId) === 'site-admin');
}

/** The sites a principal supports: null for every site. */
export function supportedSiteIds(p: Principal): string[] | null {
  if (p.operator || p.superadmin || p.helpdesk) return null;
  const ids = new Set(p.commissionerOf);
  for (const [id, role] of p.siteRoles) if (role === 'site-admin') ids.add(id);
  return [...ids];
}

type Check = (p: Principal, t: Target) => true | string;

const NOT_YOUR_SITE = 'You can manage only the sites you look after.';
const NOT_YOUR_PERSON = 'This person does not work at a site you look after.';

const superadminOnly: Check = (p) => p.superadmin || 'Only a superadmin can do that.';
const anyReach: Check = (p) => supportedSiteIds(p)?.length !== 0 || 'You do not look after any site.';
const supportsSite: Check = (p, t) => supports(p, t.siteId) || NOT_YOUR_SITE;
const administersSite: Check = (p, t) => administers(p, t.siteId) || 'Only an administrator of the site can do that.';
const notSelf: Check = (p, t) => t.person?.id !== p.userId || 'You cannot do that to your own account. Ask another administrator, or use your account page.';
/** People with organisation-wide roles are administered by superadmins only. */
const notPrivileged: Check = (p, t) => !t.person?.orgRoles.length || p.superadmin || 'Only a superadmin can change a helpdesk, commissioner or superadmin account.';
const reachesPerson: Check = (p, t) => [...(t.person?.sites.keys() ?? [])].some((id) => supports(p, id)) || p.superadmin || p.helpdesk || NOT_YOUR_PERSON;
/** Taking over a site administrator's account must not widen anyone's reach. */
const coversTheirAdminSites: Check = (p, t) => [...(t.person?.sites ?? [])].every(([id, role]) => role !== 'site-admin' || supports(p, id))
  || 'This person administers a site you do not look after; ask that site, a commissioner or the helpdesk.';
/** Disabling ends a person's work everywhere, so every one of their sites must be the actor's. */
const administersAllTheirSites: Check = (p, t) => {
  const ids = [...(t.person?.sites.keys() ?? [])];
  return p.superadmin || (ids.length > 0 && ids.every((id) => administers(p, id)))
    || 'This person also works at a site you do not administer: remove them from your site instead.';
};
/** A site's MFA rollout is set by its commissioner (or a superadmin); its administrators may look. */
const commissionsSite: Check = (p, t) => p.superadmin || (t.siteId !== undefined && p.commissionerOf.has(t.siteId))
  || "Only the site's commissioner or a superadmin can set its MFA rollout.";
const roleNeedsAdministrator: Check = (p, t) => t.role !== 'site-admin' || administers(p, t.siteId) || 'Only an administrator of the site can make someone an administrator.';

const personSupport = [notSelf, notPrivileged, reachesPerson, coversTheirAdminSites];
const personAdministration = [notSelf, notPrivileged, administersAllTheirSites];

/** Every act and the checks it must pass, in order: the first failure is the reason. */
const RULES: Record<Act, Check[]> = {
  'console.open': [anyReach],
  'site.view': [supportsSite],
  'site.audit': [supportsSite],
  'site.add': [superadminOnly],
  'site.update': [superadminOnly],
  'user.search': [anyReach],
  'user.view': [reachesPerson],
  'user.add': [administersSite],
  'user.link': [notSelf, notPrivileged, supportsSite, roleNeedsAdministrator],
  'user.unlink': [notSelf, notPrivileged, administersSite],
  'user.role': [notSelf, notPrivileged, administersSite],
  'user.reset-password': personSupport,
  'user.reset-mfa': personSupport,
  'user.unlock': personSupport,
  'user.disable': personAdministration,
  'user.enable': personAdministration,
  'client.manage': [superadminOnly],
  'org-role.grant': [superadminOnly],
  'rollout.view': [anyReach],
  'rollout.set-global': [superadminOnly],
  'rollout.set-portal': [superadminOnly],
  'rollout.set-site': [commissionsSite],
  'readiness.view': [supportsSite],
  'notices.view': [superadminOnly],
};

export type Decision = { allowed: true } | { allowed: false; reason: string };

export function decide(p: Principal, act: Act, t: Target = {}): Decision {
  if (p.operator) return { allowed: true };
  for (const check of RULES[act]) {
    const result = check(p, t);
    if (result !== true) return { allowed: false, reason: result };
  }
  return { allowed: true };
}

export function can(p: Principal, act: Act, t: Target = {}): boolean {
  return decide(p, act, t).allowed;
}

/** Throws Forbidden (with the reason) unless allowed; a refusal is written to the audit trail. */
export async function authorize(deps: Deps, p: Principal, act: Act, t: Target = {}, context: { ip?: string } = {}): Promise<void> {
  const decision = decide(p, act, t);
  if (decision.allowed) return;
  await audit(deps.db, p.actor, {
    action: act, outcome: 'denied', targetUser: t.person?.id, siteId: t.siteId, ip: context.ip, details: { reason: decision.reason },
  });
  throw new Forbidden(decision.reason);
}
