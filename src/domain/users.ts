import { withTransaction } from '../db/pool.js';
import * as users from '../db/queries/users.js';
import * as memberships from '../db/queries/memberships.js';
import * as passwords from '../db/queries/passwords.js';
import * as activationCodes from '../db/queries/activation-codes.js';
import * as totpCredentials from '../db/queries/totp-credentials.js';
import * as recoveryCodes from '../db/queries/recovery-codes.js';
import type { UserRow } from '../db/queries/users.js';
import type { CodePurpose } from '../db/queries/activation-codes.js';
import type { SiteRole } from '../db/queries/memberships.js';
import { Conflict, InvalidInput, NotFound } from './errors.js';
import { normaliseEmail } from './email.js';
import { checkNewPassword } from './passwords.js';
import { hashCode, randomCode } from './secrets.js';
import { assertRoomAt, requireSite } from './sites.js';
import { actorName, audit, type Actor } from './audit.js';
import { clearLocks } from './attempts.js';
import { liftWaitsRefusedFor } from './address-waits.js';
import { sendCodeToPerson } from './code-mail.js';
import { describeActor } from './notice-by.js';
import { tellPerson, type AccountChange } from './person-notices.js';
import type { Deps } from './deps.js';
import type { Db } from '../db/pool.js';
import { OPERATOR, loadPrincipal } from './authorization.js';
import { linkToSite } from './site-links.js';
import { lockPerson } from './lock-order.js';
import * as passkeys from '../db/queries/passkeys.js';
import { removeAllPasskeys } from './factors/passkeys.js';

/** Where an administrative act came from, for the audit trail. */
export interface ActContext { ip?: string; siteId?: string }

export const SITE_ROLES: readonly SiteRole[] = ['member', 'site-admin'];

export function checkRole(role: string | undefined): SiteRole {
  const r = (role ?? 'member') as SiteRole;
  if (!SITE_ROLES.includes(r)) throw new InvalidInput(`role must be one of ${SITE_ROLES.join(', ')}`, 'role');
  return r;
}

export function checkName(input: string): string {
  const name = input.normalize('NFC').trim();
  if (name.length < 1 || name.length > 200) throw new InvalidInput('Enter a name of 1 to 200 characters', 'name');
  return name;
}

/**
 * A new single-use code for one purpose (replacing any earlier code for the
 * same step, never the other step's), shown as XXXXX-XXXXX. `shownTo` is the
 * actor who will be shown it (actorName), or null when it goes to the
 * person's own email alone; unsaid, it counts as shown to someone unknown.
 */
export async function issueActivationCode(deps: Deps, db: Db, userId: string, purpose: CodePurpose, shownTo: string | null = 'unknown'): Promise<string> {
  const code = randomCode(10);
  await activationCodes.replaceActivationCode(db, userId, purpose, hashCode(code), deps.settings.activationCodeTtl, shownTo);
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** Tells the person what was done to their account, and by whom (after the change is committed). */
export async function noticeTo(deps: Deps, user: Pick<UserRow, 'email' | 'name'>, change: AccountChange, actor: Actor, detail?: string): Promise<void> {
  await tellPerson(deps, user, { change, by: await describeActor(deps, actor), ...(detail ? { detail } : {}) });
}

export async function requireUser(deps: Deps, email: string): Promise<UserRow> {
  const { key } = normaliseEmail(email);
  const user = await users.findUserByEmailKey(deps.db, key);
  if (!user) throw new NotFound(`No one has the email ${email.trim()}`);
  return user;
}

export interface CreatedUser { user: UserRow; activationCode?: string }

/**
 * Creates a person with their first site membership, and either their
 * password or an activation code, in one transaction.
 */
export async function createUser(
  deps: Deps, actor: Actor,
  input: { email: string; name: string; site: string; role?: string; password?: string },
  context: ActContext = {},
): Promise<CreatedUser> {
  const { email, key } = normaliseEmail(input.email);
  const name = checkName(input.name);
  const role = checkRole(input.role);
  if (input.password !== undefined) checkNewPassword(input.password, email);
  const site = await requireSite(deps, input.site);
  const hash = input.password !== undefined ? await deps.passwords.hash(input.password, context.ip) : undefined;
  return withTransaction(deps.db, async (tx) => {
    await assertRoomAt(tx, site);
    if (await users.findUserByEmailKey(tx, key)) throw new Conflict(`Someone already has the email ${email}: each person needs their own`, 'email');
    let user: UserRow;
    try {
      user = await users.insertUser(tx, { email, emailKey: key, name, status: hash ? 'active' : 'invited' });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new Conflict(`Someone already has the email ${email}: each person needs their own`, 'email');
      throw err;
    }
    await memberships.upsertMembership(tx, user.id, site.id, role);
    let activationCode: string | undefined;
    if (hash) await passwords.upsertPasswordHash(tx, user.id, hash);
    else activationCode = await issueActivationCode(deps, tx, user.id, 'activation', actorName(actor));
    await audit(tx, actor, { action: 'user.add', outcome: 'success', targetUser: user.id, siteId: site.id, ip: context.ip, details: { role } });
    return { user, activationCode };
  });
}

/**
 * Gives an existing person another site (locums), as `actor` (the command
 * line: directly, since an operator reaches everyone). Never changes the role
 * at a site they already work at (see changeRole). How a link is decided and
 * written is site-links.ts.
 */
export async function linkUser(deps: Deps, actor: Actor, input: { email: string; site: string; role?: string }, context: ActContext = {}): Promise<{ user: UserRow; site: string; role: SiteRole; waiting: boolean }> {
  const role = checkRole(input.role);
  const user = await requireUser(deps, input.email);
  const site = await requireSite(deps, input.site);
  const principal = actor.kind === 'user' ? await loadPrincipal(deps, actor.id) : OPERATOR;
  const r = await linkToSite(deps, { principal, ip: context.ip }, user.id, site, role);
  return { user, site: site.ods_code, role, waiting: r.waiting };
}

/**
 * Where a reset's code goes: to the one who asked (shown once), or only to the
 * person's own email, never shown, when the asker does not reach the person
 * entirely (DESIGN.md, "Reach").
 */
export type CodeTo = 'caller' | 'person';
/** Decides where the code goes inside the reset's transaction, after the person's row is locked (and may refuse by throwing). */
export type CodeDecision = (tx: Db) => Promise<CodeTo>;

/** A reset's outcome: the code to show, or the address it was emailed to instead; and, for an MFA reset, the passkeys it removed. */
export type CodeShown = { user: UserRow; activationCode: string; emailedTo?: undefined; passkeysRemoved?: string[] };
export type ResetOutcome = CodeShown | { user: UserRow; activationCode?: undefined; emailedTo: string; passkeysRemoved?: string[] };

/** What a reset's change removed besides its credential, for the audit event and the person's email. */
interface Removed { passkeys?: string[] }

/**
 * One reset, in one transaction: the change, the new code and the audit
 * event; when the code goes to the person only, it is mailed before the
 * commit, so a mail that cannot be sent undoes the reset (nothing is left
 * that nobody could use). Every reset is then told to the person.
 */
async function reset(
  deps: Deps, actor: Actor, user: UserRow, kind: 'password-reset' | 'mfa-reset', decide: CodeTo | CodeDecision, context: ActContext,
  change: (tx: Db) => Promise<Removed | void>,
): Promise<ResetOutcome> {
  const { code, codeTo, removed } = await withTransaction(deps.db, async (tx) => {
    // The person's row lock first: no link can add a site between the decision and the code (site-links.ts takes it
    // too); a reset locks no site, so it keeps the order of lock-order.ts.
    await lockPerson(tx, user.id);
    const codeTo: CodeTo = typeof decide === 'function' ? await decide(tx) : decide;
    const removed = (await change(tx)) ?? {};
    const issued = await issueActivationCode(deps, tx, user.id, kind, codeTo === 'caller' ? actorName(actor) : null);
    await users.revokeUserSessions(tx, user.id);
    await audit(tx, actor, {
      action: `user.${kind === 'mfa-reset' ? 'reset-mfa' : 'reset-password'}`, outcome: 'success', targetUser: user.id, ...context,
      details: { code_to: codeTo, ...(removed.passkeys ? { passkeys_removed: removed.passkeys } : {}) },
    });
    if (codeTo === 'person') await sendCodeToPerson(deps.mailer, deps.settings.issuer, user, issued, kind);
    return { code: issued, codeTo, removed };
  });
  // The person's email names the keys that stopped working, so a key they still hold is not a surprise at the next sign-in.
  const keys = removed.passkeys?.length ? `the keys removed: ${removed.passkeys.map((n) => `"${n}"`).join(', ')}` : undefined;
  await noticeTo(deps, user, kind, actor, keys);
  const passkeysRemoved = removed.passkeys;
  return codeTo === 'person' ? { user, emailedTo: user.email, passkeysRemoved } : { user, activationCode: code, passkeysRemoved };
}

/**
 * Removes the authenticator app, every passkey and security key, and the
 * recovery codes, and issues an MFA-reset code: at the next sign-in the
 * person gives their password and then that code (so a stolen password alone
 * cannot enrol a new authenticator), then enrols. A passkey left behind would
 * still sign the person in on its own (or stand in for the code), so the
 * keys go in the same transaction; the audit event and the person's email
 * name them. An outstanding password-reset code stays: the person then needs both.
 */
export function resetMfa(deps: Deps, actor: Actor, email: string, context?: ActContext): Promise<CodeShown>;
export function resetMfa(deps: Deps, actor: Actor, email: string, context: ActContext, codeTo: CodeTo | CodeDecision): Promise<ResetOutcome>;
export async function resetMfa(deps: Deps, actor: Actor, email: string, context: ActContext = {}, codeTo: CodeTo | CodeDecision = 'caller'): Promise<ResetOutcome> {
  const user = await requireUser(deps, email);
  return reset(deps, actor, user, 'mfa-reset', codeTo, context, async (tx) => {
    await totpCredentials.deleteTotpCredentials(tx, user.id);
    await recoveryCodes.deleteRecoveryCodes(tx, user.id);
    const names = (await passkeys.listPasskeys(tx, user.id)).map((k) => k.name);
    await removeAllPasskeys(tx, user.id);
    return { passkeys: names };
  });
}

/** Removes the password and issues a password-reset code to choose a new one at "Activate your account". */
export function resetPassword(deps: Deps, actor: Actor, email: string, context?: ActContext): Promise<CodeShown>;
export function resetPassword(deps: Deps, actor: Actor, email: string, context: ActContext, codeTo: CodeTo | CodeDecision): Promise<ResetOutcome>;
export async function resetPassword(deps: Deps, actor: Actor, email: string, context: ActContext = {}, codeTo: CodeTo | CodeDecision = 'caller'): Promise<ResetOutcome> {
  const user = await requireUser(deps, email);
  if (user.status === 'disabled') throw new Conflict(`${user.email} is disabled; enable them first`);
  return reset(deps, actor, user, 'password-reset', codeTo, context, (tx) => passwords.deletePassword(tx, user.id));
}

export async function disableUser(deps: Deps, actor: Actor, email: string, context: ActContext = {}): Promise<UserRow> {
  const user = await requireUser(deps, email);
  await withTransaction(deps.db, async (tx) => {
    await users.setUserStatus(tx, user.id, 'disabled');
    await users.revokeUserSessions(tx, user.id);
    await audit(tx, actor, { action: 'user.disable', outcome: 'success', targetUser: user.id, ...context });
  });
  await noticeTo(deps, user, 'disabled', actor);
  return { ...user, status: 'disabled' };
}

/**
 * Lifts every brute-force lock on a person (temporary and permanent), and the
 * wait of each address their tries were refused from while it waited that is
 * their own network (they signed in from it before): a person behind a
 * pharmacy's shared address, kept out by someone else's wrong tries from
 * there, is let in by the same unlock (addresses lifted are audited and
 * returned). An address where someone merely typed their email is not lifted.
 */
export async function unlockUser(deps: Deps, actor: Actor, email: string, context: ActContext = {}): Promise<UserRow & { addressesLifted: string[] }> {
  const user = await requireUser(deps, email);
  const key = normaliseEmail(user.email).key;
  await clearLocks(deps, user.id, key);
  const addressesLifted = await liftWaitsRefusedFor(deps, user.id, [key, user.id]);
  await audit(deps.db, actor, {
    action: 'user.unlock', outcome: 'success', targetUser: user.id, ...context,
    ...(addressesLifted.length ? { details: { addresses_lifted: addressesLifted } } : {}),
  });
  await noticeTo(deps, user, 'unlocked', actor);
  return { ...user, addressesLifted };
}
