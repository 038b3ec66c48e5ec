import request from 'supertest';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import type { Browser } from '../helpers/browser.js';
import { errorMessages, errorPageText } from '../helpers/pages.js';
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

const TABLES = ['sites', 'users', 'memberships', 'activation_codes', 'clients', 'org_roles', 'rollout_policies'];

async function counts() {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t] = (await p.deps.db.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n;
  out.acts = (await p.deps.db.query("SELECT count(*)::int AS n FROM audit_events WHERE outcome = 'success'")).rows[0].n;
  return out;
}

function api(method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: unknown): Promise<Response> {
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

/**
 * Bad bytes in every field of every admin API route and console form: a 400
 * that names the field, before anything is looked up or written.
 */
describe('bad bytes in any field', () => {
  type Body = Record<string, string | string[]>;
  const BAD: [string, (v: string) => string, RegExp][] = [
    ['a NUL', (v) => `${v.slice(0, 2)}\u0000${v.slice(2)}`, /control character/],
    ['a bell', (v) => `${v}\u0007`, /control character/],
    ['an escape sequence', (v) => `\u001b[31m${v}`, /control character/],
    ['a lone surrogate', (v) => `${v}\ud800`, /not valid UTF-8/],
    ['the replacement character', (v) => `${v}\ufffd`, /not valid UTF-8/],
  ];
  /** Each string of a body in turn made bad (the first element, for lists). */
  function* spoiled(body: Body, bad: (v: string) => string): Generator<[string, Body]> {
    for (const [field, value] of Object.entries(body)) {
      yield [field, { ...body, [field]: Array.isArray(value) ? [bad(value[0]!), ...value.slice(1)] : bad(value) }];
    }
  }

  let routes: { method: 'post' | 'patch'; path: string; body: Body }[];
  let forms: { path: string; body: Record<string, string> }[];
  beforeAll(async () => {
    const other = (await addSite(p.deps, cli, { ods: 'IN002', name: 'Other Input Pharmacy', userCap: null })).ods_code;
    const member = await createUser(p.deps, cli, { email: uniqueEmail(), name: 'Mo Member', site });
    const portal = (await api('post', '/portals', { name: 'Input portal', redirect_uris: ['https://input.example/cb'] })).body.client_id as string;
    routes = [
      { method: 'post', path: '/sites', body: { ods: 'NUL01', name: 'Nul Pharmacy', kind: 'pharmacy', address: '1 High Street' } },
      { method: 'patch', path: `/sites/${site}`, body: { name: 'Input Pharmacy', address: '2 High Street' } },
      { method: 'post', path: `/sites/${site}/people`, body: { email: uniqueEmail(), name: 'Nul Person', role: 'member' } },
      { method: 'post', path: `/sites/${other}/locums`, body: { email: member.user.email, role: 'member' } },
      { method: 'post', path: `/people/${member.user.id}/sites`, body: { site: other, role: 'member' } },
      { method: 'patch', path: `/people/${member.user.id}/sites/${site}`, body: { role: 'site-admin' } },
      {
        method: 'post', path: '/portals',
        body: { name: 'Nul portal', redirect_uris: ['https://nul.example/cb'], post_logout_redirect_uris: ['https://nul.example/'], backchannel_logout_uri: 'https://nul.example/bc' },
      },
      { method: 'post', path: '/rollout', body: { scope: 'site', site, state: 'announced', enforce_on: '2030-01-01' } },
      { method: 'post', path: '/rollout', body: { scope: 'client', client_id: portal, state: 'off' } },
    ];
    forms = [
      { path: '/sites', body: { ods: 'NUL02', name: 'Nul Pharmacy', kind: 'pharmacy', address: '1 High Street', user_cap: '5' } },
      { path: `/sites/${site}/edit`, body: { name: 'Input Pharmacy', address: '2 High Street', user_cap: '' } },
      { path: `/sites/${site}/people`, body: { email: uniqueEmail(), name: 'Nul Person', role: 'member' } },
      { path: `/sites/${other}/locums`, body: { email: member.user.email, role: 'member' } },
      { path: `/people/${member.user.id}/sites`, body: { site: other, role: 'member' } },
      { path: `/people/${member.user.id}/sites/${site}/role`, body: { role: 'site-admin' } },
      { path: '/portals', body: { name: 'Nul portal', redirect_uris: 'https://nul.example/cb', post_logout_redirect_uris: '', backchannel_logout_uri: '' } },
      { path: '/rollout', body: { scope: 'site', site, state: 'grace', enforce_on: '2030-01-01', max_skips: '2' } },
    ];
  });

  test('every admin API route, each string field: 400 {error, error_description, field}, nothing written', async () => {
    const before = await counts();
    for (const route of routes) {
      for (const [kind, bad, message] of BAD) {
        for (const [field, body] of spoiled(route.body, bad)) {
          const res = await api(route.method, route.path, body);
          const what = `${route.method} ${route.path} ${field} with ${kind}`;
          expect({ what, status: res.status, field: res.body.field, error: res.body.error }).toEqual({ what, status: 400, field, error: 'invalid_input' });
          expect(res.body.error_description).toMatch(message);
        }
      }
      // A line break is only for fields typed on several lines (an address, a list of URIs).
      for (const [field, body] of spoiled(route.body, (v) => `${v}\r\nX-Injected: 1`)) {
        if (['address', 'redirect_uris', 'post_logout_redirect_uris'].includes(field)) continue;
        const res = await api(route.method, route.path, body);
        expect({ where: `${route.path} ${field}`, status: res.status, field: res.body.field }).toEqual({ where: `${route.path} ${field}`, status: 400, field });
      }
    }
    expect(await counts()).toEqual(before);
  });

  test('the routes that take no fields: a NUL in any field sent is refused the same way, and so is any field', async () => {
    const member = await createUser(p.deps, cli, { email: uniqueEmail(), name: 'Bo Dyless', site });
    const portal = (await api('post', '/portals', { name: 'Body-less portal', redirect_uris: ['https://bodyless.example/cb'] })).body.client_id as string;
    const before = await counts();
    // (A DELETE's body has no meaning and is not read.)
    const acts: ['post', string][] = [
      ...['reset-password', 'reset-mfa', 'unlock', 'disable', 'enable'].map((act) => ['post', `/people/${member.user.id}/${act}`] as ['post', string]),
      ...['rotate-secret', 'disable', 'enable'].map((act) => ['post', `/portals/${portal}/${act}`] as ['post', string]),
    ];
    for (const [method, path] of acts) {
      const withNul = await api(method, path, { note: 'a\u0000b' });
      expect({ path, status: withNul.status, field: withNul.body.field }).toEqual({ path, status: 400, field: 'note' });
      const extra = await api(method, path, { superadmin: true });
      expect({ path, status: extra.status, said: extra.body.error_description }).toEqual({ path, status: 400, said: expect.stringMatching(/Unknown field: superadmin/) });
    }
    expect(await counts()).toEqual(before);
  });

  test('bytes that are not UTF-8, and over-long values, in a JSON body', async () => {
    const raw = Buffer.concat([Buffer.from('{"email":"ab'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('@example.nhs.uk","name":"Bad Bytes"}')]);
    await refused(() => request(p.url).post(`/api/admin/sites/${site}/people`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').serialize((b: Buffer) => b as unknown as string).send(raw as unknown as object), 400, /email is not valid UTF-8/);
    const res = await refused(() => api('post', `/sites/${site}/people`, { email: uniqueEmail(), name: 'N'.repeat(30_000) }), 400, /name is too long/);
    expect(res.body.field).toBe('name');
    await refused(() => api('post', `/sites/${site}/people`, { email: uniqueEmail(), name: 'Deep', role: [[[[[['member']]]]]] }), 400, /role/);
  });

  test('every query parameter the API reads', async () => {
    const before = await counts();
    const queries = ['/people?q=', `/sites/${site}/audit?action=`, `/sites/${site}/audit?email=`, `/sites/${site}/audit?from=`, `/sites/${site}/audit.csv?outcome=`, '/sites?page=', `/sites/${site}/people?per_page=`];
    for (const query of queries) {
      for (const bad of ['ab%00cd', 'ab%07', '%C3%28%FF', '%ED%A0%80', 'x'.repeat(3000)]) {
        const res = await api('get', `${query}${bad}`);
        const field = /[?&](\w+)=$/.exec(query)![1];
        expect({ query, bad: bad.slice(0, 12), status: res.status, field: res.body.field }).toEqual({ query, bad: bad.slice(0, 12), status: 400, field });
      }
    }
    // A NUL in the path is refused as such, too.
    expect((await api('get', '/people/ab%00cd')).status).toBe(400);
    expect(await counts()).toEqual(before);
  });

  test('every console form, each field: a 400 page that names the field, nothing written', async () => {
    const before = await counts();
    for (const f of forms) {
      for (const [field, body] of spoiled(f.body, (v) => `${v}\u0000`)) {
        const res = await form(f.path, body as Record<string, string>);
        // The console's own forms say it on the form (the error summary); the others on an error page.
        const text = [errorPageText(res.text), ...errorMessages(res.text)].join(' ');
        expect({ where: `${f.path} ${field}`, status: res.status }).toEqual({ where: `${f.path} ${field}`, status: 400 });
        expect(text).toContain(`${field} contains a control character`);
        // A stack frame looks like "at fn (/path/file.ts:1:2)"; a label like "people at once (optional)" is not one.
        expect(res.text).not.toMatch(/\bat [\w.<>]+ \([^)]*:\d+:\d+\)|\.[jt]s:\d+:\d+|node_modules\//);
      }
    }
    for (const query of ['/people?q=ab%00', `/sites/${site}/audit?email=%FF`, '/?page=%01', '/rollout?done=%00']) {
      const res = await browser.agent.get(`/admin${query}`).redirects(0);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
    }
    expect(await counts()).toEqual(before);
  });
});

describe('unknown fields are refused by name, never dropped', () => {
  test('a typo and a field like superadmin, in the API and the console', async () => {
    let res = await refused(() => api('post', `/sites/${site}/people`, { email: uniqueEmail(), name: 'Sue Per', superadmin: true }), 400, /Unknown field: superadmin/);
    expect(res.body).toMatchObject({ error: 'invalid_input', field: 'superadmin' });
    res = await refused(() => api('post', `/sites/${site}/people`, { email: uniqueEmail(), nmae: 'Tip Po' }), 400, /Unknown field: nmae/);
    expect(res.body.field).toBe('nmae');
    await refused(() => api('patch', `/sites/${site}`, { name: 'Input Pharmacy', user_cap: null, admin: 'yes', owner: 'me' }), 400, /Unknown fields: admin, owner/);
    await refused(() => api('post', '/portals', { name: 'P', redirect_uris: ['https://p.example/cb'], first_party: true, client_secret: 'mine' }), 400, /Unknown field: client_secret/);
    await refused(() => api('post', '/rollout', { scope: 'global', state: 'off', everyone: true }), 400, /Unknown field: everyone/);
    await refused(() => form(`/sites/${site}/people`, { email: uniqueEmail(), name: 'Sue Per', role: 'member', superadmin: 'on' }), 400, /Unknown field: superadmin/);
  });
});
