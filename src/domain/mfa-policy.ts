import type { RolloutPolicyRow, RolloutState } from '../db/queries/rollout-policies.js';

/**
 * The one rule for which MFA rollout policy applies to a person. Policies
 * only ever tighten: a relaxed site never relaxes a locum's other sites, and
 * a portal's policy can make a sign-in stricter but never laxer.
 *
 *  - A membership's policy is its site's own, else the global one, else
 *    `enforced` (MFA is required unless a policy says otherwise).
 *  - A person's policy is the strictest of their memberships' policies (a
 *    person with no site stands under the global policy, else `enforced`),
 *    and of the portal's, where the portal has one.
 *  - "Strictest": first by state as it stands today (announced and grace
 *    count as enforced once their date has come): enforced > grace >
 *    announced > off; between two of the same state, the earlier
 *    enforcement date, then the fewer skips left.
 *
 * Pure functions only, so the sign-in, readiness and notices all use the
 * same rule and tests can state it directly.
 */

export interface PolicyTerms {
  /** The rollout policy's id; absent for the built-in default. */
  id?: string;
  siteId: string | null;
  /** The state as it stands now (a due announced or grace policy is enforced). */
  state: RolloutState;
  enforceOn: Date | null;
  maxSkips: number;
  /** Skips this person has used under this policy (grace). */
  skipsUsed: number;
  /** What an enforced policy asks for: any second factor (`mfa`, the default) or a passkey (`phr`). */
  require?: PolicyRequire;
}

/** Any second factor, or a phishing-resistant one (a passkey or security key: acr `phr`). */
export type PolicyRequire = 'mfa' | 'phr';

const RANK: Record<RolloutState, number> = { off: 0, announced: 1, grace: 2, enforced: 3 };
const NEVER = Number.POSITIVE_INFINITY;

/** MFA required, by no policy in particular: what applies when nothing relaxes it. */
export const DEFAULT_TERMS: PolicyTerms = Object.freeze({ siteId: null, state: 'enforced', enforceOn: null, maxSkips: 0, skipsUsed: 0 });

/** A stored policy as it stands at `now`: announced and grace become enforced on their date. */
export function termsAt(row: RolloutPolicyRow, now: Date, skipsUsed = 0): PolicyTerms {
  const due = row.enforce_on !== null && row.enforce_on.getTime() <= now.getTime();
  const state: RolloutState = (row.state === 'announced' || row.state === 'grace') && due ? 'enforced' : row.state;
  return { id: row.id, siteId: row.site_id, state, enforceOn: row.enforce_on, maxSkips: row.max_skips, skipsUsed, require: row.require };
}

function skipsLeft(t: PolicyTerms): number {
  return Math.max(0, t.maxSkips - t.skipsUsed);
}

/** Negative when `a` is stricter than `b`, positive when laxer, 0 when they ask the same. */
export function compareStrictness(a: PolicyTerms, b: PolicyTerms): number {
  if (RANK[a.state] !== RANK[b.state]) return RANK[b.state] - RANK[a.state];
  const dateA = a.enforceOn?.getTime() ?? NEVER;
  const dateB = b.enforceOn?.getTime() ?? NEVER;
  if (dateA !== dateB) return dateA < dateB ? -1 : 1;
  return skipsLeft(a) - skipsLeft(b);
}

/** The strictest of some policies; the built-in default (enforced) when there are none. */
export function strictest(candidates: readonly PolicyTerms[]): PolicyTerms {
  let best: PolicyTerms | undefined;
  for (const c of candidates) if (!best || compareStrictness(c, best) < 0) best = c;
  return best ?? DEFAULT_TERMS;
}

/** One membership's policy: the site's own, else the global one, else enforced. */
export function membershipTerms(site: PolicyTerms | undefined, global: PolicyTerms | undefined): PolicyTerms {
  return site ?? global ?? DEFAULT_TERMS;
}

/**
 * A person's policy at a portal: the strictest of each membership's policy
 * and the portal's (which can only tighten). `sites` holds one entry per
 * membership: that site's own policy, or undefined when it has none.
 */
export function personTerms(p: { sites: readonly (PolicyTerms | undefined)[]; global?: PolicyTerms; portal?: PolicyTerms }): PolicyTerms {
  const memberships = p.sites.length ? p.sites.map((s) => membershipTerms(s, p.global)) : [membershipTerms(undefined, p.global)];
  return strictest(p.portal ? [...memberships, p.portal] : memberships);
}

/**
 * Whether a person's sign-in at a portal must be phishing-resistant (a
 * passkey): when any policy that applies to them is enforced (as it stands
 * now) and requires `phr` — a membership's (its site's own, else the global
 * one) or the portal's. Like the states, this only tightens: one such site
 * among a locum's sites is enough. A policy not yet enforced asks for no
 * passkey, whatever it will require.
 */
export function requiresPhr(p: { sites: readonly (PolicyTerms | undefined)[]; global?: PolicyTerms; portal?: PolicyTerms }): boolean {
  const memberships = p.sites.length ? p.sites.map((s) => membershipTerms(s, p.global)) : [membershipTerms(undefined, p.global)];
  return [...memberships, ...(p.portal ? [p.portal] : [])].some((t) => t.state === 'enforced' && t.require === 'phr');
}
