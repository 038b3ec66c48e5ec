import type { Db } from '../db/pool.js';
import * as users from '../db/queries/users.js';
import * as sites from '../db/queries/sites.js';
import type { UserRow } from '../db/queries/users.js';

/**
 * The one order in which pharmid takes row locks on people and sites, in
 * every transaction that takes both kinds:
 *
 *   1. people (users rows), by id;
 *   2. then sites (sites rows), by id.
 *
 * Two transactions that lock rows in opposite orders can each hold what the
 * other waits for; Postgres then ends one of them with "deadlock detected",
 * which reaches the administrator as a 500. People come first because most
 * acts start from one person (a link, a reset, an enable, a confirmed site)
 * and only learn which sites they touch once that person's row is held; an
 * import knows its people (by email) and its sites before it writes anything.
 *
 * A transaction may lock in several steps as it learns what it needs (a
 * person, then their sites), so long as it never locks a person after a
 * site, and locks several of one kind in one call (sorted here). Locking a
 * row it already holds again is free. A new row (a person an import creates)
 * is no one else's until the commit, so it is outside the order.
 */
export async function lockPeopleThenSites(tx: Db, people: string[], siteIds: string[] = []): Promise<Map<string, UserRow>> {
  const locked = people.length ? await users.lockUserRows(tx, [...new Set(people)]) : new Map<string, UserRow>();
  if (siteIds.length) await sites.lockSites(tx, [...new Set(siteIds)]);
  return locked;
}

/** One person's row, in the order above (before any site): undefined if there is no such person. */
export async function lockPerson(tx: Db, id: string): Promise<UserRow | undefined> {
  return (await lockPeopleThenSites(tx, [id])).get(id);
}
