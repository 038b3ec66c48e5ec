import { listReadiness, type ReadinessRow } from '../db/queries/readiness.js';
import { requireSite } from './sites.js';
import type { Deps } from './deps.js';
import { looksShared } from './generic-mailboxes.js';

export type NotReadyReason = 'shared-or-generic' | 'not-activated' | 'not-enrolled' | 'no-recovery-codes' | 'disabled';

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

function reasonsFor(r: ReadinessRow): NotReadyReason[] {
  if (r.status === 'disabled') return ['disabled'];
  const out: NotReadyReason[] = [];
  if (looksShared(r.email)) out.push('shared-or-generic');
  if (r.status === 'invited') out.push('not-activated');
  if (!r.enrolled) out.push('not-enrolled');
  else if (r.recovery_codes_left === 0) out.push('no-recovery-codes');
  return out;
}

/**
 * Who at each site is not ready for MFA, and why: a shared or generic
 * mailbox, not activated, no second factor (an authenticator app or a
 * passkey, either counts), no recovery codes left.
 * Disabled people are counted apart and do not make a site unready.
 */
export async function readiness(deps: Deps, siteOds?: string[]): Promise<SiteReadiness[]> {
  const siteIds = siteOds?.length ? await Promise.all(siteOds.map(async (o) => (await requireSite(deps, o)).id)) : undefined;
  const rows = await listReadiness(deps.db, siteIds);
  const bySite = new Map<string, SiteReadiness>();
  for (const r of rows) {
    let site = bySite.get(r.ods_code);
    if (!site) {
      site = {
        ods: r.ods_code, name: r.site_name, people: 0, ready: 0,
        counts: { 'shared-or-generic': 0, 'not-activated': 0, 'not-enrolled': 0, 'no-recovery-codes': 0, disabled: 0 },
        notReady: [],
      };
      bySite.set(r.ods_code, site);
    }
    const reasons = reasonsFor(r);
    for (const reason of reasons) site.counts[reason] += 1;
    if (reasons.includes('disabled')) continue;
    site.people += 1;
    if (reasons.length === 0) site.ready += 1;
    else site.notReady.push({ email: r.email, name: r.name, role: r.role, status: r.status, reasons });
  }
  return [...bySite.values()];
}
