import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser } from '../../helpers/browser.js';
import { makePerson, makeSite } from '../../helpers/factories.js';
import { textOf } from '../../helpers/pages.js';
import { driveSignIn } from '../../helpers/sign-in.js';
import { consoleBrowser, csrfOn, staff, uniqueEmail } from '../../integration/admin-support.js';

/**
 * Round 4, a second session of the same administrator: a checked import and
 * a form token belong to the sign-in that got them, not to the person, so a
 * second browser signed in as them (a shared dispensary PC left signed in,
 * a stolen token) can use neither; the new routes do nothing on a GET; and
 * an administrator whose role is taken away mid-session keeps nothing of it.
 */
let p: TestPharmid;
let site: { ods_code: string };
let admin: Awaited<ReturnType<typeof staff>>;
let first: Browser;
let second: Browser;
beforeAll(async () => {
  p = await startTestPharmid();
  site = await makeSite(p.deps, 'Hilltop Pharmacy');
  admin = await staff(p, site.ods_code, 'site-admin', 'Bea Admin');
  first = (await consoleBrowser(p, admin)).browser;
  p.clock.advance(30);
  second = new Browser(p.url);
  await driveSignIn(second, (await second.agent.get('/admin').redirects(0)).headers.location!, admin, p.clock);
}, 60_000);
afterAll(() => p.stop());

const count = async (sql: string, args: unknown[] = []) => (await p.deps.db.query(sql, args)).rows[0].n as number;

test('a checked import is applied only by the sign-in that checked it, not by the same person elsewhere', async () => {
  const email = uniqueEmail('checked');
  const form = await first.open('/admin/import');
  const checked = await first.agent.post('/admin/import').field('_csrf', csrfOn(form.text)).field('csv', `email,name,site\r\n${email},Cara Checked,${site.ods_code}\r\n`).redirects(0);
  expect(checked.status).toBe(200);
  const token = /name="token" value="([^"]+)"/.exec(checked.text)![1]!;
  const theirs = await second.open('/admin/import');
  const taken = await second.agent.post('/admin/import/apply').type('form').send({ _csrf: csrfOn(theirs.text), token }).redirects(0);
  expect(taken.status).toBe(400);
  expect(textOf(taken.text)).toContain('This check has expired or was already used');
  expect(await count('SELECT count(*)::int AS n FROM users WHERE email_key = $1', [email])).toBe(0);
  // The sign-in that checked it still may: the other's try did not spend it.
  const applied = await first.agent.post('/admin/import/apply').type('form').send({ _csrf: csrfOn(checked.text), token }).redirects(0);
  expect(applied.status).toBe(201);
});

test('a form token of one sign-in is refused on every new form of the other; GETs of those forms act on nothing', async () => {
  const invited = await makePerson(p.deps, { site: site.ods_code, activate: true, name: 'Ivy Invited' });
  const tokenOfFirst = csrfOn((await first.open(`/admin/people/${invited.id}`)).text);
  await second.open('/admin');
  const before = await count('SELECT count(*)::int AS n FROM audit_events WHERE outcome = \'success\'');
  const posts: [string, Record<string, string>][] = [
    [`/admin/people/${invited.id}/activation-code`, {}],
    [`/admin/people/${invited.id}/edit`, { name: 'Ivy Changed', email: uniqueEmail('ivy') }],
    [`/admin/people/${invited.id}/disable`, { confirm: 'yes' }],
    [`/admin/sites/${site.ods_code}/people/bulk/confirm`, { act: 'disable', person: invited.id }],
    ['/admin/import/apply', { token: 'x' }],
    ['/admin/rollout', { scope: 'site', site: site.ods_code, state: 'enforced' }],
  ];
  for (const [path, fields] of posts) {
    const res = await second.agent.post(path).type('form').send({ _csrf: tokenOfFirst, ...fields }).redirects(0);
    expect([path, res.status]).toEqual([path, 403]);
  }
  for (const path of [`/admin/people/${invited.id}/activation-code`, `/admin/people/${invited.id}/sessions/x/end`, '/admin/import/apply',
    `/admin/sites/${site.ods_code}/people/bulk/confirm?act=disable&person=${invited.id}`]) {
    const res = await second.agent.get(path).redirects(0);
    expect([path, res.status]).toEqual([path, 404]);
  }
  expect(await count('SELECT count(*)::int AS n FROM audit_events WHERE outcome = \'success\'')).toBe(before);
  expect((await p.deps.db.query('SELECT name, status FROM users WHERE id = $1', [invited.id])).rows[0]).toEqual({ name: 'Ivy Invited', status: 'invited' });
});

test('an administrator whose role is taken away mid-session: a file checked before is not written, and the new acts are refused', async () => {
  const other = await makeSite(p.deps, 'Demoted Pharmacy');
  p.clock.advance(30);
  const demoted = await staff(p, other.ods_code, 'site-admin', 'Dee Demoted');
  const { browser } = await consoleBrowser(p, demoted);
  const invited = await makePerson(p.deps, { site: other.ods_code, activate: true, name: 'Ivo Invited' });
  const email = uniqueEmail('late');
  const form = await browser.open('/admin/import');
  const checked = await browser.agent.post('/admin/import').field('_csrf', csrfOn(form.text)).field('csv', `email,name,site\r\n${email},Lee Late,${other.ods_code}\r\n`).redirects(0);
  expect(checked.status).toBe(200);
  const token = /name="token" value="([^"]+)"/.exec(checked.text)![1]!;
  const csrf = csrfOn(checked.text);

  await p.deps.db.query("UPDATE memberships SET role = 'member' WHERE user_id = $1", [demoted.id]);
  const applied = await browser.agent.post('/admin/import/apply').type('form').send({ _csrf: csrf, token }).redirects(0);
  expect(applied.status).toBeGreaterThanOrEqual(400);
  expect(applied.status).toBeLessThan(500);
  for (const [path, fields] of [
    [`/admin/people/${invited.id}/activation-code`, {}],
    [`/admin/people/${invited.id}/edit`, { name: 'Ivo Changed', email: uniqueEmail('ivo') }],
    [`/admin/sites/${other.ods_code}/people/bulk/confirm`, { act: 'send-codes', person: invited.id }],
  ] as [string, Record<string, string>][]) {
    const res = await browser.agent.post(path).type('form').send({ _csrf: csrf, ...fields }).redirects(0);
    expect([path, res.status]).toEqual([path, 403]);
  }
  expect(await count('SELECT count(*)::int AS n FROM users WHERE email_key = $1', [email])).toBe(0);
  expect((await p.deps.db.query('SELECT name FROM users WHERE id = $1', [invited.id])).rows[0].name).toBe('Ivo Invited');
});
