import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { linkPerson, makePerson } from '../../helpers/factories.js';
import { addSite } from '../../../src/domain/sites.js';
import { loadPrincipal } from '../../../src/domain/authorization.js';
import { applyBulk } from '../../../src/domain/admin/bulk.js';
import { confirmWaitingSites } from '../../../src/domain/site-links.js';
import { enableUser } from '../../../src/domain/people.js';
import { findUserById } from '../../../src/db/queries/users.js';
import { mailedCode, SITE_LINK_SUBJECT } from '../../helpers/mail.js';
import { apiToken, consoleBrowser, staff } from '../../integration/admin-support.js';

/**
 * Round 4, an import and a link (or a bulk disable) meeting over one person:
 * an import locks its sites and then each existing person it links, a link
 * locks the person and then the site (for its cap), a bulk disable locks its
 * people in id order. Taken in opposite orders, the two transactions wait for
 * each other and Postgres ends one with "deadlock detected": a 500.
 * A slow transaction holding the person's row lines the two up the bad way
 * every time (the first to queue for a row is the first to get it).
 */
let p: TestPharmid;
let X: string;
let Y: string;
let token: string;
let adminId: string;
let siteIds: Map<string, string>;
const cli = { kind: 'cli' } as const;

beforeAll(async () => {
  p = await startTestPharmid();
  X = (await addSite(p.deps, cli, { ods: 'LKX01', name: 'Larch Pharmacy', userCap: null })).ods_code;
  Y = (await addSite(p.deps, cli, { ods: 'LKY02', name: 'Linden Pharmacy', userCap: null })).ods_code;
  const admin = await staff(p, X, 'site-admin', 'Lou Admin');
  adminId = admin.id;
  token = await apiToken(p, (await consoleBrowser(p, admin, '/account')).browser, admin);
  // Administers both sites: every link here is direct (no waiting for the person).
  await linkPerson(p.deps, admin.email, Y, 'site-admin');
  const { rows } = await p.deps.db.query<{ id: string; ods_code: string }>('SELECT id, ods_code FROM sites WHERE ods_code = ANY($1)', [[X, Y]]);
  siteIds = new Map(rows.map((r) => [r.ods_code, r.id]));
}, 60_000);
afterAll(() => p.stop());

async function waitingOnLocks(n: number): Promise<void> {
  for (let i = 0; i < 250; i += 1) {
    const { rows } = await p.deps.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (rows[0]!.n >= n) return;
    await new Promise((r) => { setTimeout(r, 20); });
  }
  throw new Error(`never saw ${n} waiting on a lock`);
}

const importFile = (rows: { email: string }[], ods: string) => request(p.url).post('/api/admin/import')
  .set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/csv')
  .send(`email,name,site\r\n${rows.map((r) => `${r.email},Sam Patel,${ods}`).join('\r\n')}\r\n`);

/** Deadlocks Postgres has broken in this test's database so far (its statistics lag a little: printed, not asserted). */
async function deadlocks(): Promise<number> {
  const { rows } = await p.deps.db.query<{ n: number }>('SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()');
  return rows[0]!.n;
}

async function sitesOf(id: string): Promise<string[]> {
  const { rows } = await p.deps.db.query<{ ods_code: string }>(
    'SELECT s.ods_code FROM memberships m JOIN sites s ON s.id = m.site_id WHERE m.user_id = $1 ORDER BY s.ods_code', [id]);
  return rows.map((r) => r.ods_code);
}

test('an import linking a person to a site and a direct link of the same person to the same site: both answered, no 500', async () => {
  const person = await makePerson(p.deps, { site: X });
  const holder = await p.deps.db.connect();
  let link: request.Response;
  let imported: request.Response;
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [person.id]);
    // The link queues for the person first, then the import (which by then may hold the site).
    const linking = request(p.url).post(`/api/admin/sites/${Y}/locums`).set('Authorization', `Bearer ${token}`).send({ email: person.email }).then((r) => r);
    await waitingOnLocks(1);
    const importing = importFile([person], Y).then((r) => r);
    await waitingOnLocks(2);
    await holder.query('COMMIT');
    [link, imported] = await Promise.all([linking, importing]);
  } finally {
    holder.release();
  }
  await new Promise((r) => { setTimeout(r, 1100); });
  console.log(`deadlocks so far ${await deadlocks()}; link ${link.status} ${JSON.stringify(link.body)}; import ${imported.status} ${JSON.stringify(imported.body).slice(0, 300)}`);
  expect([link.status, imported.status]).not.toContain(500);
  // The link went through; the import found the person already there and left them be.
  expect(link.status).toBe(201);
  expect(imported.status).toBe(201);
  expect(await sitesOf(person.id)).toEqual([X, Y].sort());
}, 60_000);

test('an import linking two people in file order and a bulk disable of the same two: both done, no deadlock', async () => {
  const a = await makePerson(p.deps, { site: X });
  const b = await makePerson(p.deps, { site: X });
  const [low, high] = [a, b].sort((m, n) => (m.id < n.id ? -1 : 1));
  const principal = await loadPrincipal(p.deps, adminId);
  const holder = await p.deps.db.connect();
  let disabled: unknown;
  let imported: request.Response;
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [low!.id]);
    // The batch queues for the first person by id; the import holds the second (first in its file) and queues too.
    p.clock.advance(30);
    const disabling = applyBulk(p.deps, { principal }, X, 'disable', [high!.id, low!.id]).then((r) => r, (e: Error) => e);
    await waitingOnLocks(1);
    const importing = importFile([high!, low!], Y).then((r) => r);
    await waitingOnLocks(2);
    await holder.query('COMMIT');
    [disabled, imported] = await Promise.all([disabling, importing]);
  } finally {
    holder.release();
  }
  await new Promise((r) => { setTimeout(r, 1100); });
  console.log(`deadlocks so far ${await deadlocks()}; bulk: ${disabled instanceof Error ? disabled.message : 'done'}; import ${imported.status} ${JSON.stringify(imported.body).slice(0, 300)}`);
  expect(disabled).not.toBeInstanceOf(Error);
  expect(imported.status).not.toBe(500);
  expect(imported.status).toBe(201);
  for (const x of [low!, high!]) expect(await sitesOf(x.id)).toEqual([X, Y].sort());
}, 60_000);

test('a person confirming two waiting sites while an import adds people to the same two: both done, no deadlock', async () => {
  // Someone from elsewhere (with a password): the administrator's links to both sites wait for them, higher id first.
  const person = await makePerson(p.deps);
  const [low, high] = [X, Y].sort((a, b) => (siteIds.get(a)! < siteIds.get(b)! ? -1 : 1));
  for (const ods of [high!, low!]) {
    p.clock.advance(1);
    const r = await request(p.url).post(`/api/admin/sites/${ods}/locums`).set('Authorization', `Bearer ${token}`).send({ email: person.email });
    expect(r.body.status).toBe('waiting for the person to confirm');
  }
  const code = mailedCode(p, person.email, SITE_LINK_SUBJECT)!;
  const newcomers = `email,name,site\r\nnew.${person.id.slice(0, 8)}@example.nhs.uk,Nia New,${low}\r\nnew.${person.id.slice(0, 8)}@example.nhs.uk,Nia New,${high}\r\n`;
  const holder = await p.deps.db.connect();
  let confirmed: unknown;
  let imported: request.Response;
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM sites WHERE id = $1 FOR UPDATE', [siteIds.get(low!)]);
    // The import queues for the lower site first; the person's confirmation then takes what it can and queues too.
    p.clock.advance(30);
    const importing = request(p.url).post('/api/admin/import').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/csv').send(newcomers).then((r) => r);
    await waitingOnLocks(1);
    const confirming = confirmWaitingSites(p.deps, person.id, code, '198.51.100.9').then((r) => r, (e: Error) => e);
    await waitingOnLocks(2);
    await holder.query('COMMIT');
    [confirmed, imported] = await Promise.all([confirming, importing]);
  } finally {
    holder.release();
  }
  await new Promise((r) => { setTimeout(r, 1100); });
  console.log(`deadlocks so far ${await deadlocks()}; confirm: ${confirmed instanceof Error ? confirmed.message : JSON.stringify(confirmed)}; import ${imported.status} ${JSON.stringify(imported.body).slice(0, 200)}`);
  expect(confirmed).not.toBeInstanceOf(Error);
  expect(imported.status).toBe(201);
  expect(await sitesOf(person.id)).toEqual(expect.arrayContaining([X, Y]));
}, 60_000);

test('a person enabled again at two sites while an import adds people to the same two: both done, no deadlock', async () => {
  // Two sites whose names sort the other way from their ids (an enable used to lock a person's sites by name).
  const made = [await addSite(p.deps, cli, { ods: 'LKE03', name: 'Site one', userCap: null }), await addSite(p.deps, cli, { ods: 'LKE04', name: 'Site two', userCap: null })];
  const [low, high] = made.sort((a, b) => (a.id < b.id ? -1 : 1));
  await p.deps.db.query("UPDATE sites SET name = CASE WHEN id = $1 THEN 'Zinnia Pharmacy' ELSE 'Aspen Pharmacy' END WHERE id = ANY($2::uuid[])", [low!.id, [low!.id, high!.id]]);
  const { rows: admins } = await p.deps.db.query<{ email: string }>('SELECT email FROM users WHERE id = $1', [adminId]);
  for (const site of [low!, high!]) await linkPerson(p.deps, admins[0]!.email, site.ods_code, 'site-admin');
  const person = await makePerson(p.deps, { site: low!.ods_code });
  await linkPerson(p.deps, person.email, high!.ods_code);
  await p.deps.db.query("UPDATE users SET status = 'disabled' WHERE id = $1", [person.id]);
  const newcomers = `email,name,site\r\nnew.${person.id.slice(0, 8)}@example.nhs.uk,Nia New,${low!.ods_code}\r\nnew.${person.id.slice(0, 8)}@example.nhs.uk,Nia New,${high!.ods_code}\r\n`;
  const holder = await p.deps.db.connect();
  let enabled: unknown;
  let imported: request.Response;
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM sites WHERE id = $1 FOR UPDATE', [low!.id]);
    p.clock.advance(30);
    const importing = request(p.url).post('/api/admin/import').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/csv').send(newcomers).then((r) => r);
    await waitingOnLocks(1);
    const enabling = enableUser(p.deps, cli, (await findUserById(p.deps.db, person.id))!).then((u) => u.status, (e: Error) => e);
    await waitingOnLocks(2);
    await holder.query('COMMIT');
    [enabled, imported] = await Promise.all([enabling, importing]);
  } finally {
    holder.release();
  }
  await new Promise((r) => { setTimeout(r, 1100); });
  console.log(`deadlocks so far ${await deadlocks()}; enable: ${enabled instanceof Error ? enabled.message : String(enabled)}; import ${imported.status} ${JSON.stringify(imported.body).slice(0, 120)}`);
  expect(enabled).not.toBeInstanceOf(Error);
  expect(imported.status).toBe(201);
}, 60_000);
