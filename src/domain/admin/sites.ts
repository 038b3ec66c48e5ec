import * as sites from '../../db/queries/sites.js';
import * as memberships from '../../db/queries/memberships.js';
import * as pending from '../../db/queries/pending-memberships.js';
import type { SiteRow, SiteKind } from '../../db/queries/sites.js';
import type { SiteRole } from '../../db/queries/memberships.js';
import type { UserStatus } from '../../db/queries/users.js';
import { administers, authorize, can, supportedSiteIds } from '../authorization.js';
import { addSite, requireSite, updateSite, type SiteInput } from '../sites.js';
import { paged, window, type PageRequest, type Paged } from './pages.js';
import type { AdminRequest } from './people.js';
import type { Deps } from '../deps.js';

export interface SiteSummary {
  ods: string;
  name: string;
  kind: SiteKind;
  address: string | null;
  userCap: number | null;
  activePeople: number;
  administrators: number;
}

export interface SitePerson {
  id: string;
  email: string;
  name: string;
  status: UserStatus;
  role: SiteRole;
  enrolled: boolean;
  locked: boolean;
  lastSignInAt: Date | null;
}

/** Someone linked to the site who has not confirmed it yet: they do not work here until they do. */
export interface WaitingPerson { id: string; email: string; name: string; role: SiteRole; since: Date }

export interface SiteOverview {
  site: SiteSummary;
  people: Paged<SitePerson>;
  /** Links waiting for the person to confirm (shown as such, never as people of the site). */
  waiting: WaitingPerson[];
  /** Set when the site has one active administrator, or none. */
  warning?: string;
  /** What the asker may do here (for the console's links). */
  mayAddPeople: boolean;
  mayLinkPeople: boolean;
  mayChangeSite: boolean;
}

function summary(s: SiteRow, counts: { active_people: number; administrators: number }): SiteSummary {
  return {
    ods: s.ods_code, name: s.name, kind: s.kind, address: s.address, userCap: s.user_cap,
    activePeople: counts.active_people, administrators: counts.administrators,
  };
}

export function administratorWarning(site: { name: string; administrators: number }): string | undefined {
  if (site.administrators === 0) return `${site.name} has no active administrator. Ask a superadmin to appoint one.`;
  if (site.administrators === 1) return `${site.name} has only one administrator. Make a second person an administrator, so someone can help staff when they are away.`;
  return undefined;
}

/** The sites the asker looks after, with head counts. */
export async function sitesInReach(deps: Deps, r: AdminRequest, page?: PageRequest): Promise<Paged<SiteSummary>> {
  await authorize(deps, r.principal, 'console.open', {}, r);
  const w = window(page);
  const rows = await sites.listSiteSummaries(deps.db, supportedSiteIds(r.principal), w.limit, w.offset);
  return paged(rows, w, (s) => summary(s, s));
}

export async function siteOverview(deps: Deps, r: AdminRequest, ods: string, page?: PageRequest): Promise<SiteOverview> {
  const site = await requireSite(deps, ods);
  await authorize(deps, r.principal, 'site.view', { siteId: site.id }, r);
  const w = window(page);
  const [rows, counts, waiting] = await Promise.all([
    memberships.listPeopleOfSite(deps.db, site.id, w.limit, w.offset),
    sites.listSiteSummaries(deps.db, [site.id], 1, 0),
    pending.listWaitingAtSite(deps.db, site.id),
  ]);
  const s = summary(site, counts[0] ?? { active_people: 0, administrators: 0 });
  return {
    site: s,
    people: paged(rows, w, (p) => ({
      id: p.id, email: p.email, name: p.name, status: p.status, role: p.role, enrolled: p.enrolled, locked: p.locked, lastSignInAt: p.last_sign_in_at,
    })),
    waiting: waiting.map((x) => ({ id: x.id, email: x.email, name: x.name, role: x.role, since: x.created_at })),
    warning: administratorWarning(s),
    mayAddPeople: can(r.principal, 'user.add', { siteId: site.id }),
    mayLinkPeople: can(r.principal, 'user.link', { siteId: site.id }),
    mayChangeSite: can(r.principal, 'site.update', { siteId: site.id }),
  };
}

export async function addSiteAsAdmin(deps: Deps, r: AdminRequest, input: SiteInput): Promise<SiteSummary> {
  await authorize(deps, r.principal, 'site.add', {}, r);
  const site = await addSite(deps, r.principal.actor, input, { ip: r.ip });
  return summary(site, { active_people: 0, administrators: 0 });
}

export async function updateSiteAsAdmin(deps: Deps, r: AdminRequest, ods: string, input: { name?: string; address?: string | null; userCap?: number | null }): Promise<SiteSummary> {
  const site = await requireSite(deps, ods);
  await authorize(deps, r.principal, 'site.update', { siteId: site.id }, r);
  const updated = await updateSite(deps, r.principal.actor, site, input, { ip: r.ip });
  const counts = await sites.listSiteSummaries(deps.db, [site.id], 1, 0);
  return summary(updated, counts[0] ?? { active_people: 0, administrators: 0 });
}

/** A site as it stands, for a form that changes it. */
export async function siteForChanging(deps: Deps, r: AdminRequest, ods: string): Promise<SiteSummary> {
  const site = await requireSite(deps, ods);
  await authorize(deps, r.principal, 'site.update', { siteId: site.id }, r);
  const counts = await sites.listSiteSummaries(deps.db, [site.id], 1, 0);
  return summary(site, counts[0] ?? { active_people: 0, administrators: 0 });
}

/** The sites the asker may add people to, or link people to (for the console's choices). */
export async function sitesForLinking(deps: Deps, r: AdminRequest): Promise<{ ods: string; name: string; mayAppointAdmin: boolean }[]> {
  const ids = supportedSiteIds(r.principal);
  const rows = ids === null ? await sites.listSites(deps.db) : await sites.findSitesByIds(deps.db, ids);
  return rows.slice(0, 500).map((s) => ({ ods: s.ods_code, name: s.name, mayAppointAdmin: administers(r.principal, s.id) }));
}
