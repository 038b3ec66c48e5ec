import request from 'supertest';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../helpers/pharmid.js';
import { makeClient } from '../helpers/factories.js';
import { Portal } from '../helpers/portal.js';

/**
 * Every id the protocol endpoints look up (a portal's client_id, a code, a
 * token, a session) reaches the stores through one gate: an id with bad
 * bytes was never issued, so it gets the protocol's own answer for an
 * unknown id, never a 500. Postgres refuses a NUL outright, so the store
 * without Redis (the embedded default) is where a missing gate shows.
 */
const BAD_IDS = ['%00', 'ab%00cd', '%01', 'a%0Db', '%C3%28', '%ED%A0%80'];

describe.each(STORE_MODES)('%s', (_mode, env) => {
  let p: TestPharmid;
  let client: { client_id: string; client_secret?: string };
  let portal: Portal;
  let basic: string;

  beforeAll(async () => {
    p = await startTestPharmid(env);
    client = await makeClient(p.deps, { name: 'PharmOutcomes' });
    portal = await Portal.connect(p.url, client);
    basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
  }, 30_000);
  afterAll(() => p.stop());

  /** The status and OAuth error of each answer, by what was sent. */
  async function answers(sends: [string, () => request.Test][]) {
    const out: Record<string, string> = {};
    for (const [what, send] of sends) {
      const res = await send();
      // JSON answers carry the OAuth error; a page shown to a browser says the portal is unknown.
      const page = res.type === 'text/html' ? (/does not know this portal/.test(res.text) ? 'page: client is invalid' : 'page') : undefined;
      out[what] = `${res.status} ${res.body?.error ?? page ?? (res.body?.active === false ? 'inactive' : '')}`.trim();
    }
    return out;
  }

  test('a bad client_id is an unknown portal: invalid_client at every endpoint that names one', async () => {
    const good = new URL((await portal.authorizationRequest()).url).searchParams;
    for (const id of BAD_IDS) {
      const q = new URLSearchParams(good);
      q.delete('client_id');
      const query = `${q.toString()}&client_id=${id}`;
      const got = await answers([
        ['GET /auth', () => request(p.url).get(`/auth?${query}`).redirects(0)],
        ['POST /auth', () => request(p.url).post('/auth').type('form').send(query).redirects(0)],
        ['POST /token', () => request(p.url).post('/token').type('form').send(`grant_type=authorization_code&code=x&client_id=${id}&client_secret=x`)],
        ['POST /token/introspection', () => request(p.url).post('/token/introspection').type('form').send(`token=x&client_id=${id}&client_secret=x`)],
        ['POST /token/revocation', () => request(p.url).post('/token/revocation').type('form').send(`token=x&client_id=${id}&client_secret=x`)],
        ['GET /session/end', () => request(p.url).get(`/session/end?client_id=${id}`).redirects(0)],
        ['POST /session/end', () => request(p.url).post('/session/end').type('form').send(`client_id=${id}`).redirects(0)],
      ]);
      // The authorization endpoint answers a browser with a page (no redirect: the portal is not known); the others with JSON.
      expect({ id, got }).toEqual({
        id,
        got: {
          'GET /auth': '400 page: client is invalid', 'POST /auth': '400 page: client is invalid',
          'GET /session/end': '400 invalid_client', 'POST /session/end': '400 invalid_client',
          'POST /token': '401 invalid_client', 'POST /token/introspection': '401 invalid_client', 'POST /token/revocation': '401 invalid_client',
        },
      });
    }
  });

  test('a bad code, refresh token or access token is one that was never issued', async () => {
    for (const id of BAD_IDS) {
      const got = await answers([
        ['code', () => request(p.url).post('/token').set('Authorization', basic).type('form')
          .send(`grant_type=authorization_code&code=${id}&redirect_uri=${encodeURIComponent(portal.redirectUri)}&code_verifier=${'v'.repeat(43)}`)],
        ['refresh_token', () => request(p.url).post('/token').set('Authorization', basic).type('form').send(`grant_type=refresh_token&refresh_token=${id}`)],
        ['introspection', () => request(p.url).post('/token/introspection').set('Authorization', basic).type('form').send(`token=${id}`)],
        ['revocation', () => request(p.url).post('/token/revocation').set('Authorization', basic).type('form').send(`token=${id}`)],
        ['userinfo', () => request(p.url).post('/me').type('form').send(`access_token=${id}`)],
      ]);
      expect({ id, got }).toEqual({
        id,
        got: { code: '400 invalid_grant', refresh_token: '400 invalid_grant', introspection: '200 inactive', revocation: '200', userinfo: '401 invalid_token' },
      });
    }
  });
});
