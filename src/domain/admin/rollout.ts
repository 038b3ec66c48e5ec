import { authorize, can, supportedSiteIds } from '../authorization.js';
import { listPolicies, setRolloutPolicy, type PolicyInput } from '../rollout.js';
import { readiness, type SiteReadiness } from '../readiness.js';
import { membershipTerms, termsAt } from '../mfa-policy.js';
import type { PolicyListing } from '../../db/queries/rollout-policies.js';
import { requireSite } from '../sites.js';
import { listSites } from '../../db/queries/sites.js';
import { listPortals } from '../clients.js';
import { formatCsv } from '../csv.js';
import type { AdminRequest } from './people.js';
import type { Deps } from '../deps.js';
import { InvalidInput } from '../errors.js';

export interface PolicyView {
  scope: 'global' | 'site' | 'client';
  site: string | null;
  siteName: string | null;
  clientId: string | null;
  portal: string | null;
  state: string;
  enforceOn: Date | null;
  maxSkips: number;
  /** Once enforced: any second factor (`mfa`) or a passkey (`phr`). */
  require: 'mfa' | 'phr';
}

export interface RolloutOverview {
  policies: PolicyView[];
  /** Readiness of each site in reach, with the date its policy enforces MFA. */
  sites: (SiteReadiness & { state: string; enforceOn: Date | null })[];
  maySetGlobal: boolean;
  maySetPortals: boolean;
  /** Sites whose policy the asker may set. */
  settableSites: { ods: string; name: string }[];
  /** Portals whose policy the asker may set (active ones, by name). */
  settablePortals: { clientId: string; name: string }[];
}

/** A site's own policy as it stands now (the membership rule of mfa-policy.ts): its own, else global, else enforced. */
function siteTerms(rows: PolicyListing[], ods: string, now: Date): { state: string; enforceOn: Date | null } {
  const own = rows.find((p) => p.scope === 'site' && p.ods_code === ods);
  const global = rows.find((p) => p.scope === 'global');
  const t = membershipTerms(own && termsAt(own, now), global && termsAt(global, now));
  return { state: t.state, enforceOn: t.enforceOn };
}

/**
 * The MFA rollout as an administrator sees it: the policies that touch their
 * reach and each site's readiness beside its enforcement date. Superadmins set
 * global and portal policies, commissioners their sites'; site administrators look.
 */
export async function rolloutOverview(deps: Deps, r: AdminRequest): Promise<RolloutOverview> {
  await authorize(deps, r.principal, 'rollout.view', {}, r);
  const reach = supportedSiteIds(r.principal);
  const allSites = await listSites(deps.db);
  const inReach = allSites.filter((s) => reach === null || reach.includes(s.id));
  const ods = new Set(inReach.map((s) => s.ods_code));
  const rows = await listPolicies(deps);
  const policies: PolicyView[] = rows
    .filter((p) => p.scope !== 'site' || (p.ods_code !== null && ods.has(p.ods_code)))
    .map((p) => ({
      scope: p.scope, site: p.ods_code, siteName: inReach.find((s) => s.ods_code === p.ods_code)?.name ?? null,
      clientId: p.client_id, portal: p.client_name, state: p.state, enforceOn: p.enforce_on, maxSkips: p.max_skips, require: p.require,
    }));
  const report = inReach.length ? await readiness(deps, [...ods]) : [];
  const maySetPortals = can(r.principal, 'rollout.set-portal');
  const portals = maySetPortals ? (await listPortals(deps)).filter((c) => !c.disabled) : [];
  return {
    policies,
    sites: report.map((s) => ({ ...s, ...siteTerms(rows, s.ods, deps.now()) })),
    maySetGlobal: can(r.principal, 'rollout.set-global'),
    maySetPortals,
    settableSites: inReach.filter((s) => can(r.principal, 'rollout.set-site', { siteId: s.id })).map((s) => ({ ods: s.ods_code, name: s.name })),
    settablePortals: portals.map((c) => ({ clientId: c.client_id, name: c.name })).sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** Sets a policy after asking the authorization module about its scope. */
export async function setPolicyAsAdmin(deps: Deps, r: AdminRequest, input: PolicyInput) {
  if (input.scope === 'site') {
    if (!input.site) throw new InvalidInput('A site policy needs the site it covers', 'site');
    const site = await requireSite(deps, input.site);
    await authorize(deps, r.principal, 'rollout.set-site', { siteId: site.id }, r);
  } else {
    await authorize(deps, r.principal, input.scope === 'client' ? 'rollout.set-portal' : 'rollout.set-global', {}, r);
  }
  return setRolloutPolicy(deps, r.principal.actor, input);
}

/** One site's readiness as CSV: who is not ready, and why. */
export async function readinessCsv(deps: Deps, r: AdminRequest, ods: string): Promise<{ filename: string; csv: string }> {
  const site = await requireSite(deps, ods);
  await authorize(deps, r.principal, 'readiness.view', { siteId: site.id }, r);
  const [report] = await readiness(deps, [site.ods_code]);
  const csv = formatCsv(
    ['site', 'email', 'name', 'role', 'status', 'reasons'],
    (report?.notReady ?? []).map((p) => [site.ods_code, p.email, p.name, p.role, p.status, p.reasons.join(' ')]),
  );
  return { filename: `readiness-${site.ods_code}.csv`, csv };
}
