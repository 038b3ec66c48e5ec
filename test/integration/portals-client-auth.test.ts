import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { exportJWK, generateKeyPair } from 'jose';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { driveSignIn, type Person } from '../helpers/sign-in.js';
import { withAuthenticator } from '../helpers/pages.js';
import type { ClientInput } from '../../src/domain/clients.js';

/**
 * Every way a portal may authenticate at the token endpoint, each driven by
 * openid-client as a real portal would: client_secret_basic,
 * client_secret_post, private_key_jwt (keys inline or at a jwks_uri), and a
 * public client with PKCE and no secret.
 */

const REDIRECT = 'http://localhost:8080/callback';

let p: TestPharmid;
let person: Person & { id: string };
beforeAll(async () => {
  p = await startTestPharmid();
  person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
});
afterAll(() => p.stop());

interface Sent { url: string; authorization: string | null; body: URLSearchParams }

/** A portal's openid-client configuration, keeping what it sends to the token endpoint. */
async function portal(clientId: string, auth: oidc.ClientAuth) {
  const config = await oidc.discovery(new URL(p.config.issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });
  const sent: Sent[] = [];
  config[oidc.customFetch] = async (url, init) => {
    const headers = new Headers(init.headers as HeadersInit);
    sent.push({ url, authorization: headers.get('authorization'), body: new URLSearchParams(String(init.body ?? '')) });
    return fetch(url, init as RequestInit);
  };
  const tokenRequests = () => sent.filter((s) => s.url.endsWith('/token'));
  return { config, tokenRequests };
}

/** A whole sign-in in a fresh browser, and the code exchanged at the token endpoint. */
async function signIn(config: oidc.Configuration, params: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT, scope: 'openid email', state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...params,
  });
  p.clock.advance(30);
  const { callback } = await driveSignIn(new Browser(p.url), url.href, person, p.clock);
  return oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
}

/** The OAuth error of a failed grant (openid-client reports a 401 with a Basic challenge as a WWW-Authenticate error). */
async function errorOf(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (err) {
    const e = err as { error?: string; cause?: { parameters?: { error?: string } }[] };
    return e.error ?? e.cause?.[0]?.parameters?.error;
  }
}

async function registered(input: Partial<ClientInput>) {
  return makeClient(p.deps, { name: `Portal ${randomBytes(3).toString('hex')}`, ...input });
}

test('client_secret_basic: the secret in the Authorization header; code and refresh grants work', async () => {
  const client = await registered({});
  const { config, tokenRequests } = await portal(client.client_id, oidc.ClientSecretBasic(client.client_secret!));
  const tokens = await signIn(config);
  expect(tokens.claims()!.sub).toBe(person.id);
  expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
  for (const sent of tokenRequests()) {
    expect(sent.authorization).toMatch(/^Basic /);
    expect(sent.body.has('client_secret')).toBe(false);
  }
});

test('client_secret_post: the secret in the form body; code and refresh grants work', async () => {
  const client = await registered({});
  const { config, tokenRequests } = await portal(client.client_id, oidc.ClientSecretPost(client.client_secret!));
  const tokens = await signIn(config);
  expect(tokens.claims()!.sub).toBe(person.id);
  expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
  for (const sent of tokenRequests()) {
    expect(sent.authorization).toBeNull();
    expect(sent.body.get('client_secret')).toBe(client.client_secret);
  }
});

test('a wrong secret, by either method: invalid_client', async () => {
  const client = await registered({});
  for (const auth of [oidc.ClientSecretBasic('not-the-secret'), oidc.ClientSecretPost('not-the-secret')]) {
    const { config } = await portal(client.client_id, auth);
    expect(await errorOf(signIn(config))).toBe('invalid_client');
  }
});

describe('private_key_jwt', () => {
  async function keyPair() {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomBytes(6).toString('hex');
    return { privateKey, kid, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
  }

  test('keys given inline: a signed client assertion, no secret anywhere; code and refresh grants work', async () => {
    const keys = await keyPair();
    const client = await registered({ jwks: { keys: [keys.jwk] } });
    expect(client.client_secret).toBeUndefined();
    expect(client.token_endpoint_auth_method).toBe('private_key_jwt');
    const { config, tokenRequests } = await portal(client.client_id, oidc.PrivateKeyJwt({ key: keys.privateKey, kid: keys.kid }));
    const tokens = await signIn(config);
    expect(tokens.claims()!.sub).toBe(person.id);
    expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
    for (const sent of tokenRequests()) {
      expect(sent.body.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      expect(sent.body.get('client_assertion')).toMatch(/^ey/);
      expect(sent.authorization).toBeNull();
    }
  });

  test('an assertion signed with a key the portal did not register: invalid_client', async () => {
    const registeredKeys = await keyPair();
    const other = await keyPair();
    const client = await registered({ jwks: { keys: [registeredKeys.jwk] } });
    const { config } = await portal(client.client_id, oidc.PrivateKeyJwt({ key: other.privateKey, kid: registeredKeys.kid }));
    expect(await errorOf(signIn(config))).toBe('invalid_client');
  });

  test('a client assertion replayed: refused', async () => {
    const keys = await keyPair();
    const client = await registered({ jwks: { keys: [keys.jwk] } });
    const { config, tokenRequests } = await portal(client.client_id, oidc.PrivateKeyJwt({ key: keys.privateKey, kid: keys.kid }));
    const tokens = await signIn(config);
    const assertion = tokenRequests()[0]!.body.get('client_assertion')!;
    const res = await fetch(`${p.config.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: client.client_id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion,
      }),
    });
    expect(res.status).toBe(401);
    expect((await res.json() as { error: string }).error).toBe('invalid_client');
  });

  test('a portal with keys cannot use a secret instead', async () => {
    const keys = await keyPair();
    const client = await registered({ jwks: { keys: [keys.jwk] } });
    const { config } = await portal(client.client_id, oidc.ClientSecretPost('guess'));
    expect(await errorOf(signIn(config))).toBe('invalid_client');
  });

  test('keys published at the portal\'s jwks_uri (on this machine, outside production): fetched and used', async () => {
    const keys = await keyPair();
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [keys.jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const jwksUri = `http://localhost:${(server.address() as { port: number }).port}/jwks`;
      const client = await registered({ jwksUri });
      const { config } = await portal(client.client_id, oidc.PrivateKeyJwt({ key: keys.privateKey, kid: keys.kid }));
      const tokens = await signIn(config);
      expect(tokens.claims()!.sub).toBe(person.id);
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});

describe('a public client (no secret) with PKCE', () => {
  test('signs in with PKCE and no client authentication; refresh works', async () => {
    const client = await registered({ public: true });
    expect(client.client_secret).toBeUndefined();
    const { config, tokenRequests } = await portal(client.client_id, oidc.None());
    const tokens = await signIn(config);
    expect(tokens.claims()!.sub).toBe(person.id);
    expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toBeTruthy();
    for (const sent of tokenRequests()) {
      expect(sent.authorization).toBeNull();
      expect(sent.body.get('client_id')).toBe(client.client_id);
      expect(sent.body.has('client_secret')).toBe(false);
    }
  });

  test('without PKCE the request goes back to the portal with invalid_request, before any sign-in page', async () => {
    const client = await registered({ public: true });
    const { config } = await portal(client.client_id, oidc.None());
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', state: 'abc' });
    const res = await new Browser(p.url).open(url.href);
    expect(res.status).toBe(303);
    const back = new URL(res.headers.location!);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  test('a public client cannot present a secret', async () => {
    const client = await registered({ public: true });
    const { config } = await portal(client.client_id, oidc.ClientSecretPost('anything'));
    expect(await errorOf(signIn(config))).toBe('invalid_client');
  });
});
