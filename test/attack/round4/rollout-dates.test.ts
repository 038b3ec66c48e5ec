import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { makeSite } from '../../helpers/factories.js';
import { errorMessages } from '../../helpers/pages.js';
import { apiToken, consoleBrowser, csrfOn, grant, staff } from '../../integration/admin-support.js';

/**
 * Round 4, bad values in the rollout's date: the date MFA will be enforced
 * was read by JavaScript's lenient Date parser, so 30 February became
 * 2 March, "0" the year 2000 and "20000-01-01" a date eighteen thousand years
 * off: a policy saved for a day nobody typed. Only a real calendar date, as
 * YYYY-MM-DD (or a full ISO timestamp), is taken; anything else is a message
 * on the field and nothing is saved.
 */
let p: TestPharmid;
let site: { ods_code: string; id: string };
let token: string;
let boss: Awaited<ReturnType<typeof staff>>;
beforeAll(async () => {
  p = await startTestPharmid();
  site = await makeSite(p.deps, 'Hilltop Pharmacy');
  boss = await staff(p, site.ods_code, 'member', 'Sue Super');
  await grant(p, boss.email, 'superadmin');
  token = await apiToken(p, (await consoleBrowser(p, boss)).browser, boss);
}, 60_000);
afterAll(() => p.stop());

const policies = async () => (await p.deps.db.query('SELECT count(*)::int AS n FROM rollout_policies')).rows[0].n as number;

test('a date that is not on the calendar, or not written as a date, is refused by the API and the console; nothing saved', async () => {
  const before = await policies();
  const answers: unknown[] = [];
  for (const enforce_on of ['2027-02-30', '2027-13-01', '0', 'Tue Mar 01 2099', '20000-01-01', '+275760-09-13T00:00:00Z', '-000001-01-01']) {
    for (const state of ['announced', 'enforced']) {
      const res = await request(p.url).post('/api/admin/rollout').set('Authorization', `Bearer ${token}`).send({ scope: 'site', site: site.ods_code, state, enforce_on });
      answers.push({ enforce_on, state, status: res.status, field: res.body.field });
    }
  }
  expect(answers.filter((a) => (a as { status: number }).status !== 400 || (a as { field: string }).field !== 'enforce_on')).toEqual([]);

  p.clock.advance(30);
  const { browser } = await consoleBrowser(p, boss);
  const page = await browser.open('/admin/rollout');
  const res = await browser.agent.post('/admin/rollout').type('form')
    .send({ _csrf: csrfOn(page.text), scope: 'site', site: site.ods_code, client_id: '', state: 'announced', enforce_on: '2027-02-30', max_skips: '', require: 'mfa' }).redirects(0);
  expect(res.status).toBe(400);
  expect(errorMessages(res.text).join(' ')).toMatch(/date like 2027-03-01/);
  expect(await policies()).toBe(before);
});

test('a real date, as a day or a full timestamp, is still taken', async () => {
  for (const enforce_on of ['2099-02-28', '2096-02-29', '2099-06-01T00:00:00.000Z']) {
    const res = await request(p.url).post('/api/admin/rollout').set('Authorization', `Bearer ${token}`).send({ scope: 'site', site: site.ods_code, state: 'announced', enforce_on });
    expect([enforce_on, res.status]).toEqual([enforce_on, 200]);
  }
});
