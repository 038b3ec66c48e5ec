import { PASSKEY_ACTIONS } from '../factors/passkey-words.js';
import * as auditEvents from '../../db/queries/audit-events.js';
import type { AuditFilter, AuditOutcome, SiteAuditRow } from '../../db/queries/audit-events.js';
import { authorize } from '../authorization.js';
import { requireSite } from '../sites.js';
import { emailKey } from '../email.js';
import { InvalidInput } from '../errors.js';
import { formatCsv } from '../csv.js';
import { actorWords, describeEvent } from './audit-words.js';
import { paged, window, type PageRequest, type Paged } from './pages.js';
import type { AdminRequest } from './people.js';
import type { Deps } from '../deps.js';

/** Filters as typed in the console or the API's query string (all optional). */
export interface AuditQuery { action?: string; outcome?: string; email?: string; from?: string; to?: string }

export interface AuditEntry {
  id: string;
  occurredAt: Date;
  actor: string;
  actorEmail: string | null;
  action: string;
  outcome: AuditOutcome;
  targetEmail: string | null;
  site: string | null;
  ip: string | null;
  details: Record<string, unknown>;
  /** What happened, in words: "Sam Taylor reset Priya Shah's authenticator". */
  sentence: string;
  /** Who acted and to whom, by name; the site and the portal by name. */
  actorName: string;
  targetName: string | null;
  siteName: string | null;
  portal: string | null;
}

/**
 * The kinds of event a trail is filtered by, as the console lists them. Each
 * value is an action or the start of several ('lock.' is every lock).
 */
export const AUDIT_ACTIONS: readonly { value: string; label: string }[] = [
  { value: 'sign-in', label: 'Sign-ins' },
  { value: 'user.add', label: 'People added' },
  { value: 'user.import', label: 'Files of people imported' },
  { value: 'user.activation-code', label: 'Activation codes sent' },
  { value: 'user.reset-mfa', label: 'Authenticator resets' },
  { value: 'user.reset-password', label: 'Password resets' },
  { value: 'user.reset', label: 'All resets' },
  { value: 'user.disable', label: 'Accounts disabled' },
  { value: 'user.enable', label: 'Accounts enabled again' },
  { value: 'user.unlock', label: 'Accounts unlocked' },
  { value: 'lock.', label: 'Accounts locked after wrong tries' },
  { value: 'user.link', label: 'People linked from other sites' },
  { value: 'user.role', label: 'Roles changed' },
  { value: 'user.unlink', label: 'People removed from the site' },
  { value: 'user.', label: 'Everything done to people' },
  { value: 'session.', label: 'Sessions ended' },
  { value: 'account.', label: 'Changes people made themselves' },
  ...PASSKEY_ACTIONS,
  { value: 'rollout.set', label: 'MFA rollout changes' },
  { value: 'site.', label: 'Site details changed' },
];

const OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied'];

function day(input: string, field: string, end: boolean): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(input)) throw new InvalidInput(`${field} is a date like 2024-03-05`, field);
  const d = new Date(`${input}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) throw new InvalidInput(`${field} is not a real date`, field);
  if (end) d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

export function auditFilter(q: AuditQuery): AuditFilter {
  const f: AuditFilter = {};
  const action = q.action?.trim();
  if (action) {
    if (!/^[a-z][a-z0-9.-]{0,63}$/.test(action)) throw new InvalidInput('An action is letters, digits, dots and dashes, like user.reset-mfa', 'action');
    f.action = action;
  }
  if (q.outcome) {
    if (!OUTCOMES.includes(q.outcome as AuditOutcome)) throw new InvalidInput(`outcome is one of ${OUTCOMES.join(', ')}`, 'outcome');
    f.outcome = q.outcome as AuditOutcome;
  }
  if (q.email?.trim()) {
    const key = emailKey(q.email);
    if (!key) throw new InvalidInput('Enter an email address in the correct format, like name@example.nhs.uk', 'email');
    f.targetEmailKey = key;
  }
  if (q.from) f.from = day(q.from, 'from', false);
  if (q.to) f.to = day(q.to, 'to', true);
  return f;
}

function entry(e: SiteAuditRow): AuditEntry {
  const actorName = actorWords(e.actor, { person: e.actor_name, portal: e.portal_name });
  const self = e.target_user !== null && e.actor === `user:${e.target_user}`;
  const sentence = describeEvent({
    action: e.action, outcome: e.outcome, actor: actorName, target: e.target_name ?? undefined, self,
    site: e.site_name ?? undefined, portal: e.portal_name ?? undefined, details: e.details ?? {},
  });
  return {
    id: String(e.id), occurredAt: e.occurred_at, actor: e.actor, actorEmail: e.actor_email, action: e.action, outcome: e.outcome,
    targetEmail: e.target_email, site: e.site_ods, ip: e.ip, details: e.details,
    sentence, actorName, targetName: e.target_name, siteName: e.site_name, portal: e.portal_name,
  };
}

export async function siteAudit(deps: Deps, r: AdminRequest, ods: string, q: AuditQuery, page?: PageRequest): Promise<Paged<AuditEntry>> {
  const site = await requireSite(deps, ods);
  await authorize(deps, r.principal, 'site.audit', { siteId: site.id }, r);
  const w = window(page);
  return paged(await auditEvents.listAuditEventsForSite(deps.db, site.id, auditFilter(q), w.limit, w.offset), w, entry);
}

/** The most rows one export holds: narrow the dates for more. */
export const CSV_EXPORT_LIMIT = 10_000;

export async function siteAuditCsv(deps: Deps, r: AdminRequest, ods: string, q: AuditQuery): Promise<{ filename: string; csv: string }> {
  const site = await requireSite(deps, ods);
  await authorize(deps, r.principal, 'site.audit', { siteId: site.id }, r);
  const rows = (await auditEvents.listAuditEventsForSite(deps.db, site.id, auditFilter(q), CSV_EXPORT_LIMIT, 0)).map(entry);
  const csv = formatCsv(
    ['occurred_at', 'actor', 'actor_email', 'action', 'outcome', 'target_email', 'site', 'ip', 'details', 'description'],
    rows.map((e) => [e.occurredAt, e.actor, e.actorEmail, e.action, e.outcome, e.targetEmail, e.site, e.ip, e.details, e.sentence]),
  );
  return { filename: `audit-${site.ods_code}.csv`, csv };
}
