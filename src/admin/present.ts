import type { PersonDetails, PersonSummary } from '../domain/admin/people.js';
import type { SitePerson, SiteSummary, WaitingPerson } from '../domain/admin/sites.js';
import type { AuditEntry } from '../domain/admin/audit-trail.js';
import type { Paged } from '../domain/admin/pages.js';
import type { PortalListing, RegisteredClient } from '../domain/clients.js';

/** The admin API's JSON: snake_case, dates as ISO strings, never a secret unless it is being shown once. */
export function pageJson<T, J>(p: Paged<T>, item: (t: T) => J) {
  return { items: p.items.map(item), page: p.page, per_page: p.perPage, total: p.total };
}

export const siteJson = (s: SiteSummary) => ({
  ods: s.ods, name: s.name, kind: s.kind, address: s.address, user_cap: s.userCap, active_people: s.activePeople, administrators: s.administrators,
});

export const sitePersonJson = (p: SitePerson) => ({
  id: p.id, email: p.email, name: p.name, status: p.status, role: p.role, enrolled: p.enrolled, locked: p.locked,
  last_sign_in_at: p.lastSignInAt?.toISOString() ?? null,
});

export const personSummaryJson = (p: PersonSummary) => ({
  id: p.id, email: p.email, name: p.name, status: p.status, sites: p.sites, last_sign_in_at: p.lastSignInAt?.toISOString() ?? null,
});

export const personJson = (p: PersonDetails) => ({
  id: p.id, email: p.email, name: p.name, status: p.status, enrolled: p.enrolled, locked: p.locked,
  last_sign_in_at: p.lastSignInAt?.toISOString() ?? null, org_roles: p.orgRoles,
  sites: p.sites.map((s) => ({ ods: s.ods, name: s.name, role: s.role })),
  // Where a reset's code would go: 'caller' (shown in the answer) or 'person' (emailed to them only).
  reset_codes_go_to: p.codesGoTo,
});

export const auditJson = (e: AuditEntry) => ({
  id: e.id, occurred_at: e.occurredAt.toISOString(), actor: e.actor, actor_email: e.actorEmail, action: e.action, outcome: e.outcome,
  target_email: e.targetEmail, site: e.site, ip: e.ip, details: e.details, description: e.sentence,
});

export const portalJson = (c: PortalListing | RegisteredClient) => c;

/** A link the person has not confirmed yet: they do not work at the site until they do. */
export const waitingJson = (w: WaitingPerson) => ({
  id: w.id, email: w.email, name: w.name, role: w.role, linked_at: w.since.toISOString(), status: 'waiting for the person to confirm',
});

export const WAITING_MESSAGE = (email: string, ods: string) =>
  `Waiting for the person to confirm: pharmid emailed ${email} a code to give at their next sign-in. Until then they do not work at ${ods}.`;
