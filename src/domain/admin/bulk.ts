import * as users from '../../db/queries/users.js';
import type { UserRow } from '../../db/queries/users.js';
import * as memberships from '../../db/queries/memberships.js';
import { withTransaction, type Db } from '../../db/pool.js';
import { authorize, can, loadPersonTarget, type Act } from '../authorization.js';
import { requireSite } from '../sites.js';
import { lockPeopleThenSites, lockPerson } from '../lock-order.js';
import { Conflict, InvalidInput, PharmidError } from '../errors.js';
import { audit } from '../audit.js';
import { issueActivationCode, noticeTo } from '../users.js';
import { sendCodeToPerson } from '../code-mail.js';
import type { AdminRequest } from './people.js';
import { countActivationCode } from '../activation-code-sends.js';
import type { Deps } from '../deps.js';

/**
 * Acts on several people of one site at once, from the site's list:
 *  - send-codes: a new activation code to each person chosen who has not
 *    activated yet, emailed to them alone (never shown: there are many);
 *  - disable: each person chosen can no longer sign in, sessions end.
 * Every person goes through the same reach rule as one at a time. If the
 * asker does not reach any one of them, nothing is done and they are named.
 */
export type BulkAct = 'send-codes' | 'disable';
export const BULK_ACTS: readonly BulkAct[] = ['send-codes', 'disable'];
const RULE: Record<BulkAct, Act> = { 'send-codes': 'user.activation-code', disable: 'user.disable' };
export const MAX_BULK = 200;

export interface BulkPerson { id: string; name: string; email: string }
export interface BulkPlan {
  act: BulkAct;
  site: { ods: string; name: string };
  /** Who it will be done to. */
  ready: BulkPerson[];
  /** Chosen, but nothing to do (already activated, already disabled). */
  skipped: (BulkPerson & { reason: string })[];
  /** Chosen, but not the asker's to act on: while any is here, nothing is done. */
  refused: (BulkPerson & { reason: string })[];
  /** Ids that are no one at this site (their names are not the asker's to see). */
  unknown: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkChoice(act: string, ids: string[]): BulkAct {
  if (!BULK_ACTS.includes(act as BulkAct)) throw new InvalidInput('Choose what to do: send activation codes, or disable', 'act');
  if (ids.length === 0) throw new InvalidInput('Select at least one person', 'person');
  if (ids.length > MAX_BULK) throw new InvalidInput(`Select at most ${MAX_BULK} people at a time`, 'person');
  if (!ids.every((id) => UUID.test(id))) throw new InvalidInput('Select people from the list', 'person');
  return act as BulkAct;
}

async function plan(deps: Deps, r: AdminRequest, ods: string, act: string, ids: string[], lock?: Db): Promise<BulkPlan & { rows: UserRow[] }> {
  const chosen = checkChoice(act, [...new Set(ids)]);
  const site = await requireSite(deps, ods);
  await authorize(deps, r.principal, 'site.view', { siteId: site.id }, r);
  const db = lock ?? deps.db;
  const out: BulkPlan & { rows: UserRow[] } = { act: chosen, site: { ods: site.ods_code, name: site.name }, ready: [], skipped: [], refused: [], unknown: 0, rows: [] };
  // Inside the batch's transaction every row is locked at once, in id order, whatever order they were ticked in
  // (the one order of lock-order.ts, which an import linking the same people takes too).
  const locked = lock ? await lockPeopleThenSites(lock, [...new Set(ids)]) : undefined;
  for (const id of [...new Set(ids)]) {
    const user = locked ? locked.get(id) : await users.findUserById(db, id);
    if (!user || !(await memberships.findMembershipRole(db, user.id, site.id))) { out.unknown += 1; continue; }
    const who = { id: user.id, name: user.name, email: user.email };
    const target = await loadPersonTarget(deps, user.id, db);
    if (r.principal.userId === user.id && chosen === 'disable') { out.refused.push({ ...who, reason: 'you cannot disable your own account' }); continue; }
    if (!can(r.principal, RULE[chosen], { person: target })) {
      out.refused.push({ ...who, reason: 'they also work somewhere you do not look after, or hold a role above yours' });
      continue;
    }
    if (chosen === 'send-codes' && user.status !== 'invited') {
      out.skipped.push({ ...who, reason: user.status === 'disabled' ? 'disabled: enable them first' : 'already activated: they sign in with their password' });
      continue;
    }
    if (chosen === 'disable' && user.status === 'disabled') { out.skipped.push({ ...who, reason: 'already disabled' }); continue; }
    out.ready.push(who);
    out.rows.push(user);
  }
  return out;
}

/** What a bulk act would do, for the confirmation page: nothing is changed. */
export async function planBulk(deps: Deps, r: AdminRequest, ods: string, act: string, ids: string[]): Promise<BulkPlan> {
  const { rows: _, ...p } = await plan(deps, r, ods, act, ids);
  return p;
}

/** Nothing is done unless every person chosen can be acted on; a refusal is audited for each person out of reach. */
async function refuseUnlessAll(deps: Deps, r: AdminRequest, p: BulkPlan): Promise<void> {
  for (const x of p.refused) {
    await authorize(deps, r.principal, RULE[p.act], { person: await loadPersonTarget(deps, x.id) }, r).catch(() => {});
  }
  if (p.unknown) throw new Conflict(`${p.unknown === 1 ? 'One person' : `${p.unknown} people`} chosen no longer ${p.unknown === 1 ? 'works' : 'work'} at ${p.site.name}. Nothing was done: choose again from the list.`, 'person');
  if (p.refused.length) {
    throw new Conflict(`Nothing was done: you cannot do this for ${p.refused.map((x) => `${x.name} (${x.reason})`).join('; ')}.`, 'person');
  }
  if (!p.ready.length) throw new Conflict('Nothing to do: no one chosen needs it.', 'person');
}

/**
 * Disables everyone chosen in one transaction (rows locked, reach decided
 * again inside it): all of them, or none. Each is then told by email.
 */
async function disableAll(deps: Deps, r: AdminRequest, ods: string, ids: string[]): Promise<BulkPlan> {
  const site = await requireSite(deps, ods);
  const done = await withTransaction(deps.db, async (tx) => {
    const p = await plan(deps, r, ods, 'disable', ids, tx);
    await refuseUnlessAll(deps, r, p);
    for (const user of p.rows) {
      await users.setUserStatus(tx, user.id, 'disabled');
      await users.revokeUserSessions(tx, user.id);
      await audit(tx, r.principal.actor, { action: 'user.disable', outcome: 'success', targetUser: user.id, siteId: site.id, ip: r.ip, details: { bulk: true } });
    }
    return p;
  });
  for (const user of done.rows) await noticeTo(deps, user, 'disabled', r.principal.actor);
  const { rows: _, ...p } = done;
  return p;
}

/**
 * Sends the codes person by person, each in its own transaction with its
 * mail (as a reset does): a code is an email that cannot be taken back, so
 * one mail that fails must not undo the codes already sent. Reach is decided
 * for everyone before the first is sent; the answer says who got one.
 */
async function sendCodes(deps: Deps, r: AdminRequest, ods: string, ids: string[]): Promise<BulkPlan & { failed: (BulkPerson & { reason: string })[] }> {
  const { rows, ...p } = await plan(deps, r, ods, 'send-codes', ids);
  await refuseUnlessAll(deps, r, p);
  const site = await requireSite(deps, ods);
  const sent: BulkPerson[] = [];
  const failed: (BulkPerson & { reason: string })[] = [];
  for (const user of rows) {
    const who = { id: user.id, name: user.name, email: user.email };
    let giveBack: (() => Promise<void>) | undefined;
    try {
      // The same few a day as one at a time: a bulk form posted in a loop sends nobody more.
      giveBack = await countActivationCode(deps, r.principal.actor, user);
      await withTransaction(deps.db, async (tx) => {
        const locked = await lockPerson(tx, user.id);
        if (locked?.status !== 'invited') throw new Conflict(`${user.name} has activated meanwhile`);
        await authorize(deps, r.principal, RULE['send-codes'], { person: await loadPersonTarget(deps, user.id, tx) }, r);
        const code = await issueActivationCode(deps, tx, user.id, 'activation', null);
        await audit(tx, r.principal.actor, {
          action: 'user.activation-code', outcome: 'success', targetUser: user.id, siteId: site.id, ip: r.ip, details: { bulk: true, code_to: 'person' },
        });
        await sendCodeToPerson(deps.mailer, deps.settings.issuer, user, code, 'new-account');
      });
      sent.push(who);
    } catch (e) {
      await giveBack?.();
      // This person's code is undone with its mail; the others already sent stand, and the page says who is left.
      failed.push({ ...who, reason: e instanceof PharmidError ? e.message : 'the email could not be sent' });
    }
  }
  return { ...p, ready: sent, failed };
}

export async function applyBulk(deps: Deps, r: AdminRequest, ods: string, act: string, ids: string[]): Promise<BulkPlan & { failed: (BulkPerson & { reason: string })[] }> {
  const chosen = checkChoice(act, ids);
  if (chosen === 'disable') return { ...(await disableAll(deps, r, ods, ids)), failed: [] };
  return sendCodes(deps, r, ods, ids);
}
