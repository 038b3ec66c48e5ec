import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { makeClient } from '../helpers/factories.js';
import { textOf } from '../helpers/pages.js';
import request from 'supertest';
import { apiToken, consoleBrowser, grant, postForm, staff } from './admin-support.js';

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

/** Every field the console's rollout form sends from a browser: the selects and the empty inputs too. */
const asBrowserSends = (fields: Record<string, string>) => ({ site: '', client_id: '', enforce_on: '', max_skips: '', ...fields });
const day = (offsetDays: number) => new Date(p.clock.now().getTime() + offsetDays * 86_400_000).toISOString().slice(0, 10);

test('a superadmin saves a global and a portal policy from the console as a browser posts it: no 500, the portal picked by name', async () => {
  const site = (await addSite(p.deps, cli, { ods: 'RLT03', name: 'Third Pharmacy', userCap: null })).ods_code;
  const superadmin = await staff(p, site, 'member', 'Sue Super');
  await grant(p, superadmin.email, 'superadmin');
  const portal = await makeClient(p.deps, { name: 'PharmRefer' });
  const { browser, page } = await consoleBrowser(p, superadmin, '/admin/rollout');
  // The portal is chosen from a list of names, not typed as a client ID.
  expect(page.text).toMatch(new RegExp(`<select class="nhsuk-select" id="client_id" name="client_id">[\\s\\S]*<option value="${portal.client_id}">PharmRefer</option>`));

  // The form sends the site select and the empty portal too: a global policy is still global.
  const global = await postForm(browser, page.text, '/admin/rollout', asBrowserSends({ scope: 'global', site, state: 'grace', enforce_on: day(30), max_skips: '2' }));
  expect(global.status).toBe(303);
  const portalPolicy = await postForm(browser, page.text, '/admin/rollout', asBrowserSends({ scope: 'client', site, client_id: portal.client_id, state: 'off' }));
  expect(portalPolicy.status).toBe(303);
  const rows = (await p.deps.db.query("SELECT scope, site_id, client_id, state, max_skips FROM rollout_policies WHERE scope <> 'site' ORDER BY scope")).rows;
  expect(rows).toEqual([
    { scope: 'client', site_id: null, client_id: portal.client_id, state: 'off', max_skips: 3 },
    { scope: 'global', site_id: null, client_id: null, state: 'grace', max_skips: 2 },
  ]);
  const after = await browser.open('/admin/rollout');
  expect(textOf(after.text)).toContain('Portal: PharmRefer');
  await p.deps.db.query("DELETE FROM rollout_policies WHERE scope <> 'site'");
});

test('a commissioner saves a site policy as a browser posts it', async () => {
  const site = (await addSite(p.deps, cli, { ods: 'RLT04', name: 'Fourth Pharmacy', userCap: null })).ods_code;
  const commissioner = await staff(p, site, 'member', 'Chris Commissioner');
  await grant(p, commissioner.email, 'commissioner', [site]);
  const { browser, page } = await consoleBrowser(p, commissioner, '/admin/rollout');
  // A commissioner's form has no portal field.
  const { client_id: _, ...fields } = asBrowserSends({ scope: 'site', site, state: 'announced', enforce_on: day(40) });
  const saved = await postForm(browser, page.text, '/admin/rollout', fields);
  expect(saved.status).toBe(303);
  expect((await p.deps.db.query("SELECT state FROM rollout_policies p JOIN sites s ON s.id = p.site_id WHERE s.ods_code = 'RLT04'")).rows).toEqual([{ state: 'announced' }]);
});

test('announced or grace with today or a past date is refused in the console and the API, in form words, and nothing changes', async () => {
  const site = (await addSite(p.deps, cli, { ods: 'RLT05', name: 'Fifth Pharmacy', userCap: null })).ods_code;
  const superadmin = await staff(p, site, 'member', 'Sam Super');
  await grant(p, superadmin.email, 'superadmin');
  const { browser, page } = await consoleBrowser(p, superadmin, '/admin/rollout');
  const count = async () => (await p.deps.db.query('SELECT count(*)::int AS n FROM rollout_policies')).rows[0].n;
  const before = await count();
  for (const [state, date] of [['announced', day(0)], ['grace', day(-1)], ['announced', '2020-01-01']]) {
    const res = await postForm(browser, page.text, '/admin/rollout', asBrowserSends({ scope: 'site', site, state: state!, enforce_on: date! }));
    expect(res.status).toBe(400);
    const text = textOf(res.text);
    expect(text).toContain('gives nobody notice');
    expect(text).toContain('choose enforced on purpose');
    expect(res.text).toContain('id="enforce_on-error"');
    // Console messages name the form's fields, never a command-line flag.
    expect(text).not.toMatch(/--[a-z]/);
  }
  const missing = await postForm(browser, page.text, '/admin/rollout', asBrowserSends({ scope: 'client', state: 'off' }));
  expect(missing.status).toBe(400);
  expect(textOf(missing.text)).toContain('A portal policy needs the portal it covers');
  expect(textOf(missing.text)).not.toMatch(/--[a-z]/);

  const token = await apiToken(p, browser, superadmin);
  const api = await request(p.url).post('/api/admin/rollout').set('Authorization', `Bearer ${token}`)
    .send({ scope: 'global', state: 'grace', enforce_on: day(0) });
  expect(api.status).toBe(400);
  expect(api.body).toMatchObject({ error: 'invalid_input', field: 'enforce_on' });
  expect(api.body.error_description).toContain('gives nobody notice');
  // Enforcing at once is still possible, on purpose.
  const enforced = await request(p.url).post('/api/admin/rollout').set('Authorization', `Bearer ${token}`).send({ scope: 'global', state: 'enforced' });
  expect(enforced.status).toBe(200);
  expect(await count()).toBe(before + 1);
});
