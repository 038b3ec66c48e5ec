import * as notices from '../db/queries/notices.js';
import type { NoticeCandidate, NoticeEvent } from '../db/queries/notices.js';
import { listRolloutPolicies } from '../db/queries/rollout-policies.js';
import { personTerms, termsAt } from './mfa-policy.js';
import type { Mailer } from '../mail/mailer.js';
import type { Deps } from './deps.js';

const DAY = 24 * 3600 * 1000;

/** Which notice is due for a policy now: announced at once, a reminder some days before, and on the day. */
export function dueEvent(enforceOn: Date, now: Date, reminderDays: number): NoticeEvent | undefined {
  const until = enforceOn.getTime() - now.getTime();
  if (until <= 0) return until > -7 * DAY ? 'enforced' : undefined;
  return until <= reminderDays * DAY ? 'reminder' : 'announced';
}

function longDate(d: Date): string {
  return d.toLocaleDateString('en-GB', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'Europe/London' });
}

const HOW_TO = [
  'What you need to do:',
  '1. Install an authenticator app. On a phone: Microsoft Authenticator or Google Authenticator.',
  '   On a shared or desktop computer: 2FAS, or an authenticator browser extension.',
  '2. Sign in to any portal through pharmid as usual. pharmid will show a QR code to scan.',
  '   A desktop app asks you to type a key instead: pharmid shows it in groups of four letters,',
  '   with the account name (your email) and the issuer beside it. Choose "time-based", 6 digits, 30 seconds.',
  '3. Enter the code the app shows, and keep the recovery codes pharmid gives you somewhere safe.',
  '',
  'If you share a login with colleagues, ask your site administrator for one of your own now:',
  'shared logins cannot be used with two-step sign-in.',
].join('\n');

export function composeNotice(event: NoticeEvent, c: NoticeCandidate, issuer: string): { subject: string; text: string } {
  const date = longDate(c.enforce_on);
  const where = c.site_name ? ` at ${c.site_name}` : '';
  const lead = {
    announced: `From ${date}, signing in to your pharmacy and GP portals${where} will need a 6-digit code from an authenticator app as well as your password. You can set it up now, the next time you sign in; it takes about two minutes.`,
    reminder: `Reminder: from ${date}, signing in${where} will need a code from an authenticator app. You have not set one up yet. Please do it the next time you sign in, so nothing stops you on the day.`,
    enforced: `From today, ${date}, signing in${where} needs a code from an authenticator app. The next time you sign in, pharmid will take you through setting one up before you continue.`,
  }[event];
  const subject = {
    announced: `Two-step sign-in starts on ${date}`,
    reminder: `Reminder: two-step sign-in starts on ${date}`,
    enforced: 'Two-step sign-in starts today',
  }[event];
  return { subject, text: `Dear ${c.name},\n\n${lead}\n\n${HOW_TO}\n\npharmid (${issuer})\n` };
}

/**
 * Who is told about which policy: each person without an authenticator, about
 * the policy that governs them across all their sites (the strictest, by the
 * same rule as the sign-in), where it has an enforcement date and does not
 * leave MFA off. A locum already under an enforced site is not told that MFA
 * starts later at another. Portal policies send no notices (a portal does
 * not know its people).
 */
export async function listNoticeCandidates(deps: Deps): Promise<NoticeCandidate[]> {
  const now = deps.now();
  const rows = await listRolloutPolicies(deps.db);
  const global = rows.find((r) => r.scope === 'global');
  const bySite = new Map(rows.filter((r) => r.scope === 'site').map((r) => [r.site_id!, r]));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const people = new Map<string, { email: string; name: string; sites: (string | null)[] }>();
  for (const m of await notices.listUnenrolledMemberships(deps.db)) {
    const person = people.get(m.user_id) ?? { email: m.email, name: m.name, sites: [] };
    if (m.site_id) person.sites.push(m.site_id);
    people.set(m.user_id, person);
  }
  const out: NoticeCandidate[] = [];
  for (const [userId, person] of people) {
    const terms = personTerms({
      sites: person.sites.map((id) => { const row = bySite.get(id!); return row && termsAt(row, now); }),
      global: global && termsAt(global, now),
    });
    const policy = terms.id ? byId.get(terms.id) : undefined;
    if (!policy?.enforce_on || policy.state === 'off') continue;
    out.push({ user_id: userId, email: person.email, name: person.name, policy_id: policy.id, enforce_on: policy.enforce_on, site_name: policy.site_name });
  }
  return out;
}

/**
 * Sends every notice now due. Each is claimed in Postgres before it is sent
 * (one INSERT whose row count decides), so it goes once per person and event
 * whatever the number of processes, and a restart sends nothing twice.
 */
export async function sendDueNotices(deps: Deps, mailer: Mailer, opts: { reminderDays: number; issuer: string }): Promise<number> {
  const now = deps.now();
  let sent = 0;
  for (const c of await listNoticeCandidates(deps)) {
    const event = dueEvent(c.enforce_on, now, opts.reminderDays);
    if (!event || !(await notices.claimNotice(deps.db, c.user_id, c.policy_id, event, c.enforce_on))) continue;
    try {
      await mailer.send({ to: c.email, ...composeNotice(event, c, opts.issuer) });
      await notices.markNoticeSent(deps.db, c.user_id, c.policy_id, event);
      sent += 1;
    } catch {
      await notices.releaseNotice(deps.db, c.user_id, c.policy_id, event);
    }
  }
  return sent;
}
