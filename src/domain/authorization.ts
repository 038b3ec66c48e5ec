import * as memberships from '../db/queries/memberships.js';
import * as orgRoles from '../db/queries/org-roles.js';
import * as commissioned from '../db/queries/commissioned-sites.js';
import type { SiteRole } from '../db/queries/memberships.js';
import type { OrgRole } from '../db/queries/org-roles.js';
import { Forbidden } from './errors.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';
import type { Db } from '../db/pool.js';

/**
 * The one place that decides who may do what in administration. The console,
 * the admin API and the CLI all ask here; no route checks a role itself.
 *
 * Reach, from widest: a superadmin administers everything (portals too); the
 * helpdesk supports every site; a commissioner supports their sites; a
 * site-admin administers their sites. "Support" is seeing people and the
 * trail, linking people, and resets; "administer" adds creating people,
 * roles, removing people from a site, disabling and enabling. Over a
 * person, `reachOver` decides how far any of this goes: resets, unlocking,
 * disabling and enabling look at every one of the person's sites.
 */
export type Act =
  | 'console.open' | 'site.view' | 'site.audit' | 'site.add' | 'site.update'
  | 'user.search' | 'user.view' | 'user.add' | 'user.link' | 'user.unlink' | 'user.role'
  | 'user.reset-password' | 'user.reset-mfa' | 'user.unlock' | 'user.disable' | 'user.enable'
  | 'user.activation-code' | 'user.edit' | 'user.end-session'
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

/** `db` is a transaction when the decision must see the same sites as the write it allows (see lockUser). */
export async function loadPersonTarget(deps: Deps, userId: string, db: Db = deps.db): Promise<PersonTarget> {
  const mine = await memberships.listMembershipsOfUser(db, userId);
  const roles = await orgRoles.listOrgRolesOfUser(db, userId);
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

/**
 * How far an administrator reaches a person (DESIGN.md, "Reach"), the one
 * rule every act on a person's credentials, status or memberships goes
 * through:
 * - 'entire': the administrator covers every one of the person's sites
 *   (`support`: site administrator of each, or their commissioner;
 *   `administer`: site administrator of each), or holds an
 *   organisation-wide role that covers them. People with organisation-wide
 *   roles are entirely within a superadmin's reach only.
 * - 'partial': the person works at one of the administrator's sites, and
 *   somewhere else too (a locum). They can be seen and helped, but nothing
 *   that signs in as them is ever handed to this administrator.
 * - 'none': the person is not at any of the administrator's sites.
 * Reach is computed over all the person's sites, so linking someone to one's
 * own site adds a site one covers and leaves uncovered the ones one did not:
 * it never makes the reach entire. A link the person has not confirmed yet
 * (site-links.ts) is no site of theirs at all: it gives nobody any reach.
 */
export type Reach = 'entire' | 'partial' | 'none';

export function reachOver(p: Principal, person: PersonTarget, how: 'support' | 'administer' = 'support'): Reach {
  if (p.operator || p.superadmin) return 'entire';
  const sites = [...person.sites.keys()];
  if (!p.helpdesk && !sites.some((id) => supports(p, id))) return 'none';
  // Organisation-wide accounts are a superadmin's alone.
  if (person.orgRoles.length > 0) return 'partial';
  // The helpdesk supports every site (and administers none of them by that role).
  if (how === 'support' && p.helpdesk) return 'entire';
  const covers = how === 'administer' ? administers : supports;
  return sites.length > 0 && sites.every((id) => covers(p, id)) ? 'entire' : 'partial';
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
const reachesPerson: Check = (p, t) => (t.person !== undefined && reachOver(p, t.person) !== 'none') || NOT_YOUR_PERSON;
/** A reset of a site administrator's account must not put anyone near a site they do not look after. */
const coversTheirAdminSites: Check = (p, t) => reachOver(p, t.person!) === 'entire' || [...(t.person?.sites ?? [])].every(([id, role]) => role !== 'site-admin' || supports(p, id))
  || 'This person administers a site you do not look after; ask that site, a commissioner or the helpdesk.';
/** Unlocking lifts the limits that stop someone guessing the person's password and codes: all their sites must be the actor's. */
const supportsAllTheirSites: Check = (p, t) => reachOver(p, t.person!) === 'entire'
  || 'This person also works at a site you do not look after: ask that site, a commissioner or the helpdesk to unlock them.';
/** Disabling ends a person's work everywhere, so every one of their sites must be the actor's. */
const administersAllTheirSites: Check = (p, t) => reachOver(p, t.person!, 'administer') === 'entire'
  || 'This person also works at a site you do not administer: remove them from your site instead.';
/** A site's MFA rollout is set by its commissioner (or a superadmin); its administrators may look. */
const commissionsSite: Check = (p, t) => p.superadmin || (t.siteId !== undefined && p.commissionerOf.has(t.siteId))
  || "Only the site's commissioner or a superadmin can set its MFA rollout.";
const roleNeedsAdministrator: Check = (p, t) => t.role !== 'site-admin' || administers(p, t.siteId) || 'Only an administrator of the site can make someone an administrator.';

/** Resets are allowed over partial reach too: the code then goes to the person alone (see codeGoesTo). */
const personReset = [notSelf, notPrivileged, reachesPerson, coversTheirAdminSites];
const personAdministration = [notSelf, notPrivileged, reachesPerson, administersAllTheirSites];

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
  // Linking a locum (named by their email) needs no reach over them beforehand, and gives no entire reach after (see reachOver);
  // without entire reach the link waits for the person to confirm it (site-links.ts).
  'user.link': [notSelf, notPrivileged, supportsSite, roleNeedsAdministrator],
  'user.unlink': [notSelf, notPrivileged, reachesPerson, administersSite],
  'user.role': [notSelf, notPrivileged, reachesPerson, administersSite],
  'user.reset-password': personReset,
  'user.reset-mfa': personReset,
  'user.unlock': [notSelf, notPrivileged, reachesPerson, supportsAllTheirSites],
  'user.disable': personAdministration,
  'user.enable': personAdministration,
  // A new activation code is a reset for someone who never chose a password: the same reach, the code going where a reset's would.
  'user.activation-code': personReset,
  // A name or an email is the person's everywhere, and a new email receives every reset and forgotten-password link
  // from then on (a way to take the account over): only an administrator of every one of their sites may change them.
  'user.edit': personAdministration,
  // Ending a session hands nobody anything; a reset, allowed over partial reach, already ends them all.
  'user.end-session': personReset,
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

/**
 * Where an allowed reset's code goes: shown to the administrator only when the
 * person is entirely within their reach; otherwise only to the person's own
 * email. Nobody obtains what it takes to sign in as someone they do not
 * entirely reach.
 */
export function codeGoesTo(p: Principal, person: PersonTarget): 'caller' | 'person' {
  return reachOver(p, person) === 'entire' ? 'caller' : 'person';
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
