import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { grant, apiToken, consoleBrowser, csrfOn, staff } from '../integration/admin-support.js';

/**
 * Attack: bad bytes in every field of every kind of endpoint. Each request
 * must answer below 500 with no stack trace in the body. Raw bodies are
 * sent byte for byte (invalid UTF-8, NULs, repeated fields, nested
 * brackets, prototype keys).
 */
let p: TestPharmid;
let portal: Portal;
let client: { client_id: string; client_secret?: string };
let token: string;
let admin: { browser: Browser; csrf: string; id: string; site: string };

beforeAll(async () => {
  p = await startTestPharmid();
  client = await makeClient(p.deps, { name: 'PharmOutcomes' });
  portal = await Portal.connect(p.url, client);
  const s = await staff(p, (await makePerson(p.deps)).site, 'site-admin', 'Ada Admin');
  await grant(p, s.email, 'superadmin');
  const { browser, page } = await consoleBrowser(p, s, '/account');
  admin = { browser, csrf: csrfOn(page.text), id: s.id, site: s.site };
  token = await apiToken(p, browser, s);
}, 30_000);
afterAll(() => p.stop());

const RAW_VALUES = ['%00', '%C3%28', '%FF%FE', '%ED%A0%80', 'a%0Db', '%E2%80%AE', 'x'.repeat(70_000), '%7B%7D'];
const shapes = (field: string) => [
  ...RAW_VALUES.map((v) => `${field}=${v}`),
  `${field}=a&${field}=b`, `${field}[]=a`, `${field}[a]=b`, `${field}[__proto__][x]=1`, `__proto__[${field}]=1`,
  `constructor[prototype][x]=1`, `${field}[0][0][0][0][0][0]=1`, `${field}=${'%5B'.repeat(50)}`,
];

const problems: string[] = [];
beforeEach(() => { problems.length = 0; });
function judge(what: string, res: request.Response) {
  const body = typeof res.text === 'string' ? res.text : '';
  if (res.status >= 500 || /\bat [\w.<>]+ \(.*:\d+:\d+\)/.test(body)) problems.push(`${what} → ${res.status} ${body.slice(0, 200)}`);
}

test('OIDC endpoints (/auth GET and POST, /token, /session/end, /token/introspection, /me) never answer 5xx to bad bytes', async () => {
  const req = await portal.authorizationRequest();
  const good = new URL(req.url).searchParams;
  const basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
  for (const field of ['client_id', 'redirect_uri', 'scope', 'response_type', 'state', 'nonce', 'code_challenge', 'login_hint', 'acr_values', 'claims', 'prompt', 'max_age', 'request', 'ui_locales', 'id_token_hint']) {
    for (const bad of shapes(field).filter((s) => !s.includes('x'.repeat(100)))) {
      const q = new URLSearchParams(good);
      q.delete(field);
      const query = `${q.toString()}&${bad}`;
      judge(`GET /auth ${bad.slice(0, 60)}`, await request(p.url).get(`/auth?${query}`).redirects(0));
      judge(`POST /auth ${bad.slice(0, 60)}`, await request(p.url).post('/auth').type('form').send(query).redirects(0));
    }
  }
  for (const field of ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'client_id', 'client_assertion']) {
    for (const bad of shapes(field)) {
      judge(`POST /token ${bad.slice(0, 60)}`, await request(p.url).post('/token').set('Authorization', basic).type('form').send(`grant_type=authorization_code&${bad}`));
    }
  }
  for (const id of ['%00', '%C3%28', 'a%0Db']) {
    judge(`POST /token client_secret_post client_id=${id}`, await request(p.url).post('/token').type('form').send(`grant_type=authorization_code&code=x&client_id=${id}&client_secret=x`));
    judge(`POST /token/introspection client_id=${id}`, await request(p.url).post('/token/introspection').type('form').send(`token=x&client_id=${id}&client_secret=x`));
    judge(`POST /token/revocation client_id=${id}`, await request(p.url).post('/token/revocation').type('form').send(`token=x&client_id=${id}&client_secret=x`));
  }
  for (const id of ['\u0000', 'a\u0001b', '%00', '\u00ff']) {
    const basicBad = `Basic ${Buffer.from(`${id}:secret`, 'latin1').toString('base64')}`;
    judge(`POST /token Basic id ${id}`, await request(p.url).post('/token').set('Authorization', basicBad).type('form').send('grant_type=authorization_code&code=x'));
  }
  judge('POST /token json', await request(p.url).post('/token').set('Authorization', basic).set('Content-Type', 'application/json').send('{"grant_type":{"__proto__":1}}'));
  for (const field of ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id', 'logout_hint', 'ui_locales', 'xsrf', 'logout']) {
    for (const bad of shapes(field)) {
      judge(`POST /session/end ${bad.slice(0, 60)}`, await request(p.url).post('/session/end').type('form').send(bad).redirects(0));
      judge(`GET /session/end ${bad.slice(0, 60)}`, await request(p.url).get(`/session/end?${bad.slice(0, 3000)}`).redirects(0));
      judge(`POST /session/end/confirm ${bad.slice(0, 60)}`, await request(p.url).post('/session/end/confirm').type('form').send(bad).redirects(0));
    }
  }
  for (const bad of shapes('token')) {
    judge(`POST /token/introspection ${bad.slice(0, 60)}`, await request(p.url).post('/token/introspection').set('Authorization', basic).type('form').send(bad));
  }
  for (const path of ['/interaction/%00', `/interaction/${'a'.repeat(5000)}`, '/interaction/%C3%28/password', '/interaction/x/%00',
    '/portal/callback?state=%00&code=x', '/portal/callback?state[]=a&code=x', '/portal/callback?state=a&state=b', '/portal/callback?code=%C3%28',
    '/account?done[]=x', '/account?done=__proto__', '/admin?done=constructor', '/admin/people/x?done=__proto__', '/jwks?x=%00', '/.well-known/openid-configuration?%00']) {
    judge(`GET ${path.slice(0, 60)}`, await request(p.url).get(path).redirects(0));
    judge(`POST ${path.slice(0, 60)}`, await request(p.url).post(path).type('form').send('_csrf=x&email=%00').redirects(0));
  }
  judge('GET /me bad bearer', await request(p.url).get('/me').set('Authorization', 'Bearer \u00ff\u00fe'));
  expect(problems).toEqual([]);
}, 120_000);

test('interaction steps never answer 5xx to bad bytes', async () => {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const browser = new Browser(p.url);
  const start = await browser.open((await portal.authorizationRequest()).url);
  const action = formAction(start.text, '/interaction/')!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(start.text)![1]!;
  for (const step of ['password', 'activate', 'otp', 'recovery', 'reset-code', 'enrol', 'nope', '%00']) {
    for (const field of step === 'password' ? ['email', 'password', '_csrf'] : step === 'activate' ? ['email', 'activation_code', 'new_password'] : ['code', 'recovery_code', 'activation_code', 'skip']) {
      for (const bad of shapes(field)) {
        const res = await browser.agent.post(action.replace(/password$/, step)).type('form').send(`_csrf=${encodeURIComponent(csrf)}&email=${encodeURIComponent(person.email)}&${bad}`).redirects(0);
        judge(`POST interaction/${step} ${bad.slice(0, 60)}`, res);
      }
    }
  }
  expect(problems).toEqual([]);
}, 120_000);

test('/admin forms and /api/admin never answer 5xx to bad bytes or odd JSON', async () => {
  const ods = admin.site;
  const formRoutes = [`/admin/sites`, `/admin/sites/${ods}/edit`, `/admin/sites/${ods}/people`, `/admin/sites/${ods}/locums`,
    `/admin/people/${admin.id}/sites`, `/admin/people/${admin.id}/reset-password`, `/admin/portals`, `/admin/rollout`,
    `/account/password`, `/account/authenticator`, `/account/recovery-codes`, `/account/authenticator/new`, '/account/sessions/%00/end'];
  for (const route of formRoutes) {
    for (const field of route.startsWith('/account') ? ['current_password', 'new_password', 'code'] : route.includes('rollout') ? ['scope', 'state', 'enforce_on', 'max_skips'] : route.includes('portals') ? ['name', 'redirect_uris', 'first_party'] : ['email', 'name', 'site', 'role', 'ods', 'user_cap', 'address']) {
      for (const bad of shapes(field)) {
        const res = await admin.browser.agent.post(route).type('form').send(`_csrf=${encodeURIComponent(admin.csrf)}&${bad}`).redirects(0);
        judge(`POST ${route} ${bad.slice(0, 60)}`, res);
      }
    }
  }
  const api = (method: 'post' | 'patch' | 'get' | 'delete', path: string) => request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${token}`);
  const bodies = ['{"email":"a\\u0000b@x.nhs.uk","name":"x"}', '{"__proto__":{"superadmin":true},"email":"q@x.nhs.uk","name":"x"}',
    '{"constructor":{"prototype":{"x":1}}}', '[1,2,3]', '"text"', 'null', '{"email":["a"],"name":{"x":1}}', '{"email":"\\ud800@x.nhs.uk","name":"x"}',
    `{"name":"${'x'.repeat(70_000)}"}`, '{"user_cap":1e309}', '{"user_cap":-1}', '{"user_cap":1.5}', '{"role":"superadmin"}', '{bad json', '{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}',
    '{"site":"A81001","role":"member","role":"site-admin"}', '{"max_skips":1e300,"scope":"global","state":"grace"}', '{"enforce_on":"9999-99-99","scope":"global","state":"grace"}'];
  const apiRoutes: ['post' | 'patch' | 'delete', string][] = [['post', '/sites'], ['patch', `/sites/${ods}`], ['post', `/sites/${ods}/people`], ['post', `/sites/${ods}/locums`],
    ['post', `/people/${admin.id}/sites`], ['patch', `/people/${admin.id}/sites/${ods}`], ['post', '/portals'], ['post', '/rollout'], ['post', `/people/${admin.id}/unlock`],
    ['post', '/portals/%00/disable'], ['delete', `/people/00000000-0000-0000-0000-00000000000%00/sites/${ods}`]];
  for (const [method, path] of apiRoutes) {
    for (const body of bodies) judge(`${method} /api/admin${path} ${body.slice(0, 60)}`, await api(method, path).set('Content-Type', 'application/json').send(body));
    judge(`${method} /api/admin${path} form`, await api(method, path).type('form').send('email=a&name=b'));
  }
  for (const q of ['q=%00', 'q=%C3%28', 'q[]=a', 'q=a&q=b', 'page=1e999', 'page=-1', 'per_page=0', 'per_page=99999999999999999999', 'page=9999999999', 'q=' + '%25'.repeat(100)]) {
    judge(`GET /api/admin/people?${q}`, await api('get', `/people?${q}`));
    judge(`GET /api/admin/sites?${q}`, await api('get', `/sites?${q}`));
    judge(`GET /api/admin/sites/${ods}/audit?${q}`, await api('get', `/sites/${ods}/audit?${q}&from=2024-02-30`));
    judge(`GET /admin/people?${q}`, await admin.browser.agent.get(`/admin/people?${q}`).redirects(0));
  }
  for (const id of ['%00', '..', '%2e%2e%2f', 'x'.repeat(5000), '00000000-0000-0000-0000-000000000000', '%C3%28', '__proto__', 'constructor']) {
    judge(`GET /api/admin/people/${id.slice(0, 30)}`, await api('get', `/people/${id}`));
    judge(`GET /api/admin/sites/${id.slice(0, 30)}`, await api('get', `/sites/${id}`));
    judge(`GET /admin/people/${id.slice(0, 30)}`, await admin.browser.agent.get(`/admin/people/${id}`).redirects(0));
    judge(`GET /admin/sites/${id.slice(0, 30)}`, await admin.browser.agent.get(`/admin/sites/${id}`).redirects(0));
    judge(`POST /api/admin/portals/${id.slice(0, 30)}/rotate-secret`, await api('post', `/portals/${id}/rotate-secret`).send({}));
  }
  expect(problems).toEqual([]);
}, 180_000);
