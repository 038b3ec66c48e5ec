import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { unescapeHtml } from '../helpers/browser.js';
import { makeSite } from '../helpers/factories.js';
import { textOf } from '../helpers/pages.js';
import { consoleBrowser, csrfOn, grant, postForm, signInFresh, staff, uniqueEmail } from './admin-support.js';

let p: TestPharmid;
beforeAll(async () => { p = await startTestPharmid(); });
afterAll(() => p.stop());

async function auditRows(action: string, target?: string) {
  const { rows } = await p.deps.db.query(
    'SELECT actor, action, outcome, target_user, site_id, ip FROM audit_events WHERE action = $1 AND ($2::uuid IS NULL OR target_user = $2) ORDER BY id',
    [action, target ?? null],
  );
  return rows;
}

test('a site administrator adds a person, who activates and enrols; a reset of their authenticator makes them enrol again', async () => {
  const site = await makeSite(p.deps, 'Riverside Pharmacy');
  const admin = await staff(p, site.ods_code, 'site-admin', 'Ada Admin');
  const { browser } = await consoleBrowser(p, admin);

  // The site page warns while there is only one administrator.
  const sitePage = await browser.open(`/admin/sites/${site.ods_code}`);
  expect(sitePage.status).toBe(200);
  expect(textOf(sitePage.text)).toContain('has only one administrator');

  // Create a person: the activation code is shown once.
  const form = await browser.open(`/admin/sites/${site.ods_code}/people/new`);
  const email = uniqueEmail('new.starter');
  const created = await browser.submit(`/admin/sites/${site.ods_code}/people`, { name: 'Nina New', email, role: 'member' });
  expect(created.status).toBe(201);
  expect(form.status).toBe(200);
  const code = unescapeHtml(/id="activation-code">([^<]+)</.exec(created.text)![1]!).trim();
  expect(code).toMatch(/^[A-Z0-9]{5}-[A-Z0-9]{5}$/);
  const { rows: [row] } = await p.deps.db.query('SELECT id, status FROM users WHERE email_key = $1', [email]);
  expect(row.status).toBe('invited');
  const [added] = await auditRows('user.add', row.id);
  expect(added).toMatchObject({ actor: `user:${admin.id}`, outcome: 'success', site_id: site.id });
  expect(added.ip).toBeTruthy();

  // They activate (activation step), set up an authenticator and save recovery codes.
  const nina = { email, password: 'kettle harbour violet', activationCode: code, id: row.id as string };
  expect(await signInFresh(p, nina)).toEqual(['password', 'activate', 'enrol', 'recovery-codes']);
  p.clock.advance(30);

  // The administrator sees them enrolled, and resets their authenticator.
  const personPage = await browser.open(`/admin/people/${row.id}`);
  expect(personPage.text).not.toContain(code);
  expect(textOf(/id="person-enrolled"[^>]*>[^<]*/.exec(personPage.text)![0])).toContain('Set up');
  await browser.open(`/admin/people/${row.id}/reset-mfa`);
  const reset = await browser.submit(`/admin/people/${row.id}/reset-mfa`, {});
  expect(reset.status).toBe(200);
  expect(textOf(reset.text)).toContain('pharmid then asks for this code, and takes them through setting up a new authenticator app');
  const resetCode = /id="activation-code"[^>]*>([^<]+)</.exec(reset.text)![1]!.trim();
  const after = await browser.open(`/admin/people/${row.id}`);
  expect(textOf(/id="person-enrolled"[^>]*>[^<]*/.exec(after.text)![0])).toContain('Not set up');
  expect(after.text).not.toContain(resetCode);
  const [resetRow] = await auditRows('user.reset-mfa', row.id);
  expect(resetRow).toMatchObject({ actor: `user:${admin.id}`, outcome: 'success' });

  // Signing in again asks for the password and the one-time code, then enrolment:
  // the password alone cannot put a new authenticator on the account.
  expect(await signInFresh(p, { ...nina, resetCode })).toEqual(['password', 'reset-code', 'enrol', 'recovery-codes']);
});

test('every console form is refused without its CSRF token, and nothing is written', async () => {
  const site = await makeSite(p.deps);
  const admin = await staff(p, site.ods_code, 'site-admin');
  const { browser } = await consoleBrowser(p, admin);
  const page = await browser.open(`/admin/sites/${site.ods_code}/people/new`);
  const before = (await p.deps.db.query('SELECT count(*)::int AS n FROM users')).rows[0].n;
  const forged = await browser.agent.post(`/admin/sites/${site.ods_code}/people`).type('form')
    .send({ name: 'Forged Person', email: uniqueEmail('forged'), role: 'member' }).redirects(0);
  expect(forged.status).toBe(403);
  const wrong = await browser.agent.post(`/admin/sites/${site.ods_code}/people`).type('form')
    .send({ _csrf: `${csrfOn(page.text)}x`, name: 'Forged Person', email: uniqueEmail('forged'), role: 'member' }).redirects(0);
  expect(wrong.status).toBe(403);
  expect((await p.deps.db.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(before);
  // The same form with its token works.
  const okay = await postForm(browser, page.text, `/admin/sites/${site.ods_code}/people`, { name: 'Real Person', email: uniqueEmail('real'), role: 'member' });
  expect(okay.status).toBe(201);
});

test('every console page draws for a superadmin, with nothing left unfilled', async () => {
  const site = await makeSite(p.deps, 'Drawn Pharmacy');
  const root = await staff(p, site.ods_code, 'site-admin', 'Rosa Root');
  await grant(p, root.email, 'superadmin');
  const { browser } = await consoleBrowser(p, root);
  const ods = site.ods_code;
  for (const path of [
    '/admin', '/admin/sites/new', `/admin/sites/${ods}`, `/admin/sites/${ods}/edit`, `/admin/sites/${ods}/people/new`,
    '/admin/people', '/admin/people?q=rosa', `/admin/people/${root.id}`, `/admin/sites/${ods}/audit`, '/admin/portals', '/admin/portals/new',
  ]) {
    const res = await browser.open(path);
    expect([path, res.status]).toEqual([path, 200]);
    expect(res.text).toMatch(/<h1>[^<]+<\/h1>/);
    expect(textOf(res.text)).not.toMatch(/undefined|NaN|\[object Object\]/);
  }
});
