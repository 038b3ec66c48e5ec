import request from 'supertest';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { addSite } from '../../src/domain/sites.js';
import { linkUser } from '../../src/domain/users.js';
import { apiToken, consoleBrowser, csrfOn, grant, staff } from '../integration/admin-support.js';

/**
 * Attack: every :id and :ods route of /api/admin and of the console's forms,
 * as a site administrator of X and as a commissioner of X, against people
 * and sites outside their entire reach. Nothing is changed, and no response
 * carries a code (XXXXX-XXXXX) or a client secret.
 */
let p: TestPharmid;
const cli = { kind: 'cli' } as const;
let X: string;
let Y: string;
let targets: Record<string, string>;
let clientId: string;
let linkable: string;
interface Actor { name: string; id: string; token: string; browser: Browser; csrf: string }
const actors: Actor[] = [];

beforeAll(async () => {
  p = await startTestPharmid();
  X = (await addSite(p.deps, cli, { ods: 'IDX01', name: 'Ivy Pharmacy', userCap: null })).ods_code;
  Y = (await addSite(p.deps, cli, { ods: 'IDY02', name: 'Juniper Pharmacy', userCap: null })).ods_code;
  const C = (await addSite(p.deps, cli, { ods: 'IDC03', name: 'Office', userCap: null })).ods_code;
  clientId = (await makeClient(p.deps, { name: 'Some portal' })).client_id;
  const atY = await makePerson(p.deps, { site: Y });
  const adminY = await makePerson(p.deps, { site: Y, role: 'site-admin' });
  const locum = await makePerson(p.deps, { site: Y });
  await linkUser(p.deps, cli, { email: locum.email, site: X });
  const adminLocum = await makePerson(p.deps, { site: Y, role: 'site-admin' });
  await linkUser(p.deps, cli, { email: adminLocum.email, site: X });
  const helpdeskAtX = await makePerson(p.deps, { site: X });
  await grant(p, helpdeskAtX.email, 'helpdesk');
  const disabledLocum = await makePerson(p.deps, { site: Y });
  await linkUser(p.deps, cli, { email: disabledLocum.email, site: X });
  linkable = (await makePerson(p.deps, { site: Y })).id;
  targets = { atY: atY.id, adminY: adminY.id, locum: locum.id, adminLocum: adminLocum.id, helpdeskAtX: helpdeskAtX.id, disabledLocum: disabledLocum.id };
  const siteAdmin = await staff(p, X, 'site-admin', 'Sid Admin');
  const commissioner = await staff(p, C, 'member', 'Cora Comm');
  await grant(p, commissioner.email, 'commissioner', [X]);
  for (const [name, s] of [['site-admin of X', siteAdmin], ['commissioner of X', commissioner]] as const) {
    const { browser, page } = await consoleBrowser(p, s, '/account');
    actors.push({ name, id: s.id, browser, csrf: csrfOn(page.text), token: await apiToken(p, browser, s) });
  }
  await request(p.url).post(`/api/admin/people/${disabledLocum.id}/disable`); // (no token: nothing)
  await p.deps.db.query("UPDATE users SET status = 'disabled' WHERE id = $1", [disabledLocum.id]);
}, 60_000);
afterAll(() => p.stop());

const CODE = /[A-Z2-9]{5}-[A-Z2-9]{5}/;
const leaks: string[] = [];
function check(what: string, res: Response, allowed: (s: number) => boolean) {
  const text = res.text ?? '';
  if (CODE.test(text) && !/code_emailed_to|emailedOnly|We emailed the code/.test(text)) leaks.push(`${what}: code in response ${res.status}`);
  if (/client_secret"\s*:\s*"/.test(text)) leaks.push(`${what}: client secret in response`);
  if (!allowed(res.status)) leaks.push(`${what}: ${res.status} ${text.slice(0, 160)}`);
}

test('API and console acts on people outside entire reach change nothing and show no code', async () => {
  const state = async () => (await p.deps.db.query(
    `SELECT u.id, u.status, (SELECT count(*) FROM passwords pw WHERE pw.user_id = u.id) AS pw, (SELECT count(*) FROM totp_credentials t WHERE t.user_id = u.id) AS totp,
            (SELECT string_agg(m.site_id::text || m.role, ',' ORDER BY m.site_id) FROM memberships m WHERE m.user_id = u.id) AS sites
       FROM users u WHERE u.id = ANY($1::uuid[]) ORDER BY u.id`, [Object.values(targets)])).rows;
  for (const a of actors) {
    const api = (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object) => {
      const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${a.token}`);
      return body ? r.send(body) : r;
    };
    for (const [who, id] of Object.entries(targets)) {
      const before = JSON.stringify(await state());
      // Resets of a locum (partial reach) may go ahead with the code emailed to the person: those are checked for leaks only.
      const partial = who === 'locum' || who === 'disabledLocum';
      // A site administrator of X may change anyone's role at X (a locum administering Y included): that is no reach over Y.
      const roleAtX = a.name.startsWith('site-admin') && (partial || who === 'adminLocum');
      for (const act of ['unlock', 'disable', 'enable']) check(`${a.name} API ${act} ${who}`, await api('post', `/people/${id}/${act}`, {}), (s) => s >= 400);
      for (const act of ['reset-password', 'reset-mfa']) {
        check(`${a.name} API ${act} ${who}`, await api('post', `/people/${id}/${act}`, {}), (s) => s >= 400 || partial);
        // As the confirmation page's button posts it, so that only reach can refuse it.
        check(`${a.name} console ${act} ${who}`, await a.browser.agent.post(`/admin/people/${id}/${act}`).type('form').send({ _csrf: a.csrf, confirm: 'yes' }).redirects(0), (s) => s >= 400 || partial);
      }
      for (const act of ['unlock', 'disable', 'enable']) {
        const confirmed = act === 'disable' ? { confirm: 'yes' } : {};
        check(`${a.name} console ${act} ${who}`, await a.browser.agent.post(`/admin/people/${id}/${act}`).type('form').send({ _csrf: a.csrf, ...confirmed }).redirects(0), (s) => s >= 400);
      }
      check(`${a.name} API role at Y ${who}`, await api('patch', `/people/${id}/sites/${Y}`, { role: 'member' }), (s) => s >= 400);
      check(`${a.name} API role at X ${who}`, await api('patch', `/people/${id}/sites/${X}`, { role: 'site-admin' }), (s) => s >= 400 || roleAtX);
      check(`${a.name} API unlink Y ${who}`, await api('delete', `/people/${id}/sites/${Y}`), (s) => s >= 400);
      check(`${a.name} console unlink Y ${who}`, await a.browser.agent.post(`/admin/people/${id}/sites/${Y}/remove`).type('form').send({ _csrf: a.csrf }).redirects(0), (s) => s >= 400);
      check(`${a.name} console role Y ${who}`, await a.browser.agent.post(`/admin/people/${id}/sites/${Y}/role`).type('form').send({ _csrf: a.csrf, role: 'site-admin' }).redirects(0), (s) => s >= 400);
      check(`${a.name} API link to Y ${who}`, await api('post', `/people/${id}/sites`, { site: Y }), (s) => s >= 400);
      check(`${a.name} API view ${who}`, await api('get', `/people/${id}`), (s) => s === 200 ? !['atY', 'adminY'].includes(who) : s >= 400);
      if (!partial && !roleAtX) {
        const after = (await state()) as object[];
        const was = JSON.parse(before) as object[];
        expect([a.name, who, after.filter((r, i) => JSON.stringify(r) !== JSON.stringify(was[i]))]).toEqual([a.name, who, []]);
      }
    }
    // Sites not in reach.
    for (const [method, path, body] of [['get', `/sites/${Y}`], ['patch', `/sites/${Y}`, { name: 'Taken' }], ['patch', `/sites/${X}`, { user_cap: 1 }], ['get', `/sites/${Y}/people`],
      ['post', `/sites/${Y}/people`, { email: 'new.person@example.nhs.uk', name: 'New' }], ['post', `/sites/${Y}/locums`, { email: 'new.person@example.nhs.uk' }],
      ['get', `/sites/${Y}/audit`], ['get', `/sites/${Y}/audit.csv`], ['get', `/sites/${Y}/readiness.csv`], ['post', '/sites', { ods: 'ZZ999', name: 'Mine' }],
      ['post', '/rollout', { scope: 'site', site: Y, state: 'off' }], ['post', '/rollout', { scope: 'global', state: 'off' }],
      ['get', '/portals'], ['post', `/portals/${clientId}/rotate-secret`, {}], ['post', `/portals/${clientId}/disable`, {}],
      ['post', '/portals', { name: 'Evil', redirect_uris: ['https://evil.example/cb'], first_party: true }]] as const) {
      check(`${a.name} API ${method} ${path}`, await api(method as 'get', path, body as object | undefined), (s) => s >= 400);
    }
    for (const path of [`/admin/sites/${Y}`, `/admin/sites/${Y}/audit`, `/admin/sites/${Y}/audit.csv`, `/admin/sites/${Y}/people/new`, `/admin/sites/${Y}/edit`, `/admin/people/${targets.atY}`, '/admin/portals', '/admin/sites/new']) {
      check(`${a.name} console GET ${path}`, await a.browser.agent.get(path).redirects(0), (s) => s >= 400);
    }
    for (const [path, fields] of [[`/admin/sites/${Y}/edit`, { name: 'Taken' }], [`/admin/sites/${Y}/people`, { email: 'n2@example.nhs.uk', name: 'N' }],
      [`/admin/sites/${Y}/locums`, { email: 'n2@example.nhs.uk' }], ['/admin/sites', { ods: 'ZZ998', name: 'Mine' }], [`/admin/people/${linkable}/sites`, { site: X, role: 'member' }]] as const) {
      check(`${a.name} console POST ${path}`, await a.browser.agent.post(path).type('form').send({ _csrf: a.csrf, ...fields }).redirects(0), (s) => s >= 400 || (path.endsWith('/sites') && path.includes('/people/')));
    }
  }
  expect(leaks).toEqual([]);
}, 90_000);
