import { withTransaction, type Db } from '../db/pool.js';
import * as users from '../db/queries/users.js';
import * as memberships from '../db/queries/memberships.js';
import * as sites from '../db/queries/sites.js';
import type { UserRow } from '../db/queries/users.js';
import type { SiteRow } from '../db/queries/sites.js';
import type { SiteRole } from '../db/queries/memberships.js';
import { Conflict, NotFound } from './errors.js';
import { assertRoomAt, requireSite } from './sites.js';
import { lockPeopleThenSites, lockPerson } from './lock-order.js';
import { checkRole, noticeTo, requireUser, type ActContext } from './users.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';

/** Person ids are UUIDs; anything else is simply not found (never a database error). */
export async function requireUserById(deps: Deps, id: string): Promise<UserRow> {
  const user = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? await users.findUserById(deps.db, id) : undefined;
  if (!user) throw new NotFound('No such person');
  return user;
}

/** Allows a disabled person to sign in again (each of their sites must have room for them). */
export async function enableUser(deps: Deps, actor: Actor, user: UserRow, context: ActContext = {}): Promise<UserRow> {
  const enabled = await withTransaction(deps.db, async (tx) => {
    // The person's row, then all their sites at once (by id), in the one order of lock-order.ts: one by one in
    // membership order, two enables sharing two sites could each hold the site the other waits for.
    await lockPerson(tx, user.id);
    const theirs = await memberships.listMembershipsOfUser(tx, user.id);
    await lockPeopleThenSites(tx, [], theirs.map((m) => m.site_id));
    const rows = await sites.findSitesByIds(tx, theirs.map((m) => m.site_id));
    for (const site of rows) await assertRoomAt(tx, site);
    const status = await users.enableUser(tx, user.id);
    if (!status) throw new Conflict(`${user.email} is not disabled`);
    await audit(tx, actor, { action: 'user.enable', outcome: 'success', targetUser: user.id, ...context, details: { status } });
    return { ...user, status };
  });
  await noticeTo(deps, user, 'enabled', actor);
  return enabled;
}

/**
 * Refuses to leave a site with no active administrator. Runs after
 * assertRoomAt / lockSiteAndCount has locked the site, so two administrators
 * demoting each other at once cannot both succeed.
 */
async function keepAnAdministrator(tx: Db, site: SiteRow, user: UserRow, currentRole: SiteRole | undefined) {
  const counted = await sites.lockSiteAndCount(tx, site.id);
  if (currentRole === 'site-admin' && user.status !== 'disabled' && (counted?.administrators ?? 0) <= 1) {
    throw new Conflict(`${user.name} is the only administrator of ${site.name} (${site.ods_code}). Make someone else an administrator first.`, 'role');
  }
}

export async function changeRole(deps: Deps, actor: Actor, user: UserRow, site: SiteRow, input: string, context: ActContext = {}): Promise<SiteRole> {
  const role = checkRole(input);
  const changed = await withTransaction(deps.db, async (tx) => {
    await lockPerson(tx, user.id);
    const current = await memberships.findMembershipRole(tx, user.id, site.id);
    if (!current) throw new NotFound(`${user.email} does not work at ${site.ods_code}`);
    if (current === role) return false;
    if (role === 'member') await keepAnAdministrator(tx, site, user, current);
    await memberships.updateMembershipRole(tx, user.id, site.id, role);
    await audit(tx, actor, { action: 'user.role', outcome: 'success', targetUser: user.id, siteId: site.id, ip: context.ip, details: { from: current, to: role } });
    return true;
  });
  if (changed) await noticeTo(deps, user, 'role-changed', actor, `${site.name} (${site.ods_code}): now ${role}`);
  return role;
}

/** Removes a person from one site; their identity and other sites stay. */
export async function unlinkUser(deps: Deps, actor: Actor, user: UserRow, site: SiteRow, context: ActContext = {}): Promise<void> {
  await withTransaction(deps.db, async (tx) => {
    await lockPerson(tx, user.id);
    const current = await memberships.findMembershipRole(tx, user.id, site.id);
    if (!current) throw new NotFound(`${user.email} does not work at ${site.ods_code}`);
    if ((await memberships.countMembershipsOfUser(tx, user.id)) === 1) {
      throw new Conflict(`${site.ods_code} is ${user.email}'s only site: disable them instead`, 'site');
    }
    await keepAnAdministrator(tx, site, user, current);
    await memberships.deleteMembership(tx, user.id, site.id);
    await audit(tx, actor, { action: 'user.unlink', outcome: 'success', targetUser: user.id, siteId: site.id, ip: context.ip, details: { role: current } });
  });
  await noticeTo(deps, user, 'site-unlinked', actor, `${site.name} (${site.ods_code})`);
}

/**
 * For `pharmid user link` on someone who already works at the site with
 * another role: the role change, through changeRole. Undefined when they do
 * not work there (a link), or already have that role (the link refuses it).
 */
export async function changeRoleIfLinked(deps: Deps, actor: Actor, input: { email: string; site: string; role?: string }) {
  const role = checkRole(input.role);
  const user = await requireUser(deps, input.email);
  const site = await requireSite(deps, input.site);
  const current = await memberships.findMembershipRole(deps.db, user.id, site.id);
  if (!current || current === role) return undefined;
  return { user, site: site.ods_code, role: await changeRole(deps, actor, user, site, role) };
}
