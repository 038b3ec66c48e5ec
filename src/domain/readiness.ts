import { listReadiness, type ReadinessRow } from '../db/queries/readiness.js';
import { listRolloutPolicies, type RolloutPolicyRow } from '../db/queries/rollout-policies.js';
import { requireSite } from './sites.js';
import type { Deps } from './deps.js';
import { looksShared } from './generic-mailboxes.js';

export type NotReadyReason = 'shared-or-generic' | 'not-activated' | 'not-enrolled' | 'no-passkey' | 'no-recovery-codes' | 'disabled';

/** Each reason in words an administrator reads (the console's lists, `pharmid readiness`). */
export const REASON_WORDS: Record<NotReadyReason, string> = {
  'shared-or-generic': 'looks like a shared login',
  'not-activated': 'not activated',
  'not-enrolled': 'no authenticator',
  'no-passkey': 'only an authenticator app: this site will require a passkey or security key',
  'no-recovery-codes': 'no recovery codes left',
  disabled: 'disabled',
};

export interface ReadinessPerson {
  email: string;
  name: string;
  role: string;
  status: string;
  reasons: NotReadyReason[];
}

export interface SiteReadiness {
  ods: string;
  name: string;
  people: number;
  ready: number;
  counts: Record<NotReadyReason, number>;
  notReady: ReadinessPerson[];
}

function reasonsFor(r: ReadinessRow, passkeyRequired: boolean): NotReadyReason[] {
  if (r.status === 'disabled') return ['disabled'];
  const out: NotReadyReason[] = [];
  if (looksShared(r.email)) out.push('shared-or-generic');
  if (r.status === 'invited') out.push('not-activated');
  if (!r.enrolled) out.push('not-enrolled');
  else {
    if (passkeyRequired && !r.has_passkey) out.push('no-passkey');
    if (r.recovery_codes_left === 0) out.push('no-recovery-codes');
  }
  return out;
}

/**
 * Whether a site's policy (its own, else the global one) will require a
 * passkey: it requires `phr` and is enforced, or has an enforcement date
 * (announced, grace). Readiness looks ahead, so a dated policy counts before
 * its date; an `off` policy without a date requires nothing yet.
 */
function passkeyRequiredAt(policies: RolloutPolicyRow[]): (siteId: string) => boolean {
  const global = policies.find((p) => p.scope === 'global');
  const requires = (p: RolloutPolicyRow | undefined) => p !== undefined && p.require === 'phr' && (p.state === 'enforced' || (p.state !== 'off' && p.enforce_on !== null));
  return (siteId) => requires(policies.find((p) => p.scope === 'site' && p.site_id === siteId) ?? global);
}

/**
 * Who at each site is not ready for MFA, and why: a shared or generic
 * mailbox, not activated, no second factor (an authenticator app or a
 * passkey, either counts), only an app where the site's policy requires a
 * passkey, no recovery codes left.
 * Disabled people are counted apart and do not make a site unready.
 */
export async function readiness(deps: Deps, siteOds?: string[]): Promise<SiteReadiness[]> {
  const siteIds = siteOds?.length ? await Promise.all(siteOds.map(async (o) => (await requireSite(deps, o)).id)) : undefined;
  const [rows, policies] = await Promise.all([listReadiness(deps.db, siteIds), listRolloutPolicies(deps.db)]);
  const passkeyRequired = passkeyRequiredAt(policies);
  const bySite = new Map<string, SiteReadiness>();
  for (const r of rows) {
    let site = bySite.get(r.ods_code);
    if (!site) {
      site = {
        ods: r.ods_code, name: r.site_name, people: 0, ready: 0,
        counts: { 'shared-or-generic': 0, 'not-activated': 0, 'not-enrolled': 0, 'no-passkey': 0, 'no-recovery-codes': 0, disabled: 0 },
        notReady: [],
      };
      bySite.set(r.ods_code, site);
    }
    const reasons = reasonsFor(r, passkeyRequired(r.site_id));
    for (const reason of reasons) site.counts[reason] += 1;
    if (reasons.includes('disabled')) continue;
    site.people += 1;
    if (reasons.length === 0) site.ready += 1;
    else site.notReady.push({ email: r.email, name: r.name, role: r.role, status: r.status, reasons });
  }
  return [...bySite.values()];
}
