import { withTransaction, type Db } from '../db/pool.js';
import * as users from '../db/queries/users.js';
import * as memberships from '../db/queries/memberships.js';
import * as pending from '../db/queries/pending-memberships.js';
import * as passwords from '../db/queries/passwords.js';
import * as activationCodes from '../db/queries/activation-codes.js';
import * as sitesQ from '../db/queries/sites.js';
import type { UserRow } from '../db/queries/users.js';
import type { SiteRow } from '../db/queries/sites.js';
import type { SiteRole } from '../db/queries/memberships.js';
import type { CodePurpose } from '../db/queries/activation-codes.js';
import { authorize, loadPersonTarget, loadPrincipal, reachOver, type PersonTarget, type Principal } from './authorization.js';
import { Conflict, NotFound, Rejected } from './errors.js';
import { assertRoomAt } from './sites.js';
import { lockPeopleThenSites, lockPerson } from './lock-order.js';
import { audit, actorName } from './audit.js';
import { sendCodeToPerson, type CodePurpose as MailPurpose } from './code-mail.js';
import { issueActivationCode, noticeTo } from './users.js';
import { hashCode, normaliseCode } from './secrets.js';
import { beginAttempt } from './attempts.js';
import type { Deps } from './deps.js';

/**
 * How a person comes to work at another site (DESIGN.md, "Reach").
 *
 * - A person GAINS a site only through `joinSite`: the membership is written
 *   (one conditional INSERT: a link never changes an existing role) and every
 *   outstanding sign-in code (activation, password reset, MFA reset) shown to
 *   someone who no longer reaches the whole person is replaced by a fresh
 *   one emailed to the person alone. A code shown to an administrator while
 *   the person was entirely theirs must not outlive that reach.
 * - A link by an administrator who does not reach the whole person WAITS
 *   (pending_memberships) until the person proves they hold the mailbox:
 *   pharmid emails a one-time code ('site-link') that the person gives at
 *   their next sign-in, after the second factor. Nothing else proves that
 *   whoever holds the account owns its email (an administrator may have made
 *   and activated an account in a future colleague's name). A waiting link
 *   gives nothing: no claim, no choice, no reach, no policy.
 * - A person who has no password yet (never activated, or reset) is linked at
 *   once: whoever next sets the password must use a code that, from the link
 *   on, goes to the mailbox alone (joinSite replaces it), which is the same
 *   proof.
 */

export interface LinkOutcome { user: UserRow; site: SiteRow; role: SiteRole; waiting: boolean }

/** Mail to send before the transaction commits (so a mail that cannot be sent undoes the link). */
type Outgoing = () => Promise<void>;

interface Linked extends LinkOutcome { mails: Outgoing[]; after: Outgoing[] }

const MAIL_PURPOSE: Record<CodePurpose, MailPurpose> = {
  activation: 'new-account', 'password-reset': 'password-reset', 'mfa-reset': 'mfa-reset', 'site-link': 'site-link',
  // Never replaced here: a forgotten-password link goes to the person alone (it is not a sign-in code).
  'forgotten-password': 'password-reset',
};

const siteName = (s: Pick<SiteRow, 'name' | 'ods_code'>) => `${s.name} (${s.ods_code})`;

/** Whether whoever was shown a code still reaches the whole person (as they now stand): the command line always does. */
async function stillEntire(deps: Deps, shownTo: string | null, person: PersonTarget): Promise<boolean> {
  if (shownTo === null || shownTo === 'cli') return true;
  if (!shownTo.startsWith('user:')) return false;
  return reachOver(await loadPrincipal(deps, shownTo.slice('user:'.length)), person) === 'entire';
}

/**
 * Inside a transaction that holds the person's row lock, after the new
 * membership is written: replaces every sign-in code shown to someone who no
 * longer reaches the whole person with a fresh one of the same purpose, to
 * be emailed to the person alone. Expired codes too: an expired MFA-reset
 * code still stands between a password and a new authenticator, so it is
 * renewed, not dropped.
 */
async function replaceCodes(deps: Deps, tx: Db, user: UserRow): Promise<{ purposes: CodePurpose[]; mails: Outgoing[] }> {
  const held = await activationCodes.lockSignInCodes(tx, user.id);
  const person = await loadPersonTarget(deps, user.id, tx);
  const purposes: CodePurpose[] = [];
  const mails: Outgoing[] = [];
  for (const { purpose, shown_to: shownTo } of held) {
    if (await stillEntire(deps, shownTo, person)) continue;
    purposes.push(purpose);
    const code = await issueActivationCode(deps, tx, user.id, purpose, null);
    mails.push(() => sendCodeToPerson(deps.mailer, deps.settings.issuer, user, code, MAIL_PURPOSE[purpose]));
  }
  return { purposes, mails };
}

/** The one way a person gains a site: the membership, a waiting link to it cleared, and their codes replaced. */
async function joinSite(deps: Deps, tx: Db, user: UserRow, site: SiteRow, role: SiteRole): Promise<{ purposes: CodePurpose[]; mails: Outgoing[] }> {
  if (user.status !== 'disabled') await assertRoomAt(tx, site);
  if (!(await memberships.insertMembership(tx, user.id, site.id, role))) {
    throw new Conflict(`${user.email} already works at ${site.ods_code}; change their role there instead`, 'site');
  }
  await pending.deletePendingMembership(tx, user.id, site.id);
  return replaceCodes(deps, tx, user);
}

/**
 * Emails the person a site-link code for every site waiting for them (a new
 * code replaces an earlier one, which then no longer works).
 */
async function siteLinkCode(deps: Deps, tx: Db, user: UserRow): Promise<Outgoing> {
  const code = await issueActivationCode(deps, tx, user.id, 'site-link', null);
  const waiting = await pending.listPendingSitesOfUser(tx, user.id);
  const list = waiting.map((s) => `- ${s.site_name} (${s.ods_code}), as ${s.role}`).join('\n');
  return () => sendCodeToPerson(deps.mailer, deps.settings.issuer, user, code, 'site-link', `Waiting for you to confirm:\n${list}`);
}

/**
 * Links a person to a site in the caller's transaction: takes the person's
 * row lock, then decides (reach over the person as they stand now) and
 * writes, so no other link or reset can change their sites in between.
 * Mails are returned to be sent before the commit.
 */
export async function linkInTransaction(
  deps: Deps, tx: Db, r: { principal: Principal; ip?: string }, userId: string, site: SiteRow, role: SiteRole, extra: Record<string, unknown> = {},
): Promise<Linked> {
  // The person, then the site (for its cap), in the one order of lock-order.ts that an import and a bulk act take too.
  const user = (await lockPeopleThenSites(tx, [userId], [site.id])).get(userId);
  if (!user) throw new NotFound('No such person');
  const target = await loadPersonTarget(deps, user.id, tx);
  await authorize(deps, r.principal, 'user.link', { siteId: site.id, person: target, role }, r);
  if (target.sites.has(site.id)) throw new Conflict(`${user.email} already works at ${site.ods_code}; change their role there instead`, 'site');
  const direct = reachOver(r.principal, target) === 'entire' || !(await passwords.findPasswordHash(tx, user.id));
  const by = r.principal.actor;
  if (direct) {
    const { purposes, mails } = await joinSite(deps, tx, user, site, role);
    await audit(tx, by, { action: 'user.link', outcome: 'success', targetUser: user.id, siteId: site.id, ip: r.ip, details: { role, ...extra, ...(purposes.length ? { codes_replaced: purposes } : {}) } });
    const after: Outgoing[] = [() => noticeTo(deps, user, 'site-linked', by, `${siteName(site)}, as ${role}`)];
    if (purposes.length) after.push(() => noticeTo(deps, user, 'codes-replaced', by, siteName(site)));
    return { user, site, role, waiting: false, mails, after };
  }
  if (user.status !== 'disabled') await assertRoomAt(tx, site);
  const fresh = await pending.insertPendingMembership(tx, user.id, site.id, role, actorName(by));
  // Asked again while the code is live: nothing new. Once it has expired, linking again sends a new one.
  if (!fresh && (await activationCodes.hasLiveCode(tx, user.id, 'site-link'))) {
    throw new Conflict(`${user.email} has not confirmed ${site.ods_code} yet: pharmid emailed them a code to give at their next sign-in`, 'site');
  }
  await audit(tx, by, { action: 'user.link', outcome: 'success', targetUser: user.id, siteId: site.id, ip: r.ip, details: { role, ...extra, waiting_for_person: true } });
  return { user, site, role, waiting: true, mails: [await siteLinkCode(deps, tx, user)], after: [] };
}

/** Links a person to a site in a transaction of its own; the person is emailed before it commits, told after. */
export async function linkToSite(deps: Deps, r: { principal: Principal; ip?: string }, userId: string, site: SiteRow, role: SiteRole): Promise<LinkOutcome> {
  const linked = await withTransaction(deps.db, async (tx) => {
    const l = await linkInTransaction(deps, tx, r, userId, site, role);
    for (const send of l.mails) await send();
    return l;
  });
  for (const tell of linked.after) await tell();
  return { user: linked.user, site: linked.site, role: linked.role, waiting: linked.waiting };
}

/** The sites waiting for the person to confirm, as the sign-in page names them. */
export async function waitingSites(deps: Deps, userId: string): Promise<{ ods: string; name: string; role: SiteRole }[]> {
  return (await pending.listPendingSitesOfUser(deps.db, userId)).map((s) => ({ ods: s.ods_code, name: s.site_name, role: s.role }));
}

export function hasWaitingSites(deps: Deps, userId: string): Promise<boolean> {
  return pending.hasPendingMemberships(deps.db, userId);
}

/**
 * The person gives the code pharmid emailed them: one DELETE of a live
 * site-link code decides (under the activation code's brute-force limits),
 * then every waiting site becomes theirs through joinSite, in one
 * transaction. A site that is full leaves everything waiting.
 */
export async function confirmWaitingSites(deps: Deps, userId: string, code: string, ip: string): Promise<string[]> {
  const attempt = await beginAttempt(deps, { kind: 'activation', account: userId, userId, ip });
  const result = await withTransaction(deps.db, async (tx) => {
    // The person's row lock before the code row, as a link and a decline take them (no deadlock between them).
    const user = (await lockPerson(tx, userId))!;
    if (!(await activationCodes.consumeActivationCode(tx, userId, ['site-link'], hashCode(normaliseCode(code))))) return undefined;
    const taken = await pending.takePendingMemberships(tx, userId);
    // Every site waiting, in one call (by id) after the person, not one by one in the order they were asked for.
    await lockPeopleThenSites(tx, [], taken.map((t) => t.site_id));
    const joined: SiteRow[] = [];
    const mails: Outgoing[] = [];
    for (const t of taken) {
      const [site] = await sitesQ.findSitesByIds(tx, [t.site_id]);
      if (!site || (await memberships.findMembershipRole(tx, userId, site.id))) continue;
      mails.push(...(await joinSite(deps, tx, user, site, t.role)).mails);
      await audit(tx, { kind: 'user', id: userId }, { action: 'user.link-confirmed', outcome: 'success', targetUser: userId, siteId: site.id, ip, details: { role: t.role } });
      joined.push(site);
    }
    for (const send of mails) await send();
    return { user, joined };
  });
  if (!result) {
    await attempt.failed();
    throw new Rejected('That code is not right, or has expired. Ask the site\'s administrator to add you again for a new one.', 'activation_code');
  }
  await attempt.succeeded();
  const names = result.joined.map(siteName);
  if (names.length) await noticeTo(deps, result.user, 'site-link-confirmed', { kind: 'user', id: userId }, names.join(', '));
  return names;
}

/** The person declines every waiting site: nothing is added, the code is gone, and the person is told. */
export async function declineWaitingSites(deps: Deps, userId: string, ip: string): Promise<void> {
  const declined = await withTransaction(deps.db, async (tx) => {
    const user = (await lockPerson(tx, userId))!;
    const taken = await pending.takePendingMemberships(tx, userId);
    await activationCodes.deleteCode(tx, userId, 'site-link');
    const sites = await sitesQ.findSitesByIds(tx, taken.map((t) => t.site_id));
    for (const site of sites) {
      await audit(tx, { kind: 'user', id: userId }, { action: 'user.link-declined', outcome: 'success', targetUser: userId, siteId: site.id, ip });
    }
    return { user, sites };
  });
  if (declined.sites.length) await noticeTo(deps, declined.user, 'site-link-declined', { kind: 'user', id: userId }, declined.sites.map(siteName).join(', '));
}
