import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { consoleBrowser, grant, postForm, staff } from './admin-support.js';

/**
 * A commissioner announces MFA for their sites a month ahead, and watches
 * readiness in the console next to the date; the not-ready people are listed
 * by name and exported as CSV.
 */
let p: TestPharmid;
const cli = { kind: 'cli' } as const;

beforeAll(async () => { p = await startTestPharmid(); });
afterAll(() => p.stop());

test('a commissioner announces MFA for a site in the console and sees its readiness by name', async () => {
  const site = (await addSite(p.deps, cli, { ods: 'RLT01', name: 'Rollout Pharmacy', userCap: null })).ods_code;
  const commissioner = await staff(p, site, 'member', 'Chris Commissioner');
  await grant(p, commissioner.email, 'commissioner', [site]);
  const ready = await staff(p, site, 'member', 'Rita Ready');
  await createUser(p.deps, cli, { email: 'new.starter@example.nhs.uk', name: 'Nina New', site });

  const { browser, page } = await consoleBrowser(p, commissioner, '/admin/rollout');
  expect(page.status).toBe(200);
  expect(page.text).toContain('There are no policies: MFA is enforced everywhere.');
  const saved = await postForm(browser, page.text, '/admin/rollout', { scope: 'site', site, state: 'announced', enforce_on: '2099-03-01' });
  expect(saved.status).toBe(303);
  const after = await browser.open(saved.headers.location!);
  expect(after.text).toContain('The policy was saved');
  expect(after.text).toMatch(/id="policies"[\s\S]*Rollout Pharmacy \(RLT01\)[\s\S]*Announced[\s\S]*1 March 2099/);
  expect(after.text).toMatch(/id="readiness-RLT01"[\s\S]*<strong>2 of 3<\/strong> ready[\s\S]*enforced from <strong>1 March 2099<\/strong>/);
  expect(after.text).toContain('Nina New (new.starter@example.nhs.uk): not activated, no authenticator');
  expect(after.text).not.toContain(`Rita Ready (${ready.email})`);

  const csv = await browser.agent.get('/admin/sites/RLT01/readiness.csv');
  expect(csv.status).toBe(200);
  expect(csv.headers['content-type']).toContain('text/csv');
  expect(csv.text.split('\r\n')[1]).toBe('RLT01,new.starter@example.nhs.uk,Nina New,member,invited,not-activated not-enrolled');

  const audit = await p.deps.db.query("SELECT actor, outcome, details FROM audit_events WHERE action = 'rollout.set'");
  expect(audit.rows).toEqual([expect.objectContaining({ actor: `user:${commissioner.id}`, outcome: 'success' })]);
});

test('a bad policy is shown again with the reason, and nothing changes', async () => {
  const site = (await addSite(p.deps, cli, { ods: 'RLT02', name: 'Second Pharmacy', userCap: null })).ods_code;
  const superadmin = await staff(p, site, 'member', 'Sue Super');
  await grant(p, superadmin.email, 'superadmin');
  const { browser, page } = await consoleBrowser(p, superadmin, '/admin/rollout');
  const before = (await p.deps.db.query('SELECT count(*)::int AS n FROM rollout_policies')).rows[0].n;
  const res = await postForm(browser, page.text, '/admin/rollout', { scope: 'global', state: 'grace' });
  expect(res.status).toBe(400);
  expect(res.text).toContain('needs the date MFA will be enforced');
  const bad = await postForm(browser, res.text, '/admin/rollout', { scope: 'global', state: 'sometimes' });
  expect(bad.status).toBe(400);
  expect((await p.deps.db.query('SELECT count(*)::int AS n FROM rollout_policies')).rows[0].n).toBe(before);
});
