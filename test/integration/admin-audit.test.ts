import request from 'supertest';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { makeClient } from '../helpers/factories.js';
import { Portal } from '../helpers/portal.js';
import { signInTo } from '../helpers/sign-in.js';
import { parseCsv } from '../../src/domain/csv.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { importUsers } from '../../src/domain/user-import.js';
import { OPERATOR } from '../../src/domain/authorization.js';
import { apiToken, consoleBrowser, csrfOn, grant, signInFresh, staff, uniqueEmail } from './admin-support.js';
import { textOf } from '../helpers/pages.js';

let p: TestPharmid;
const cli = { kind: 'cli' } as const;
let A: string;
let B: string;
let siteA: string;
let boss: Awaited<ReturnType<typeof staff>>;
let adminA: Awaited<ReturnType<typeof staff>>;
let bossToken: string;
let adminBrowser: Browser;

beforeAll(async () => {
  p = await startTestPharmid();
  const a = await addSite(p.deps, cli, { ods: 'AUD01', name: 'Audit Pharmacy', userCap: null });
  [A, siteA] = [a.ods_code, a.id];
  B = (await addSite(p.deps, cli, { ods: 'AUD02', name: 'Other Pharmacy', userCap: null })).ods_code;
  boss = await staff(p, B, 'member', 'Bea Boss');
  await grant(p, boss.email, 'superadmin');
  adminA = await staff(p, A, 'site-admin', 'Alan Admin');
  const { browser } = await consoleBrowser(p, boss);
  bossToken = await apiToken(p, browser, boss);
  adminBrowser = (await consoleBrowser(p, adminA)).browser;
});
afterAll(() => p.stop());

function api(method: 'get' | 'post' | 'patch' | 'delete' | 'put', path: string, body?: object): Promise<Response> {
  const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${bossToken}`);
  return body ? r.send(body) : r;
}

async function lastEvent(action: string) {
  const { rows } = await p.deps.db.query(
    'SELECT actor, action, outcome, target_user, site_id, ip, details FROM audit_events WHERE action = $1 ORDER BY id DESC LIMIT 1', [action],
  );
  return rows[0];
}

test('every administrative act is in the audit trail: who, what, to whom, which site, from where, the outcome', async () => {
  const actor = `user:${boss.id}`;
  const person = await createUser(p.deps, cli, { email: uniqueEmail(), name: 'Pat Target', site: A });
  const id = person.user.id;
  const siteIdOf = async (ods: string) => (await p.deps.db.query('SELECT id FROM sites WHERE ods_code = $1', [ods])).rows[0].id;
  const cases: [string, () => Promise<Response>, { target?: string; site?: string }][] = [
    ['user.add', () => api('post', `/sites/${A}/people`, { email: uniqueEmail(), name: 'New Person' }), { site: A }],
    ['user.link', () => api('post', `/people/${id}/sites`, { site: B }), { target: id, site: B }],
    ['user.role', () => api('patch', `/people/${id}/sites/${A}`, { role: 'site-admin' }), { target: id, site: A }],
    ['user.unlink', () => api('delete', `/people/${id}/sites/${B}`), { target: id, site: B }],
    ['user.reset-password', () => api('post', `/people/${id}/reset-password`), { target: id }],
    ['user.reset-mfa', () => api('post', `/people/${id}/reset-mfa`), { target: id }],
    ['user.unlock', () => api('post', `/people/${id}/unlock`), { target: id }],
    ['user.disable', () => api('post', `/people/${id}/disable`), { target: id }],
    ['user.enable', () => api('post', `/people/${id}/enable`), { target: id }],
    ['site.add', () => api('post', '/sites', { ods: 'AUD03', name: 'Third Pharmacy', kind: 'pharmacy' }), { site: 'AUD03' }],
    ['site.update', () => api('patch', `/sites/${A}`, { address: '2 Market Street' }), { site: A }],
    ['client.add', () => api('post', '/portals', { name: 'Audited Portal', redirect_uris: ['https://audited.example/cb'] }), {}],
  ];
  for (const [action, send, expected] of cases) {
    const res = await send();
    expect([action, res.status < 300]).toEqual([action, true]);
    const e = await lastEvent(action);
    expect(e).toMatchObject({ actor, action, outcome: 'success', target_user: expected.target ?? e.target_user, site_id: expected.site ? await siteIdOf(expected.site) : e.site_id });
    if (expected.target) expect(e.target_user).toBe(expected.target);
    expect(e.ip).toMatch(/127\.0\.0\.1|::1/);
  }
  const portal = (await api('get', '/portals')).body.items.find((c: { name: string }) => c.name === 'Audited Portal');
  for (const [action, path] of [['client.rotate-secret', 'rotate-secret'], ['client.disable', 'disable'], ['client.enable', 'enable']] as const) {
    expect((await api('post', `/portals/${portal.client_id}/${path}`)).status).toBe(200);
    expect(await lastEvent(action)).toMatchObject({ actor, outcome: 'success', details: { client_id: portal.client_id } });
  }
  // The CLI's acts: organisation roles and imports.
  await grant(p, person.user.email, 'helpdesk');
  expect(await lastEvent('org-role.grant')).toMatchObject({ actor: 'cli', target_user: id, details: { role: 'helpdesk' } });
  await importUsers(p.deps, { principal: OPERATOR }, `email,name,site\n${uniqueEmail('imported')},Imp Orted,${A}\n`, { dryRun: false });
  expect(await lastEvent('user.import')).toMatchObject({ actor: 'cli', outcome: 'success', details: { rows: 1, people: 1 } });
  // A refusal too, with its reason.
  const stranger = await staff(p, B, 'member');
  const strangerBrowser = (await consoleBrowser(p, stranger, '/account')).browser;
  expect((await strangerBrowser.agent.get(`/admin/sites/${A}`)).status).toBe(403);
  expect(await lastEvent('site.view')).toMatchObject({ actor: `user:${stranger.id}`, outcome: 'denied', site_id: siteA, details: { reason: expect.stringMatching(/sites you look after/) } });
});

test('a site administrator reads their site\'s trail with filters, page by page, and exports it as CSV', async () => {
  const nurse = await staff(p, A, 'member', 'Nora Nurse');
  await signInFresh(p, nurse);
  const elsewhere = await createUser(p.deps, cli, { email: uniqueEmail('elsewhere'), name: 'Else Where', site: B });
  await api('post', `/people/${elsewhere.user.id}/reset-mfa`);
  await api('post', `/people/${nurse.id}/reset-mfa`);

  const page = await adminBrowser.open(`/admin/sites/${A}/audit`);
  expect(page.status).toBe(200);
  const actions = [...page.text.matchAll(/data-action="([^"]+)"/g)].map((m) => m[1]);
  expect(actions).toEqual(expect.arrayContaining(['sign-in', 'user.reset-mfa', 'user.add']));
  // Events of another site's people are not shown.
  expect(page.text).not.toContain(elsewhere.user.email);

  const filtered = await adminBrowser.open(`/admin/sites/${A}/audit?action=user.reset&email=${encodeURIComponent(nurse.email)}`);
  expect([...filtered.text.matchAll(/data-action="([^"]+)"/g)].map((m) => m[1])).toEqual(['user.reset-mfa']);
  // A refusal at the site (only a superadmin changes a site's details) is in its trail too.
  expect((await adminBrowser.agent.get(`/admin/sites/${A}/edit`)).status).toBe(403);
  const denied = await adminBrowser.open(`/admin/sites/${A}/audit?outcome=denied`);
  const deniedActions = [...denied.text.matchAll(/data-action="([^"]+)"/g)].map((m) => m[1]);
  expect(deniedActions).toContain('site.update');
  expect(new Set([...denied.text.matchAll(/data-outcome="([^"]+)"/g)].map((m) => m[1]))).toEqual(new Set(['denied']));

  const first = await adminBrowser.agent.get(`/admin/sites/${A}/audit?per_page=2`);
  expect(first.text).toMatch(/1 to 2 of \d+/);
  expect(first.text).toContain('page=2');

  const csv = await adminBrowser.agent.get(`/admin/sites/${A}/audit.csv?action=sign-in`);
  expect(csv.status).toBe(200);
  expect(csv.headers['content-type']).toMatch(/^text\/csv/);
  expect(csv.headers['content-disposition']).toMatch(/attachment; filename="audit-AUD01.csv"/);
  const rows = parseCsv(csv.text);
  expect(rows[0]).toEqual(['occurred_at', 'actor', 'actor_email', 'action', 'outcome', 'target_email', 'site', 'ip', 'details', 'description']);
  expect(rows.slice(1).map((r) => r[3])).toEqual(expect.arrayContaining(['sign-in']));
  expect(rows.slice(1).every((r) => r[3] === 'sign-in')).toBe(true);
  expect(rows.find((r) => r[5] === nurse.email)).toBeDefined();
});

test('the trail reads in plain words: names not ids, portal names not client ids, the site on every event about its people, a list to filter by, no JSON', async () => {
  const sam = await staff(p, A, 'site-admin', 'Sam Taylor');
  const priya = await staff(p, A, 'member', 'Priya Shah');
  const { browser } = await consoleBrowser(p, sam);
  // Priya signs in to a registered portal (the event names its client ID), and Sam resets her authenticator.
  p.clock.advance(30);
  const portal = await makeClient(p.deps, { name: 'PharmRefer' });
  await signInTo(await Portal.connect(p.url, portal), new Browser(p.url), priya, p.clock);
  const personPage = await browser.open(`/admin/people/${priya.id}`);
  const reset = await browser.agent.post(`/admin/people/${priya.id}/reset-mfa`).type('form').send({ _csrf: csrfOn(personPage.text), confirm: 'yes' });
  expect(reset.status).toBeLessThan(400);

  const page = await browser.open(`/admin/sites/${A}/audit?email=${encodeURIComponent(priya.email)}`);
  expect(page.status).toBe(200);
  const text = textOf(page.text);
  expect(text).toContain("Sam Taylor reset Priya Shah's authenticator");
  expect(text).toContain(`Priya Shah signed in to ${portal.name}`);
  // No client ID, no user ID, no raw JSON, no action code in what a person reads.
  expect(page.text).not.toContain(portal.client_id);
  expect(page.text).not.toContain(priya.id.slice(0, 8) + '-');
  expect(page.text).not.toMatch(/\{(&#34;|")/);
  expect(text).not.toContain('user.reset-mfa');
  // The action filter is a list of kinds of event.
  expect(page.text).toMatch(/<select class="nhsuk-select" id="action" name="action">[\s\S]*<option value="user.reset-mfa">Authenticator resets<\/option>/);
  const onlyResets = await browser.open(`/admin/sites/${A}/audit?action=user.reset-mfa&email=${encodeURIComponent(priya.email)}`);
  expect([...onlyResets.text.matchAll(/data-action="([^"]+)"/g)].map((m) => m[1])).toEqual(['user.reset-mfa']);

  // The reset is about a person who works at the site: the site is filled in, in the CSV and the API too.
  const csv = parseCsv((await browser.agent.get(`/admin/sites/${A}/audit.csv?action=user.reset-mfa&email=${encodeURIComponent(priya.email)}`)).text);
  expect(csv[1]![6]).toBe(A);
  expect(csv[1]![9]).toBe("Sam Taylor reset Priya Shah's authenticator");
  const json = await api('get', `/sites/${A}/audit?action=sign-in&email=${encodeURIComponent(priya.email)}`);
  expect(json.body.items[0]).toMatchObject({ site: A, description: `Priya Shah signed in to ${portal.name}` });
});

test('CSV cells that a spreadsheet would run as formulas are defused', async () => {
  const { formatCsv } = await import('../../src/domain/csv.js');
  expect(formatCsv(['a'], [['=1+1'], ['+SUM(A1)'], ['@x'], ['-2'], ['plain, "quoted"']])).toBe('a\r\n\'=1+1\r\n\'+SUM(A1)\r\n\'@x\r\n\'-2\r\n"plain, ""quoted"""\r\n');
});

test('nothing can change or remove an audit event: no route writes them, and the table refuses', async () => {
  const snapshot = async () => (await p.deps.db.query("SELECT md5(string_agg(id::text || action || outcome || coalesce(ip, '') || details::text, ',' ORDER BY id)) AS h, count(*)::int AS n FROM audit_events")).rows[0];
  const before = await snapshot();
  const id = (await p.deps.db.query('SELECT max(id) AS id FROM audit_events')).rows[0].id;
  const apiAttempts = [
    ['delete', `/sites/${A}/audit`], ['put', `/sites/${A}/audit`], ['patch', `/sites/${A}/audit`], ['post', `/sites/${A}/audit`],
    ['delete', `/sites/${A}/audit/${id}`], ['patch', `/sites/${A}/audit/${id}`], ['delete', `/audit/${id}`], ['post', '/audit'],
  ] as const;
  for (const [method, path] of apiAttempts) {
    const res = await api(method, path, method === 'delete' ? undefined : { outcome: 'success', action: 'nothing' });
    expect([method, path, res.status]).toEqual([method, path, 404]);
  }
  const csrf = csrfOn((await adminBrowser.open('/account')).text);
  for (const path of [`/admin/sites/${A}/audit`, `/admin/sites/${A}/audit.csv`, `/admin/sites/${A}/audit/${id}/delete`]) {
    const res = await adminBrowser.agent.post(path).type('form').send({ _csrf: csrf, action: 'x' }).redirects(0);
    expect([path, res.status]).toEqual([path, 404]);
    expect((await adminBrowser.agent.delete(path).redirects(0)).status).toBeGreaterThanOrEqual(400);
  }
  // The last line of defence: the table itself refuses updates and deletes.
  await expect(p.deps.db.query("UPDATE audit_events SET outcome = 'success' WHERE id = $1", [id])).rejects.toThrow(/append-only/);
  await expect(p.deps.db.query('DELETE FROM audit_events WHERE id = $1', [id])).rejects.toThrow(/append-only/);
  const after = await snapshot();
  expect(after.h).toBe(before.h);
});
