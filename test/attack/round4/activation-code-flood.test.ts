import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import type { Browser } from '../../helpers/browser.js';
import { linkPerson, makePerson } from '../../helpers/factories.js';
import { errorMessages, looksLikeStackTrace } from '../../helpers/pages.js';
import { mailTo } from '../../helpers/mail.js';
import { tally } from '../support.js';
import { apiToken, consoleBrowser, csrfOn, staff } from '../../integration/admin-support.js';
import { twoSitesAndAdminOfB } from './support.js';

/**
 * Round 4, a script flooding one address: "Send a new activation code" (the
 * person's page, the API, and the site list's bulk form) posted in a loop.
 * Each code is an email to the person (and a notice besides); over partial
 * reach the administrator never sees the code, so nothing stops a loop but a
 * limit. By whichever road, one administrator sends a person a handful of
 * codes a day, and is told why the rest were not sent; the person's own
 * site can still send them one.
 */
let p: TestPharmid;
let A: { ods_code: string; id: string };
let B: { ods_code: string; id: string };
let adminB: Awaited<ReturnType<typeof staff>>;
let browserB: Browser;
let browserA: Browser;
let tokenB: string;

beforeAll(async () => {
  p = await startTestPharmid();
  ({ A, B, adminB, browserB } = await twoSitesAndAdminOfB(p));
  p.clock.advance(30);
  browserA = (await consoleBrowser(p, await staff(p, A.ods_code, 'site-admin', 'Ada Admin'))).browser;
  p.clock.advance(30);
  tokenB = await apiToken(p, browserB, adminB);
}, 60_000);
afterAll(() => p.stop());

const codesMailed = (email: string) => mailTo(p, email).filter((m) => /one-time code: /.test(m.body)).length;
const codesIssued = async (userId: string) => (await p.deps.db.query(
  "SELECT count(*)::int AS n FROM audit_events WHERE action = 'user.activation-code' AND outcome = 'success' AND target_user = $1", [userId],
)).rows[0].n as number;

test('a locum (partial reach) is not flooded with codes by the console form posted in a loop', async () => {
  const locum = await makePerson(p.deps, { site: A.ods_code, activate: true, name: 'Lou Locum' });
  await linkPerson(p.deps, locum.email, B.ods_code);
  const token = csrfOn((await browserB.open(`/admin/people/${locum.id}`)).text);
  const statuses: number[] = [];
  let last = '';
  for (let i = 0; i < 20; i += 1) {
    const res = await browserB.agent.post(`/admin/people/${locum.id}/activation-code`).type('form').send({ _csrf: token }).redirects(0);
    statuses.push(res.status);
    expect(looksLikeStackTrace(res.text)).toBe(false);
    last = res.text;
  }
  expect(codesMailed(locum.email)).toBeLessThanOrEqual(5);
  expect(await codesIssued(locum.id)).toBeLessThanOrEqual(5);
  expect(tally(statuses)).toEqual({ 200: 5, 429: 15 });
  expect(errorMessages(last).join(' ')).toMatch(/You have sent Lou Locum 5 activation codes in the last day/);

  // Site A's administrator, who spent none, still sends one (another site's loop does not lock the person out).
  const tokenA = csrfOn((await browserA.open(`/admin/people/${locum.id}`)).text);
  const fromA = await browserA.agent.post(`/admin/people/${locum.id}/activation-code`).type('form').send({ _csrf: tokenA }).redirects(0);
  expect(fromA.status).toBe(200);
});

test('the API in a loop, and the bulk form in a loop, share the same count: one administrator\'s codes to one person, however sent', async () => {
  const one = await makePerson(p.deps, { site: B.ods_code, activate: true, name: 'Ann Api' });
  const api = () => request(p.url).post(`/api/admin/people/${one.id}/activation-code`).set('Authorization', `Bearer ${tokenB}`).send({});
  const apiStatuses: number[] = [];
  for (let i = 0; i < 12; i += 1) apiStatuses.push((await api()).status);
  expect(tally(apiStatuses)).toEqual({ 200: 5, 429: 7 });
  const refused = await api();
  expect(refused.body).toMatchObject({ error: 'too_many_attempts', error_description: expect.stringMatching(/in the last day/) });

  // The bulk form: every post sends each ticked person a code by email.
  const two = await makePerson(p.deps, { site: B.ods_code, activate: true, name: 'Bob Bulk' });
  const token = csrfOn((await browserB.open(`/admin/sites/${B.ods_code}`)).text);
  for (let i = 0; i < 12; i += 1) {
    const res = await browserB.agent.post(`/admin/sites/${B.ods_code}/people/bulk/confirm`).type('form')
      .send(`_csrf=${encodeURIComponent(token)}&act=send-codes&person=${one.id}&person=${two.id}`).redirects(0);
    expect(res.status).toBeLessThan(500);
  }
  expect(codesMailed(two.email)).toBe(5);
  expect(codesMailed(one.email)).toBe(0);
  expect(await codesIssued(one.id)).toBe(5);
  expect(await codesIssued(two.id)).toBe(5);
});
