import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import type { Browser } from '../../helpers/browser.js';
import { makePerson } from '../../helpers/factories.js';
import { textOf } from '../../helpers/pages.js';
import { apiToken, csrfOn, type staff } from '../../integration/admin-support.js';
import { twoSitesAndAdminOfB } from './support.js';

/**
 * Round 4, another site's administrator and the import's dry run: a row may
 * name any email. Whether the email has an account is something a site
 * administrator may learn (they may link a locum by email), but not the name
 * of someone who works only at sites they do not look after: the dry run
 * said "already belongs to someone else (their name)" for any email guessed.
 */
let p: TestPharmid;
let A: { ods_code: string };
let B: { ods_code: string };
let adminB: Awaited<ReturnType<typeof staff>>;
let browserB: Browser;
beforeAll(async () => {
  p = await startTestPharmid();
  ({ A, B, adminB, browserB } = await twoSitesAndAdminOfB(p));
}, 60_000);
afterAll(() => p.stop());

test('the dry run (console and API) does not name the holder of an email at another site', async () => {
  const elsewhere = await makePerson(p.deps, { site: A.ods_code, name: 'Priya Elsewhere' });
  const csv = `email,name,site\r\n${elsewhere.email},Guess Who,${B.ods_code}\r\n`;

  const form = await browserB.open('/admin/import');
  const checked = await browserB.agent.post('/admin/import').field('_csrf', csrfOn(form.text)).field('csv', csv).redirects(0);
  expect(checked.status).toBe(422);
  expect(textOf(checked.text)).toContain('already belongs to someone else');
  expect(textOf(checked.text)).not.toContain('Priya Elsewhere');

  p.clock.advance(30);
  const token = await apiToken(p, browserB, adminB);
  const api = await request(p.url).post('/api/admin/import?dry_run=true').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/csv').send(csv);
  expect(api.status).toBe(422);
  expect(JSON.stringify(api.body)).toContain('already belongs to someone else');
  expect(JSON.stringify(api.body)).not.toContain('Priya Elsewhere');
});

test('someone the administrator does reach is still named, so the row can be put right', async () => {
  const colleague = await makePerson(p.deps, { site: B.ods_code, name: 'Carl Colleague' });
  const csv = `email,name,site\r\n${colleague.email},Karl Colleague,${B.ods_code}\r\n`;
  const form = await browserB.open('/admin/import');
  const checked = await browserB.agent.post('/admin/import').field('_csrf', csrfOn(form.text)).field('csv', csv).redirects(0);
  expect(checked.status).toBe(422);
  expect(textOf(checked.text)).toContain('already belongs to someone else (Carl Colleague)');
});
