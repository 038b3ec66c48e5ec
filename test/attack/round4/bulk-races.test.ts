import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import type { Browser } from '../../helpers/browser.js';
import { makePerson, makeSite } from '../../helpers/factories.js';
import { looksLikeStackTrace, textOf } from '../../helpers/pages.js';
import { consoleBrowser, csrfOn, staff } from '../../integration/admin-support.js';

/**
 * Round 4, the bulk form posted at once from two places (two tabs, two
 * administrators of the site) with the same people ticked in another order:
 * each batch locks its people's rows, and must take them in one order, or the
 * two wait for each other and the database ends one with an error (a 500).
 */
let p: TestPharmid;
let site: { ods_code: string };
let one: Browser;
let two: Browser;
beforeAll(async () => {
  p = await startTestPharmid();
  site = await makeSite(p.deps, 'Hilltop Pharmacy');
  await p.deps.db.query('UPDATE sites SET user_cap = NULL WHERE ods_code = $1', [site.ods_code]);
  one = (await consoleBrowser(p, await staff(p, site.ods_code, 'site-admin', 'Bea Admin'))).browser;
  p.clock.advance(30);
  two = (await consoleBrowser(p, await staff(p, site.ods_code, 'site-admin', 'Cal Colleague'))).browser;
}, 60_000);
afterAll(() => p.stop());

test('two batches disabling the same people in opposite orders: both answered, no 500, everyone disabled once', async () => {
  const statuses: number[] = [];
  for (let round = 0; round < 3; round += 1) {
    const people = await Promise.all(Array.from({ length: 40 }, (_, i) => makePerson(p.deps, { site: site.ods_code, name: `Pat Person${String.fromCharCode(97 + (i % 26))}` })));
    const ids = people.map((x) => x.id);
    const post = async (b: Browser, order: string[]) => {
      const token = csrfOn((await b.open(`/admin/sites/${site.ods_code}`)).text);
      const body = [`_csrf=${encodeURIComponent(token)}`, 'act=disable', ...order.map((id) => `person=${id}`)].join('&');
      return b.agent.post(`/admin/sites/${site.ods_code}/people/bulk/confirm`).type('form').send(body).redirects(0);
    };
    const answers = await Promise.all([post(one, ids), post(two, [...ids].reverse())]);
    for (const a of answers) {
      statuses.push(a.status);
      expect(looksLikeStackTrace(a.text)).toBe(false);
    }
    const { rows } = await p.deps.db.query("SELECT count(*)::int AS n FROM users WHERE id = ANY($1::uuid[]) AND status = 'disabled'", [ids]);
    expect(rows[0].n).toBe(40);
  }
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
}, 120_000);

/**
 * Round 4, the bulk form with many people ticked: the form parser turns a
 * field repeated more than 20 times into an object (qs's arrayLimit), which
 * the form read as nobody chosen ("Select at least one person").
 */
test('25 people ticked are 25 people on the confirmation page, and all 25 are disabled', async () => {
  const people = await Promise.all(Array.from({ length: 25 }, () => makePerson(p.deps, { site: site.ods_code, name: 'Tia Ticked' })));
  const token = csrfOn((await one.open(`/admin/sites/${site.ods_code}`)).text);
  const body = [`_csrf=${encodeURIComponent(token)}`, 'act=disable', ...people.map((x) => `person=${x.id}`)].join('&');
  const confirm = await one.agent.post(`/admin/sites/${site.ods_code}/people/bulk`).type('form').send(body).redirects(0);
  expect(confirm.status).toBe(200);
  expect(textOf(confirm.text)).toContain('Disable these 25 people?');
  const done = await one.agent.post(`/admin/sites/${site.ods_code}/people/bulk/confirm`).type('form').send(body).redirects(0);
  expect(done.status).toBe(200);
  const { rows } = await p.deps.db.query("SELECT count(*)::int AS n FROM users WHERE id = ANY($1::uuid[]) AND status = 'disabled'", [people.map((x) => x.id)]);
  expect(rows[0].n).toBe(25);
});
