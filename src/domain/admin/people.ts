import * as users from '../../db/queries/users.js';
import * as memberships from '../../db/queries/memberships.js';
import type { UserRow, UserStatus } from '../../db/queries/users.js';
import type { SiteRole } from '../../db/queries/memberships.js';
import type { OrgRole } from '../../db/queries/org-roles.js';
import { authorize, can, codeGoesTo, loadPersonTarget, supportedSiteIds, type Act, type PersonTarget, type Principal } from '../authorization.js';
import { Conflict, InvalidInput } from '../errors.js';
import { createUser, disableUser, requireUser, resetMfa, resetPassword, unlockUser, checkRole, type CodeDecision, type ResetOutcome } from '../users.js';
import { changeRole, enableUser, requireUserById, unlinkUser } from '../people.js';
import { requireSite } from '../sites.js';
import { linkToSite } from '../site-links.js';
import { hasAuthenticator } from '../factors/authenticators.js';
import { hasPasskey } from '../factors/passkeys.js';
import { temporaryLocks, type TemporaryLock } from '../attempts.js';
import { addressesRefusedFor } from '../address-waits.js';
import { normaliseEmail } from '../email.js';
import { findGenericMailbox } from '../generic-mailboxes.js';
import { paged, window, type PageRequest, type Paged } from './pages.js';
import type { Deps } from '../deps.js';

/** Who asks, and from where (for the audit trail). */
export interface AdminRequest { principal: Principal; ip?: string }

export interface PersonSummary { id: string; email: string; name: string; status: UserStatus; sites: string[]; lastSignInAt: Date | null }

export interface PersonDetails {
  id: string;
  email: string;
  name: string;
  status: UserStatus;
  /** Has a second factor: an authenticator app, a passkey or both (what an MFA reset would remove). */
  enrolled: boolean;
  locked: boolean;
  /** Locks after wrong passwords or codes that lift by themselves, and the addresses refused for them while they waited. */
  temporaryLocks: TemporaryLock[];
  addressesRefused: string[];
  lastSignInAt: Date | null;
  orgRoles: readonly OrgRole[];
  /** Each site, with whether the asker may change the role there or remove the person from it. */
  sites: { ods: string; name: string; role: SiteRole; mayChangeRole: boolean; mayRemove: boolean }[];
  /** What the asker may do to this person (for the console's buttons). */
  allowed: Partial<Record<Act, boolean>>;
  /** Where a reset's code would go: shown to the asker, or emailed to the person only (a locum who also works elsewhere). */
  codesGoTo: 'caller' | 'person';
}

const PERSON_ACTS: Act[] = [
  'user.reset-password', 'user.reset-mfa', 'user.unlock', 'user.disable', 'user.enable', 'user.activation-code', 'user.edit', 'user.end-session',
];

async function loadTarget(deps: Deps, r: AdminRequest, id: string, act: Act): Promise<{ user: UserRow; target: PersonTarget }> {
  const user = await requireUserById(deps, id);
  const target = await loadPersonTarget(deps, user.id);
  await authorize(deps, r.principal, act, { person: target }, r);
  return { user, target };
}

/** Refuses (403, audited) unless the asker may do `act` to the person now: a confirmation page is shown only to those who may go ahead. */
export async function requireAct(deps: Deps, r: AdminRequest, id: string, act: Act): Promise<void> {
  await loadTarget(deps, r, id, act);
}

export async function searchPeople(deps: Deps, r: AdminRequest, text: string, page?: PageRequest): Promise<Paged<PersonSummary>> {
  await authorize(deps, r.principal, 'user.search', {}, r);
  const q = text.normalize('NFC').trim();
  if (q.length < 2 || q.length > 100) throw new InvalidInput('Enter 2 to 100 characters of a name or email to search for', 'q');
  const w = window(page);
  const rows = await users.searchUsers(deps.db, q, supportedSiteIds(r.principal), w.limit, w.offset);
  return paged(rows, w, (u) => ({ id: u.id, email: u.email, name: u.name, status: u.status, sites: u.sites, lastSignInAt: u.last_sign_in_at }));
}

export async function viewPerson(deps: Deps, r: AdminRequest, id: string): Promise<PersonDetails> {
  const { user, target } = await loadTarget(deps, r, id, 'user.view');
  const sites = await memberships.listMembershipsOfUser(deps.db, user.id);
  const allowed: Partial<Record<Act, boolean>> = {};
  for (const act of PERSON_ACTS) allowed[act] = can(r.principal, act, { person: target });
  const emailKey = normaliseEmail(user.email).key;
  return {
    id: user.id, email: user.email, name: user.name, status: user.status,
    enrolled: (await hasAuthenticator(deps, user.id)) || (await hasPasskey(deps, user.id)), locked: user.locked_at !== null, lastSignInAt: user.last_sign_in_at,
    temporaryLocks: await temporaryLocks(deps, user.id, emailKey),
    addressesRefused: await addressesRefusedFor(deps, [emailKey, user.id]),
    orgRoles: target.orgRoles,
    sites: sites.map((m) => ({
      ods: m.ods_code, name: m.site_name, role: m.role,
      mayChangeRole: can(r.principal, 'user.role', { siteId: m.site_id, person: target }),
      mayRemove: can(r.principal, 'user.unlink', { siteId: m.site_id, person: target }),
    })),
    allowed,
    codesGoTo: codeGoesTo(r.principal, target),
  };
}

/**
 * A shared team mailbox (pharmacy@, info@) is refused unless the asker says
 * it is read by this one person only: some sole pharmacists do use info@
 * their own pharmacy, but a code or reset sent to a box a team reads hands
 * the account to the team.
 */
export function checkOwnMailbox(email: string, ods: string | undefined, onePersonOnly: boolean | undefined): void {
  const shared = findGenericMailbox(email.trim(), ods);
  if (shared && !onePersonOnly) {
    throw new InvalidInput('This looks like a shared team mailbox. Enter the person\'s own email address, or tick "Only this person reads this mailbox" if that is true.', 'email');
  }
}

/** A new person at a site; the activation code is returned once. */
export async function addPerson(deps: Deps, r: AdminRequest, ods: string, input: { email: string; name: string; role?: string; onePersonOnly?: boolean }) {
  const site = await requireSite(deps, ods);
  const role = checkRole(input.role);
  await authorize(deps, r.principal, 'user.add', { siteId: site.id, role }, r);
  checkOwnMailbox(input.email, site.ods_code, input.onePersonOnly);
  const { user, activationCode } = await createUser(deps, r.principal.actor, { email: input.email, name: input.name, site: site.ods_code, role }, { ip: r.ip });
  return { user, site, role, activationCode: activationCode! };
}

/**
 * Gives a person who already has an account (a locum) another site: at once
 * when the asker reaches the whole person, otherwise waiting for the person
 * to confirm it with a code pharmid emails them (site-links.ts).
 */
export async function linkPerson(deps: Deps, r: AdminRequest, who: { id?: string; email?: string }, input: { site: string; role?: string }) {
  const site = await requireSite(deps, input.site);
  const role = checkRole(input.role);
  // The site first: nobody learns whether an email has an account unless they may link people to that site.
  await authorize(deps, r.principal, 'user.link', { siteId: site.id, role }, r);
  const user = who.id ? await requireUserById(deps, who.id) : await requireUser(deps, who.email ?? '');
  return linkToSite(deps, r, user.id, site, role);
}

export async function unlinkPerson(deps: Deps, r: AdminRequest, id: string, ods: string): Promise<void> {
  const user = await requireUserById(deps, id);
  const site = await requireSite(deps, ods);
  await authorize(deps, r.principal, 'user.unlink', { siteId: site.id, person: await loadPersonTarget(deps, user.id) }, r);
  await unlinkUser(deps, r.principal.actor, user, site, { ip: r.ip });
}

export async function changePersonRole(deps: Deps, r: AdminRequest, id: string, ods: string, role: string): Promise<SiteRole> {
  const user = await requireUserById(deps, id);
  const site = await requireSite(deps, ods);
  const checked = checkRole(role);
  await authorize(deps, r.principal, 'user.role', { siteId: site.id, person: await loadPersonTarget(deps, user.id), role: checked }, r);
  return changeRole(deps, r.principal.actor, user, site, checked, { ip: r.ip });
}

/**
 * Resets: the code is returned (to be shown once) only when the person is
 * entirely within the asker's reach; otherwise it is emailed to the person
 * alone and the outcome says where it went.
 */
export async function resetPersonPassword(deps: Deps, r: AdminRequest, id: string): Promise<ResetOutcome> {
  const { user } = await loadTarget(deps, r, id, 'user.reset-password');
  return resetPassword(deps, r.principal.actor, user.email, { ip: r.ip }, decidedAgain(deps, r, user.id, 'user.reset-password'));
}

export async function resetPersonMfa(deps: Deps, r: AdminRequest, id: string): Promise<ResetOutcome> {
  const { user } = await loadTarget(deps, r, id, 'user.reset-mfa');
  return resetMfa(deps, r.principal.actor, user.email, { ip: r.ip }, decidedAgain(deps, r, user.id, 'user.reset-mfa'));
}

/**
 * The reach decision taken again inside the reset's transaction, with the
 * person's row locked: a link made since the first look (which would narrow
 * the asker's reach) is seen, so the code then goes to the person alone.
 */
function decidedAgain(deps: Deps, r: AdminRequest, userId: string, act: Act): CodeDecision {
  return async (tx) => {
    const target = await loadPersonTarget(deps, userId, tx);
    await authorize(deps, r.principal, act, { person: target }, r);
    return codeGoesTo(r.principal, target);
  };
}

export async function unlockPerson(deps: Deps, r: AdminRequest, id: string): Promise<UserRow> {
  const { user } = await loadTarget(deps, r, id, 'user.unlock');
  return unlockUser(deps, r.principal.actor, user.email, { ip: r.ip });
}

export async function disablePerson(deps: Deps, r: AdminRequest, id: string): Promise<UserRow> {
  const { user } = await loadTarget(deps, r, id, 'user.disable');
  if (user.status === 'disabled') throw new Conflict(`${user.email} is already disabled`);
  return disableUser(deps, r.principal.actor, user.email, { ip: r.ip });
}

export async function enablePerson(deps: Deps, r: AdminRequest, id: string): Promise<UserRow> {
  const { user } = await loadTarget(deps, r, id, 'user.enable');
  return enableUser(deps, r.principal.actor, user, { ip: r.ip });
}

/** The sites where someone is an administrator, by name: for the console's "signed in as" line. */
export async function sitesAdministeredBy(deps: Deps, userId: string): Promise<string[]> {
  const mine = await memberships.listMembershipsOfUser(deps.db, userId);
  return mine.filter((m) => m.role === 'site-admin').map((m) => m.site_name);
}
