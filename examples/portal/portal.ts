import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { createRemoteJWKSet } from 'jose';
import { LogoutTokenRejected, ReplayCache, validateLogoutToken } from './logout-token.js';
import { messagePage, signedInPage, signedOutPage, type PortalLook } from './pages.js';
import { HttpError, cookiesOf, readForm, redirect, send } from './http.js';

/**
 * A small relying party (a "portal") built with openid-client, as a real
 * portal of pharmid would be: authorization code flow with PKCE, state and
 * nonce; the ID token's claims and the chosen site; userinfo; refresh (the
 * refresh token rotates at each use); RP-initiated logout; and the
 * back-channel logout endpoint, which validates the logout token and ends
 * the local session it names.
 */

export interface PortalOptions {
  name: string;
  colour?: string;
  /** 0 (the default) for any free port. */
  port?: number;
  /** The listening address; the portal's URLs use `localhost`. */
  host?: string;
  scope?: string;
}

export interface PortalClient { issuer: string; clientId: string; clientSecret?: string }

interface LocalSession {
  sub: string;
  sid?: string;
  idToken: string;
  accessToken: string;
  refreshToken?: string;
  expiresAt: number;
  claims: Record<string, unknown>;
  userinfo?: Record<string, unknown>;
  refreshes: number;
  notice?: string;
}

interface PendingLogin { verifier: string; nonce: string; until: number }

export interface RunningPortal {
  name: string;
  url: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  backchannelLogoutUri: string;
  /** Discovers pharmid and starts taking sign-ins as this client. */
  connect(client: PortalClient): Promise<void>;
  setOthers(others: { name: string; url: string }[]): void;
  /** Local sessions now open (tests look). */
  openSessions(): { sub: string; sid?: string }[];
  /** Every session ended by a back-channel logout, in order (tests look). */
  readonly backchannelEnded: { sid?: string; sub?: string }[];
  close(): Promise<void>;
}

export async function startPortal(opts: PortalOptions): Promise<RunningPortal> {
  const slug = opts.name.toLowerCase().replace(/[^a-z0-9]/g, '') || 'portal';
  const sessionCookie = `${slug}_session`;
  const loginCookie = `${slug}_login`;
  const look: PortalLook = { name: opts.name, colour: opts.colour ?? '#005eb8', others: [] };
  const scope = opts.scope ?? 'openid email profile sites';
  const sessions = new Map<string, LocalSession>();
  /** Cookie ids of sessions pharmid ended, to say so when that browser comes back. */
  const endedByPharmid = new Set<string>();
  const pending = new Map<string, PendingLogin>();
  const replay = new ReplayCache();
  const backchannelEnded: { sid?: string; sub?: string }[] = [];
  let config: oidc.Configuration | undefined;
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  let url = '';

  const cookie = (name: string, value: string, maxAge: number) => `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`;
  const ready = () => {
    if (!config) throw new HttpError(503, { error: 'temporarily_unavailable', error_description: 'the portal is not connected to pharmid yet' });
    return config;
  };

  function store(id: string, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, previous?: LocalSession): LocalSession {
    const claims = (tokens.claims() ?? previous?.claims ?? {}) as Record<string, unknown>;
    const session: LocalSession = {
      sub: String(claims.sub),
      sid: typeof claims.sid === 'string' ? claims.sid : previous?.sid,
      idToken: tokens.id_token ?? previous!.idToken,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? previous?.refreshToken,
      expiresAt: Math.floor(Date.now() / 1000) + (tokens.expiresIn() ?? 0),
      claims,
      userinfo: previous?.userinfo,
      refreshes: previous ? previous.refreshes + 1 : 0,
    };
    sessions.set(id, session);
    return session;
  }

  /** Refreshes the tokens (pharmid rotates the refresh token); false when pharmid refused (the sign-in has ended). */
  async function refresh(id: string, s: LocalSession): Promise<boolean> {
    if (!s.refreshToken) return false;
    try {
      store(id, await oidc.refreshTokenGrant(ready(), s.refreshToken), s);
      return true;
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError && err.error === 'invalid_grant') {
        sessions.delete(id);
        return false;
      }
      throw err;
    }
  }

  function view(s: LocalSession) {
    const claims = { ...s.claims, ...(s.userinfo ?? {}) };
    const sites = Array.isArray(claims.sites) ? (claims.sites as { ods: string; name: string; role: string }[]) : [];
    const siteCode = typeof claims.site === 'string' ? claims.site : undefined;
    const site = sites.find((x) => x.ods === siteCode) ?? (siteCode ? { ods: siteCode, name: siteCode } : undefined);
    return {
      name: String(claims.name ?? claims.email ?? s.sub),
      email: typeof claims.email === 'string' ? claims.email : undefined,
      site,
      sites,
      idTokenClaims: s.claims,
      userinfo: s.userinfo,
      accessTokenExpiresAt: s.expiresAt,
      refreshes: s.refreshes,
      notice: s.notice,
    };
  }

  async function login(req: IncomingMessage, res: ServerResponse, query: URLSearchParams) {
    const prompt = query.get('prompt');
    const state = oidc.randomState();
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    for (const [k, p] of pending) if (p.until < Date.now()) pending.delete(k);
    pending.set(state, { verifier, nonce, until: Date.now() + 600_000 });
    const target = oidc.buildAuthorizationUrl(ready(), {
      redirect_uri: `${url}/callback`,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...(prompt && ['none', 'login', 'select_site'].includes(prompt) ? { prompt } : {}),
    });
    redirect(res, target.href, [cookie(loginCookie, state, 600)]);
  }

  async function callback(req: IncomingMessage, res: ServerResponse, current: URL) {
    const state = cookiesOf(req)[loginCookie];
    const login = state && current.searchParams.get('state') === state ? pending.get(state) : undefined;
    if (!state || !login) {
      send(res, 400, messagePage(look, 'Sign-in not recognised', 'This sign-in was not started here, or has expired. Go back and sign in again.'));
      return;
    }
    pending.delete(state);
    const clear = cookie(loginCookie, '', 0);
    const error = current.searchParams.get('error');
    if (error) {
      // prompt=none with no pharmid session: login_required, with no page shown by pharmid.
      const message = error === 'login_required' ? 'You are not signed in to pharmid: sign in to continue.'
        : `pharmid answered ${error}: ${current.searchParams.get('error_description') ?? ''}`;
      send(res, 200, signedOutPage(look, message), undefined, { 'set-cookie': clear });
      return;
    }
    const tokens = await oidc.authorizationCodeGrant(ready(), current, {
      pkceCodeVerifier: login.verifier, expectedState: state, expectedNonce: login.nonce, idTokenExpected: true,
    });
    const id = cookiesOf(req)[sessionCookie] && sessions.has(cookiesOf(req)[sessionCookie]!) ? cookiesOf(req)[sessionCookie]! : randomBytes(24).toString('base64url');
    const session = store(id, tokens);
    // With the code flow the ID token says who and how; name, email and site come from userinfo.
    session.userinfo = await oidc.fetchUserInfo(ready(), session.accessToken, session.sub) as Record<string, unknown>;
    redirect(res, '/', [clear, cookie(sessionCookie, id, 12 * 3600)]);
  }

  /** Back-channel logout (section 2.5): 200 when done (or nothing to do), 400 for a bad token. */
  async function backchannelLogout(req: IncomingMessage, res: ServerResponse) {
    const form = await readForm(req);
    const token = form.getAll('logout_token');
    if (token.length !== 1 || !token[0]) throw new HttpError(400, { error: 'invalid_request', error_description: 'exactly one logout_token is required' });
    const { sid, sub } = await validateLogoutToken(token[0], {
      keys: keys!, issuer: ready().serverMetadata().issuer, clientId: ready().clientMetadata().client_id, replay,
    });
    for (const [id, s] of sessions) {
      if ((sid && s.sid === sid && (!sub || s.sub === sub)) || (!sid && sub && s.sub === sub)) {
        sessions.delete(id);
        endedByPharmid.add(id);
      }
    }
    backchannelEnded.push({ sid, sub });
    send(res, 200, '', 'text/plain');
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const current = new URL(req.url ?? '/', url);
    const id = cookiesOf(req)[sessionCookie];
    const session = id ? sessions.get(id) : undefined;
    const route = `${req.method} ${current.pathname}`;
    switch (route) {
      case 'GET /': {
        if (session) {
          send(res, 200, signedInPage(look, view(session)));
          session.notice = undefined;
        } else if (id && endedByPharmid.delete(id)) {
          send(res, 200, signedOutPage(look, `pharmid told ${look.name} that you signed out (single logout).`));
        } else {
          send(res, 200, signedOutPage(look));
        }
        return;
      }
      case 'GET /login': return login(req, res, current.searchParams);
      case 'GET /callback': return callback(req, res, current);
      case 'POST /userinfo': {
        if (!session) return redirect(res, '/');
        // Refresh first when the access token is about to expire, as a portal at work would.
        if (session.expiresAt - Date.now() / 1000 < 30 && !(await refresh(id!, session))) return redirect(res, '/');
        const s = sessions.get(id!)!;
        s.userinfo = await oidc.fetchUserInfo(ready(), s.accessToken, s.sub) as Record<string, unknown>;
        s.notice = 'Userinfo fetched from pharmid.';
        return redirect(res, '/');
      }
      case 'POST /refresh': {
        if (!session) return redirect(res, '/');
        if (await refresh(id!, session)) sessions.get(id!)!.notice = 'Tokens refreshed; pharmid issued a new refresh token.';
        else endedByPharmid.add(id!);
        return redirect(res, '/');
      }
      case 'POST /logout': {
        if (!session) return redirect(res, '/');
        sessions.delete(id!);
        const end = oidc.buildEndSessionUrl(ready(), {
          id_token_hint: session.idToken,
          post_logout_redirect_uri: `${url}/signed-out`,
          state: oidc.randomState(),
        });
        return redirect(res, end.href, [cookie(sessionCookie, '', 0)]);
      }
      case 'GET /signed-out':
        return send(res, 200, signedOutPage(look, `You have signed out of ${look.name}.`));
      case 'POST /backchannel-logout':
        return backchannelLogout(req, res);
      default:
        if (current.pathname === '/backchannel-logout') {
          return send(res, 405, JSON.stringify({ error: 'invalid_request', error_description: 'use POST' }), 'application/json', { allow: 'POST' });
        }
        return send(res, 404, messagePage(look, 'Page not found', 'There is no such page.'));
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return res.end();
      if (err instanceof HttpError) return send(res, err.status, JSON.stringify(err.body), 'application/json');
      if (err instanceof LogoutTokenRejected) {
        return send(res, 400, JSON.stringify({ error: 'invalid_request', error_description: err.message }), 'application/json');
      }
      if (new URL(req.url ?? '/', url).pathname === '/backchannel-logout') {
        // Not the token's fault (pharmid's keys could not be fetched): worth pharmid trying again.
        return send(res, 503, JSON.stringify({ error: 'temporarily_unavailable' }), 'application/json');
      }
      const e = err as { error?: string; message?: string };
      return send(res, 502, messagePage(look, 'Sorry, there is a problem', `The portal could not complete this with pharmid: ${e.error ?? e.message ?? 'unknown error'}`));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  url = `http://localhost:${(server.address() as { port: number }).port}`;

  return {
    name: opts.name,
    url,
    redirectUri: `${url}/callback`,
    postLogoutRedirectUri: `${url}/signed-out`,
    backchannelLogoutUri: `${url}/backchannel-logout`,
    async connect(client) {
      const issuer = new URL(client.issuer);
      config = await oidc.discovery(
        issuer, client.clientId, client.clientSecret, client.clientSecret ? undefined : oidc.None(),
        issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
      );
      keys = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    },
    setOthers(others) { look.others = others; },
    openSessions: () => [...sessions.values()].map((s) => ({ sub: s.sub, sid: s.sid })),
    backchannelEnded,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
