import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import type { Browser } from '../../helpers/browser.js';
import { makeSite } from '../../helpers/factories.js';
import { tally } from '../support.js';
import { apiToken, consoleBrowser, csrfOn, staff } from '../../integration/admin-support.js';

/**
 * Round 4, a script flooding the import: each file of thousands of rows is
 * checked in one database transaction that lasts seconds, and the pool has
 * ten connections for everyone's sign-ins. Several big files posted at once
 * by one administrator (the API, or console tabs) held the pool between them.
 * One import at a time for each administrator: the others are told to wait.
 */
let p: TestPharmid;
let site: { ods_code: string };
let token: string;
let browser: Browser;
beforeAll(async () => {
  p = await startTestPharmid();
  site = await makeSite(p.deps, 'Hilltop Pharmacy');
  const admin = await staff(p, site.ods_code, 'site-admin', 'Bea Admin');
  browser = (await consoleBrowser(p, admin)).browser;
  token = await apiToken(p, browser, admin);
}, 60_000);
afterAll(() => p.stop());

const bigFile = (n: number, tag: string) => `email,name,site\r\n${Array.from({ length: n }, (_, i) => `flood.${tag}.${i}@example.nhs.uk,Flo Flood,${site.ods_code}`).join('\r\n')}\r\n`;

test('big files posted at once by one administrator: one is checked, the others are told to wait; the pool stays free', async () => {
  const started = Date.now();
  const posts = Array.from({ length: 6 }, (_, i) => request(p.url).post('/api/admin/import?dry_run=true').set('Authorization', `Bearer ${token}`)
    .set('Content-Type', 'text/csv').send(bigFile(2000, String(i))).then((r) => ({ status: r.status, body: r.body as Record<string, unknown>, ms: Date.now() - started })));
  // Meanwhile, something that needs the database: who the token speaks for.
  await new Promise((r) => { setTimeout(r, 300); });
  const t0 = Date.now();
  const me = await request(p.url).get('/api/admin/me').set('Authorization', `Bearer ${token}`);
  const meMs = Date.now() - t0;
  const answers = await Promise.all(posts);
  console.log(`6 dry runs of 2,000 rows at once: ${JSON.stringify(tally(answers.map((a) => a.status)))}, longest ${Math.max(...answers.map((a) => a.ms))} ms; GET /me meanwhile ${meMs} ms`);
  expect(me.status).toBe(200);
  const checked = answers.filter((a) => a.status !== 429);
  expect(checked).toHaveLength(1);
  for (const a of answers.filter((x) => x.status === 429)) {
    expect(a.body).toMatchObject({ error: 'too_many_attempts', error_description: expect.stringMatching(/still being checked/) });
  }

  // Once it is done, the next file is taken; and the console meets the same rule.
  const again = await request(p.url).post('/api/admin/import?dry_run=true').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/csv').send(bigFile(5, 'again'));
  expect(again.status).toBe(200);
  const form = await browser.open('/admin/import');
  const [one, two] = await Promise.all([0, 1].map((i) => browser.agent.post('/admin/import').field('_csrf', csrfOn(form.text)).field('csv', bigFile(2000, `console${i}`)).redirects(0)));
  // (The site's limit of people makes the one checked a 422: what matters is that the other waits.)
  expect([one!.status, two!.status].filter((s) => s === 429)).toHaveLength(1);
  expect([one!.status, two!.status].filter((s) => s !== 429).every((s) => s === 200 || s === 422)).toBe(true);
}, 120_000);

test('two administrators importing to one site at the same moment take turns: no deadlock, no 500', async () => {
  p.clock.advance(30);
  const second = await staff(p, site.ods_code, 'site-admin', 'Cal Colleague');
  const otherToken = await apiToken(p, (await consoleBrowser(p, second)).browser, second);
  const answers = await Promise.all([token, otherToken, token, otherToken].map((t, i) => request(p.url).post('/api/admin/import?dry_run=true')
    .set('Authorization', `Bearer ${t}`).set('Content-Type', 'text/csv').send(bigFile(1000, `pair${i}`))));
  expect(answers.map((a) => a.status).filter((s) => s >= 500)).toEqual([]);
  expect(answers.filter((a) => a.status !== 429).length).toBe(2);
}, 120_000);
