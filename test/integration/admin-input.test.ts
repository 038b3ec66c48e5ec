import request from 'supertest';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import type { Browser } from '../helpers/browser.js';
import { errorMessages } from '../helpers/pages.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser, disableUser } from '../../src/domain/users.js';
import { apiToken, consoleBrowser, csrfOn, grant, staff, uniqueEmail } from './admin-support.js';

/** Bad input to the console and the API: a clear message, a 4xx, nothing written. */
let p: TestPharmid;
const cli = { kind: 'cli' } as const;
let site: string;
let token: string;
let browser: Browser;
let csrf: string;

beforeAll(async () => {
  p = await startTestPharmid();
  site = (await addSite(p.deps, cli, { ods: 'IN001', name: 'Input Pharmacy', userCap: null })).ods_code;
  const boss = await staff(p, site, 'site-admin');
  await grant(p, boss.email, 'superadmin');
  ({ browser } = await consoleBrowser(p, boss));
  csrf = csrfOn((await browser.open(`/admin/sites/${site}/people/new`)).text);
  token = await apiToken(p, browser, boss);
});
afterAll(() => p.stop());

const TABLES = ['sites', 'users', 'memberships', 'activation_codes', 'clients', 'org_roles'];

async function counts() {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t] = (await p.deps.db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n;
  out.acts = (await p.deps.db.query("SELECT count(*)::int AS n FROM audit_events WHERE outcome = 'success'")).rows[0].n;
  return out;
}

function api(method: 'get' | 'post' | 'patch', path: string, body?: unknown): Promise<Response> {
  const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${token}`);
  return body === undefined ? r : r.send(body as object);
}

function form(path: string, fields: Record<string, string>): Promise<Response> {
  return browser.agent.post(`/admin${path}`).type('form').send({ _csrf: csrf, ...fields }).redirects(0);
}

/** The request is refused with `status` and a message matching `message`, and nothing was written. */
async function refused(send: () => Promise<Response>, status: number, message: RegExp) {
  const before = await counts();
  const res = await send();
  expect(res.status).toBe(status);
  const said = res.type === 'application/json' ? res.body.error_description : errorMessages(res.text).join(' ');
  expect(said).toMatch(message);
  expect(await counts()).toEqual(before);
  return res;
}

describe('malformed ODS codes', () => {
  test.each(['FA-12', 'AB', 'ABCDEFG', 'FA 12', '<b>', 'ÄB12'])('%s', async (ods) => {
    await refused(() => api('post', '/sites', { ods, name: 'Bad Site' }), 400, /ODS code is 3 to 6 letters and digits/);
    await refused(() => form('/sites', { ods, name: 'Bad Site', kind: 'pharmacy' }), 400, /ODS code is 3 to 6 letters and digits/);
    await refused(() => api('post', `/sites/${site}/people`.replace(site, encodeURIComponent(ods)), { email: uniqueEmail(), name: 'X Y' }), 400, /ODS code/);
  });
});

describe('duplicate emails', () => {
  test.each([
    ['differing in case', 'ann.case@example.nhs.uk', 'ANN.Case@Example.NHS.uk'],
    ['differing in Unicode form (NFC and NFD)', 'jos\u00e9.form@example.nhs.uk', 'jose\u0301.form@example.nhs.uk'],
    ['differing in surrounding spaces', 'raj.space@example.nhs.uk', '  raj.space@example.nhs.uk '],
  ])('%s', async (_why, first, second) => {
    await createUser(p.deps, cli, { email: first, name: 'First Person', site });
    await refused(() => api('post', `/sites/${site}/people`, { email: second, name: 'Second Person' }), 409, /already has the email/);
    await refused(() => form(`/sites/${site}/people`, { email: second, name: 'Second Person', role: 'member' }), 409, /already has the email/);
  });
});

describe('unknown sites', () => {
  test('adding, linking and reading a site that does not exist', async () => {
    const someone = await createUser(p.deps, cli, { email: uniqueEmail(), name: 'Lone Locum', site });
    await refused(() => api('post', '/sites/ZZZ999/people', { email: uniqueEmail(), name: 'Nobody Here' }), 404, /No site has ODS code ZZZ999/);
    await refused(() => api('post', `/people/${someone.user.id}/sites`, { site: 'ZZZ999' }), 404, /No site has ODS code ZZZ999/);
    await refused(() => form(`/people/${someone.user.id}/sites`, { site: 'zzz999', role: 'member' }), 404, /No site has ODS code ZZZ999/);
    await refused(() => api('get', '/sites/ZZZ999/audit'), 404, /No site/);
  });
});

describe('a site at its cap', () => {
  test('refuses another active person by creation, linking or re-enabling, and says why', async () => {
    const full = (await addSite(p.deps, cli, { ods: 'CAP01', name: 'Full Pharmacy', userCap: 2 })).ods_code;
    await createUser(p.deps, cli, { email: uniqueEmail(), name: 'One Person', site: full });
    const two = await createUser(p.deps, cli, { email: uniqueEmail(), name: 'Two Person', site: full });
    const elsewhere = await createUser(p.deps, cli, { email: uniqueEmail(), name: 'Else Where', site });
    const limit = /already has 2 active people, its limit is 2/;
    await refused(() => api('post', `/sites/${full}/people`, { email: uniqueEmail(), name: 'Three Person' }), 409, limit);
    await refused(() => form(`/sites/${full}/people`, { email: uniqueEmail(), name: 'Three Person', role: 'member' }), 409, limit);
    await refused(() => api('post', `/people/${elsewhere.user.id}/sites`, { site: full }), 409, limit);
    // A disabled person does not count; enabling them again must fit.
    await disableUser(p.deps, cli, two.user.email);
    await createUser(p.deps, cli, { email: uniqueEmail(), name: 'Replacement Person', site: full });
    await refused(() => api('post', `/people/${two.user.id}/enable`), 409, limit);
  });
});

describe('oversized and malformed fields', () => {
  test.each([
    ['a name of 300 characters', { email: 'x', name: 'N'.repeat(300) }, /name of 1 to 200 characters|email address in the correct format/],
    ['a name of 5000 characters', { email: uniqueEmail(), name: 'N'.repeat(5000) }, /name is too long/],
    ['an email of 400 characters', { email: `${'e'.repeat(390)}@example.nhs.uk`, name: 'Long Email' }, /email is too long|correct format/],
    ['a name that is not text', { email: uniqueEmail(), name: ['a', 'b'] }, /name must be text/],
    ['no email', { name: 'No Email' }, /email is required/],
    ['an unknown role', { email: uniqueEmail(), name: 'Role Less', role: 'owner' }, /role must be one of member, site-admin/],
  ])('%s', async (_why, body, message) => {
    await refused(() => api('post', `/sites/${site}/people`, body), 400, message);
  });

  test('the console shows the form again with the message, keeping what was typed', async () => {
    const res = await refused(() => form(`/sites/${site}/people`, { email: uniqueEmail(), name: 'N'.repeat(300), role: 'member' }), 400, /name of 1 to 200 characters/);
    expect(res.text).toContain('name="email"');
  });

  test('a body over 64 kB is refused whole', async () => {
    await refused(() => api('post', `/sites/${site}/people`, { email: uniqueEmail(), name: 'Big Body', padding: 'x'.repeat(70_000) }), 413, /too large/);
  });

  test('site and portal fields', async () => {
    await refused(() => api('patch', `/sites/${site}`, { address: 'a'.repeat(600) }), 400, /address of at most 500 characters/);
    await refused(() => api('patch', `/sites/${site}`, { user_cap: 0 }), 400, /whole number from 1 to 100000/);
    await refused(() => form(`/sites/${site}/edit`, { name: 'Input Pharmacy', user_cap: 'ten' }), 400, /whole number, or empty/);
    await refused(() => api('post', '/portals', { name: 'P', redirect_uris: Array.from({ length: 21 }, (_, i) => `https://p.example/${i}`) }), 400, /at most 20/);
    await refused(() => api('post', '/portals', { name: 'P', redirect_uris: ['javascript:alert(1)'] }), 400, /redirect_uri/);
    await refused(() => api('post', '/portals', { name: 'P', redirect_uris: [] }), 400, /at least one redirect URI/);
    await refused(() => form('/portals', { name: 'P', redirect_uris: 'https://p.example/cb#frag' }), 400, /fragment/);
  });

  test('pagination and filters', async () => {
    await refused(() => api('get', `/sites/${site}/people?per_page=1000`), 400, /per_page must be a whole number from 1 to 100/);
    await refused(() => api('get', `/sites/${site}/people?page=abc`), 400, /page must be a whole number/);
    await refused(() => api('get', `/sites/${site}/audit?from=yesterday`), 400, /from is a date like/);
    await refused(() => api('get', `/sites/${site}/audit?outcome=maybe`), 400, /outcome is one of/);
    await refused(() => api('get', '/people?q=a'), 400, /2 to 100 characters/);
    await refused(() => api('get', '/people/not-a-uuid'), 404, /No such person/);
  });
});
