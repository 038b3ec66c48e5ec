import { withTransaction, type Db } from '../db/pool.js';
import * as users from '../db/queries/users.js';
import * as memberships from '../db/queries/memberships.js';
import * as sitesQ from '../db/queries/sites.js';
import type { SiteRow } from '../db/queries/sites.js';
import type { SiteRole } from '../db/queries/memberships.js';
import { authorize, can, loadPersonTarget } from './authorization.js';
import { linkInTransaction } from './site-links.js';
import { lockPeopleThenSites } from './lock-order.js';
import * as pending from '../db/queries/pending-memberships.js';
import { Forbidden, InvalidInput, PharmidError, TooManyAttempts } from './errors.js';
import { normaliseEmail } from './email.js';
import { normaliseOds } from './ods.js';
import { checkName, checkRole, issueActivationCode } from './users.js';
import { assertRoomAt } from './sites.js';
import { actorName, audit } from './audit.js';
import { parseCsv } from './csv.js';
import { decodeUtf8, textProblem } from './text.js';
import { findGenericMailbox } from './generic-mailboxes.js';
import type { AdminRequest } from './admin/people.js';
import type { Deps } from './deps.js';

export type ProblemKind = 'format' | 'invalid-email' | 'generic-mailbox' | 'shared-email' | 'duplicate-row' | 'invalid-name'
  | 'invalid-role' | 'invalid-site' | 'unknown-site' | 'existing-account' | 'over-cap' | 'forbidden';

export interface ImportProblem { line: number; email?: string; kind: ProblemKind; message: string }

/** `waiting`: an existing account linked by someone who does not reach them entirely, until they confirm it. */
export interface ImportedPerson { email: string; name: string; site: string; role: SiteRole; activation_code?: string; existing: boolean; waiting?: boolean }

interface Outgoing { mails: (() => Promise<void>)[]; after: (() => Promise<void>)[] }

export interface ImportReport {
  dry_run: boolean;
  /** True only when every row was written (one transaction). */
  written: boolean;
  rows: number;
  people: ImportedPerson[];
  problems: ImportProblem[];
}

interface Row { line: number; email: string; key: string; name: string; ods: string; role: SiteRole }

const MAX_ROWS = 5_000;
/** Longer than the largest file takes; only a process that died holding it waits this long. */
const IMPORT_LOCK_SECONDS = 300;
const COLUMNS = ['email', 'name', 'site', 'role'] as const;
const TEXT_PROBLEM: Record<(typeof COLUMNS)[number], ProblemKind> = {
  email: 'invalid-email', name: 'invalid-name', site: 'invalid-site', role: 'invalid-role',
};

/** Checks each row on its own and the file as a whole; nothing here reads the database. */
function readRows(text: string, problems: ImportProblem[]): { rows: Row[]; count: number } {
  const table = parseCsv(text);
  const header = (table.shift() ?? []).map((h) => h.trim().toLowerCase());
  const at = Object.fromEntries(COLUMNS.map((c) => [c, header.indexOf(c)])) as Record<(typeof COLUMNS)[number], number>;
  if (at.email < 0 || at.name < 0 || at.site < 0) throw new InvalidInput('The first line must name the columns: email,name,site[,role]');
  if (table.length > MAX_ROWS) throw new InvalidInput(`At most ${MAX_ROWS} people in one file`);
  const rows: Row[] = [];
  table.forEach((fields, i) => {
    const line = i + 2;
    const raw = (c: number) => (c >= 0 ? fields[c] ?? '' : '');
    const problem = (kind: ProblemKind, message: string, email?: string) => problems.push({ line, kind, message, ...(email ? { email } : {}) });
    // Every problem of the row is reported, not the first: whoever fixes the file fixes the row once.
    const fails = problems.length;
    // Each cell read is text by the web's rule (no NUL, control character or line break), named by its column.
    const notText = new Set(COLUMNS.filter((c) => at[c] >= 0 && textProblem(raw(at[c]))));
    for (const c of notText) problem(TEXT_PROBLEM[c], `${c} ${textProblem(raw(at[c]))!}`);
    let email = '';
    let key = '';
    if (!notText.has('email')) {
      try {
        ({ email, key } = normaliseEmail(raw(at.email)));
      } catch {
        problem('invalid-email', `"${raw(at.email).slice(0, 80)}" is not an email address`);
      }
    }
    let name = '';
    let ods = '';
    let role: SiteRole = 'member';
    const known = email || undefined;
    if (!notText.has('name')) try { name = checkName(raw(at.name)); } catch (e) { problem('invalid-name', (e as Error).message, known); }
    if (!notText.has('site')) try { ods = normaliseOds(raw(at.site)); } catch (e) { problem('invalid-site', (e as Error).message, known); }
    if (!notText.has('role')) try { role = checkRole(raw(at.role).trim() || undefined); } catch (e) { problem('invalid-role', (e as Error).message, known); }
    const generic = email ? (ods ? findGenericMailbox(email, ods) : findGenericMailbox(email)) : undefined;
    if (generic) problem('generic-mailbox', generic, email);
    if (problems.length === fails) rows.push({ line, email, key, name, ods, role });
  });
  // One email, one person: rows sharing an email must be the same person at different sites (a locum).
  const byKey = new Map<string, Row[]>();
  for (const r of rows) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  for (const same of byKey.values()) {
    if (same.length < 2) continue;
    const lines = same.map((r) => r.line).join(', ');
    const names = new Set(same.map((r) => r.name.toLowerCase()));
    for (const r of same) {
      if (names.size > 1) {
        problems.push({ line: r.line, email: r.email, kind: 'shared-email', message: `${r.email} is shared by different people (lines ${lines}): each person needs their own email` });
      } else if (same.some((o) => o !== r && o.ods === r.ods)) {
        problems.push({ line: r.line, email: r.email, kind: 'duplicate-row', message: `${r.email} is listed twice for ${r.ods} (lines ${lines})` });
      }
    }
  }
  return { rows, count: table.length };
}

class RollBack extends Error {}

/**
 * `pharmid user import`: creates people and their memberships from a CSV
 * (email,name,site[,role]). The whole file is one transaction: every row is
 * written, or none. A dry run does the same work and rolls it back, so it
 * reports exactly what a real run would refuse.
 */
export async function importUsers(deps: Deps, r: AdminRequest, file: Uint8Array | string, opts: { dryRun: boolean }): Promise<ImportReport> {
  const done = await oneImportAtATime(deps, r);
  try {
    return await importFile(deps, r, file, opts);
  } finally {
    await done();
  }
}

/**
 * A big file holds one of the database's few connections for seconds; one
 * administrator's files (a script, several tabs) are checked one after the
 * other, so they never hold more than one. The command line is not counted.
 */
async function oneImportAtATime(deps: Deps, r: AdminRequest): Promise<() => Promise<void>> {
  if (r.principal.operator) return async () => {};
  const locks = deps.counters.locks('import');
  const key = actorName(r.principal.actor);
  const { claimed, secondsLeft } = await locks.claim(key, IMPORT_LOCK_SECONDS);
  if (!claimed) {
    throw new TooManyAttempts('A file of yours is still being checked or added. Wait for it to finish, then try again.', 'file', secondsLeft);
  }
  return () => locks.clear(key);
}

async function importFile(deps: Deps, r: AdminRequest, file: Uint8Array | string, opts: { dryRun: boolean }): Promise<ImportReport> {
  const problems: ImportProblem[] = [];
  // The file's bytes are read strictly: bytes that are not UTF-8 refuse the file, never become U+FFFD in a name.
  const text = typeof file === 'string' ? file : decodeUtf8(file);
  const { rows, count } = readRows(text, problems);
  const people: ImportedPerson[] = [];
  const bad = new Set(problems.map((p) => p.line));
  const good = rows.filter((row) => !bad.has(row.line));
  const out: Outgoing = { mails: [], after: [] };
  try {
    await withTransaction(deps.db, async (tx) => {
      await writeRows(deps, tx, r, good, problems, people, out);
      if (problems.length || opts.dryRun) throw new RollBack();
      // Only a real run mails (codes for waiting sites, replaced codes), before it commits.
      for (const send of out.mails) await send();
    });
  } catch (err) {
    if (!(err instanceof RollBack)) throw err;
    problems.sort((a, b) => a.line - b.line);
    return { dry_run: opts.dryRun, written: false, rows: count, people: people.map(({ activation_code: _, ...p }) => p), problems };
  }
  // Existing accounts given a new site are told, as when the console links them (new people get their code instead).
  for (const tell of out.after) await tell();
  return { dry_run: false, written: true, rows: count, people, problems };
}

/**
 * The existing people the file would link to a site they are not at (nor
 * waiting for): only they are locked up front. Someone already there is left
 * unlocked, so running a site's whole list again does not hold every
 * colleague's row (their sign-ins wait for it) while the file is checked.
 * Read before any lock: someone removed from a site in the instant between
 * this look and the locks is linked by linkInTransaction after the sites
 * (out of order, so at worst that one import meets a deadlock, as before).
 */
async function peopleToLink(tx: Db, rows: Row[], sites: Map<string, SiteRow>): Promise<string[]> {
  const existing = await users.findUsersByEmailKeys(tx, [...new Set(rows.filter((row) => sites.has(row.ods)).map((row) => row.key))]);
  const ids = new Set<string>();
  for (const row of rows) {
    const user = existing.get(row.key);
    const site = sites.get(row.ods);
    if (!user || !site || ids.has(user.id) || user.name.toLowerCase() !== row.name.toLowerCase()) continue;
    if ((await memberships.findMembershipRole(tx, user.id, site.id)) || (await pending.isPending(tx, user.id, site.id))) continue;
    ids.add(user.id);
  }
  return [...ids];
}

async function writeRows(deps: Deps, tx: Db, r: AdminRequest, rows: Row[], problems: ImportProblem[], people: ImportedPerson[], out: Outgoing) {
  const sites = new Map<string, SiteRow>();
  for (const ods of new Set(rows.map((row) => row.ods))) {
    const site = await sitesQ.findSiteByOds(tx, ods);
    if (site) sites.set(ods, site);
  }
  // The people the file will link, then its sites, are locked before its first membership, in the one order of
  // lock-order.ts: each membership inserted holds its site's row shared, so two imports to one site that locked it
  // only for the caps at the end each waited for the other; and an import that took its sites and then each person in
  // file order met a link (the person, then the site) or a bulk disable (people by id) the other way round. Either way
  // Postgres ended one with a deadlock, a 500.
  await lockPeopleThenSites(tx, await peopleToLink(tx, rows, sites), [...sites.values()].map((s) => s.id));
  const newAt = new Map<string, number>();
  const created = new Map<string, string>();
  for (const row of rows) {
    const site = sites.get(row.ods);
    const problem = (kind: ProblemKind, message: string) => problems.push({ line: row.line, email: row.email, kind, message });
    if (!site) { problem('unknown-site', `No site has ODS code ${row.ods}`); continue; }
    try {
      await authorize(deps, r.principal, 'user.add', { siteId: site.id, role: row.role }, r);
    } catch (e) { problem('forbidden', (e as Error).message); continue; }
    let userId = created.get(row.key);
    const existing = userId ? undefined : await users.findUserByEmailKey(tx, row.key);
    if (existing && existing.name.toLowerCase() !== row.name.toLowerCase()) {
      // Named only to whoever may see them: any email can be put in a row, and a guessed one must not give a name away.
      const seen = can(r.principal, 'user.view', { person: await loadPersonTarget(deps, existing.id, tx) });
      problem('existing-account', `${row.email} already belongs to someone else${seen ? ` (${existing.name})` : ''}: each person needs their own email`);
      continue;
    }
    if (existing) {
      if ((await memberships.findMembershipRole(tx, existing.id, site.id)) || (await pending.isPending(tx, existing.id, site.id))) continue;
      // An existing account is linked exactly as the console links a locum: the same decision, no reach gained over
      // them, and waiting for them to confirm when the importer does not reach them entirely.
      try {
        const linked = await linkInTransaction(deps, tx, r, existing.id, site, row.role, { import: true });
        out.mails.push(...linked.mails);
        out.after.push(...linked.after);
        people.push({ email: row.email, name: row.name, site: site.ods_code, role: row.role, existing: true, ...(linked.waiting ? { waiting: true } : {}) });
        if (!linked.waiting) newAt.set(site.id, (newAt.get(site.id) ?? 0) + 1);
      } catch (e) {
        if (!(e instanceof PharmidError)) throw e;
        problem(e instanceof Forbidden ? 'forbidden' : 'over-cap', e.message);
      }
      continue;
    }
    if (userId && (await memberships.findMembershipRole(tx, userId, site.id))) continue;
    if (!userId) {
      const user = await users.insertUser(tx, { email: row.email, emailKey: row.key, name: row.name, status: 'invited' });
      userId = user.id;
      created.set(row.key, userId);
      people.push({ email: row.email, name: row.name, site: site.ods_code, role: row.role, existing: false, activation_code: await issueActivationCode(deps, tx, userId, 'activation', actorName(r.principal.actor)) });
    } else {
      people.push({ email: row.email, name: row.name, site: site.ods_code, role: row.role, existing: true });
    }
    // Someone new in this file, whose code the importer holds: the importer adds people at each of their sites.
    await memberships.insertMembership(tx, userId, site.id, row.role);
    newAt.set(site.id, (newAt.get(site.id) ?? 0) + 1);
    await audit(tx, r.principal.actor, { action: 'user.add', outcome: 'success', targetUser: userId, siteId: site.id, ip: r.ip, details: { role: row.role, import: true } });
  }
  // The caps, once every row is in: the count already includes the new people.
  for (const site of sites.values()) {
    if (!newAt.has(site.id)) continue;
    try {
      await assertRoomAt(tx, site, 0);
    } catch (e) {
      if (!(e instanceof PharmidError)) throw e;
      const line = rows.find((row) => row.ods === site.ods_code)!.line;
      problems.push({ line, kind: 'over-cap', message: `${site.ods_code}: ${newAt.get(site.id)} new people would pass its limit of ${site.user_cap} active people` });
    }
  }
  await audit(tx, r.principal.actor, { action: 'user.import', outcome: 'success', ip: r.ip, details: { rows: rows.length, people: people.length } });
}
