import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { signInTo } from '../helpers/sign-in.js';
import { addSite } from '../../src/domain/sites.js';
import { apiToken, consoleBrowser, staff } from '../integration/admin-support.js';

/**
 * Attack (information): linking needs no reach over the person (only their
 * email), and a site's audit trail shows every event "about no site in
 * particular" of anyone who works there now. So the administrator of X can
 * link anyone in the organisation to X and read their whole history from
 * before the link: every sign-in with its time, portal and IP address, and
 * the resets other sites' administrators made.
 */
let p: TestPharmid;
const cli = { kind: 'cli' } as const;

beforeAll(async () => { p = await startTestPharmid(); });
afterAll(() => p.stop());

test('linking someone to one\'s site does not reveal their sign-ins and resets from before the link', async () => {
  const X = (await addSite(p.deps, cli, { ods: 'LRX01', name: 'Larch Pharmacy', userCap: null })).ods_code;
  const Y = (await addSite(p.deps, cli, { ods: 'LRY02', name: 'Maple Pharmacy', userCap: null })).ods_code;
  const portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
  const target = await withAuthenticator(p.deps, await makePerson(p.deps, { site: Y }), p.clock);
  const before = new Date(Date.now() - 1000);
  await signInTo(portal, new Browser(p.url), target, p.clock);
  const adminX = await staff(p, X, 'site-admin', 'Nosy Admin');
  const token = await apiToken(p, (await consoleBrowser(p, adminX, '/account')).browser, adminX);
  const api = (method: 'get' | 'post', path: string, body?: object) => {
    const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${token}`);
    return body ? r.send(body) : r;
  };
  expect((await api('post', `/sites/${X}/locums`, { email: target.email })).status).toBe(201);
  const trail = await api('get', `/sites/${X}/audit?email=${encodeURIComponent(target.email)}&per_page=100`);
  expect(trail.status).toBe(200);
  const earlier = (trail.body.items as { action: string; occurred_at: string; ip: string | null }[])
    .filter((e) => e.action !== 'user.link' && new Date(e.occurred_at) >= before);
  expect(earlier.map((e) => `${e.action} ${e.ip ?? ''}`)).toEqual([]);
});
