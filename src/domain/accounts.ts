import * as users from '../db/queries/users.js';
import * as memberships from '../db/queries/memberships.js';
import * as siteChoices from '../db/queries/site-choices.js';
import type { UserRow } from '../db/queries/users.js';
import { requireSite } from './sites.js';
import { InvalidInput } from './errors.js';
import type { Deps } from './deps.js';

export interface SiteClaim { ods: string; name: string; role: string }

export interface AccountProfile {
  user: UserRow;
  sites: SiteClaim[];
  /** The site chosen for this portal, if any. */
  site?: string;
}

export function findUser(deps: Deps, userId: string): Promise<UserRow | undefined> {
  return users.findUserById(deps.db, userId);
}

export async function listSites(deps: Deps, userId: string): Promise<SiteClaim[]> {
  const rows = await memberships.listMembershipsOfUser(deps.db, userId);
  return rows.map((m) => ({ ods: m.ods_code, name: m.site_name, role: m.role }));
}

/** What the claims of a token say about a person, for one portal. */
export async function profileFor(deps: Deps, user: UserRow, clientId: string): Promise<AccountProfile> {
  const sites = await listSites(deps, user.id);
  const chosen = await siteChoices.findSiteChoice(deps.db, user.id, clientId);
  const site = chosen ?? (sites.length === 1 ? sites[0]!.ods : undefined);
  return { user, sites, site };
}

export function lastSiteChoice(deps: Deps, userId: string, clientId: string): Promise<string | undefined> {
  return siteChoices.findSiteChoice(deps.db, userId, clientId);
}

export async function chooseSite(deps: Deps, userId: string, clientId: string, ods: string): Promise<void> {
  const mine = await listSites(deps, userId);
  if (!mine.some((s) => s.ods === ods.trim().toUpperCase())) throw new InvalidInput('Choose one of your sites', 'site');
  const site = await requireSite(deps, ods);
  await siteChoices.upsertSiteChoice(deps.db, userId, clientId, site.id);
}

export function recordSignIn(deps: Deps, userId: string): Promise<void> {
  return users.recordSignIn(deps.db, userId);
}

/** Splits a display name for given_name / family_name: the last word is the family name. */
export function splitName(name: string): { given_name: string; family_name: string } {
  const parts = name.trim().split(/\s+/);
  if (parts.length === 1) return { given_name: parts[0]!, family_name: '' };
  return { given_name: parts.slice(0, -1).join(' '), family_name: parts.at(-1)! };
}

/** Who can help this person at their sites: the site administrators, by name. */
export async function helpersFor(deps: Deps, userId: string): Promise<{ name: string; email: string; site: string }[]> {
  const rows = await memberships.listSiteAdminsFor(deps.db, userId);
  return rows.map((r) => ({ name: r.name, email: r.email, site: r.site_name }));
}
