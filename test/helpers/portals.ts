import { createServer, type IncomingMessage, type Server } from 'node:http';
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import type { Browser } from './browser.js';
import type { Portal } from './portal.js';
import { openAuthorization } from './pages.js';
import type { Deps } from '../../src/domain/deps.js';
import { loadSigningKeys, type PrivateJwk } from '../../src/domain/signing-keys.js';

/** A back-channel logout endpoint of a portal, on 127.0.0.1: keeps every logout token it is sent. */
export interface LogoutReceiver {
  url: string;
  /** The logout tokens received, in order (every attempt, failed ones too). */
  tokens: string[];
  /** How to answer the next requests, in order (then 200); 'hang' never answers. */
  answers: (number | 'hang')[];
  /** Resolves when `n` tokens have arrived. */
  received(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export async function logoutReceiver(answers: (number | 'hang')[] = []): Promise<LogoutReceiver> {
  const tokens: string[] = [];
  const waiting: (() => void)[] = [];
  const server: Server = createServer(async (req, res) => {
    const token = new URLSearchParams(await body(req)).get('logout_token');
    if (token) tokens.push(token);
    waiting.splice(0).forEach((w) => w());
    const answer = receiver.answers.shift() ?? 200;
    if (answer === 'hang') return;
    res.writeHead(answer).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const receiver: LogoutReceiver = {
    url: `http://localhost:${(server.address() as { port: number }).port}/backchannel-logout`,
    tokens,
    answers,
    async received(n, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (tokens.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} logout tokens, got ${tokens.length}`);
        await new Promise<void>((resolve) => { waiting.push(resolve); setTimeout(resolve, 50); });
      }
    },
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
  return receiver;
}

/** The value of a cookie in a test browser's jar (the oidc-provider session id is `_session`). */
export function cookieValue(browser: Browser, name: string): string | undefined {
  const jar = (browser.agent as unknown as { jar: { getCookies(access: unknown): { name: string; value: string }[] } }).jar;
  // What a request to pharmid's root would carry (HttpOnly cookies included).
  const all = jar.getCookies({ domain: new URL(browser.base).hostname, path: '/', secure: true, script: false });
  return all.find((c) => c.name === name)?.value;
}

/**
 * Changes what the store holds for this browser's pharmid session, as pharmid
 * itself would have saved it (a grace policy's password-only sign-in; a
 * sign-in made long ago). Returns the session as it now is.
 */
export async function rewriteSession(deps: Deps, browser: Browser, change: (s: Record<string, unknown>) => void): Promise<Record<string, unknown>> {
  const id = cookieValue(browser, '_session');
  if (!id) throw new Error('this browser has no pharmid session');
  const raw = await deps.store.get(`oidc:Session:${id}`);
  if (!raw) throw new Error('the pharmid session is not in the store');
  const session = JSON.parse(raw) as Record<string, unknown>;
  change(session);
  await deps.store.set(`oidc:Session:${id}`, JSON.stringify(session), 600);
  return session;
}

/** An authorization request with prompt=none: where pharmid sends the browser (never a page). */
export async function silently(portal: Portal, browser: Browser, params: Record<string, string> = {}) {
  const { req, res } = await openAuthorization(portal, browser, { prompt: 'none', ...params });
  if (res.status < 300 || res.status >= 400) throw new Error(`prompt=none answered ${res.status}, not a redirect: ${res.text.slice(0, 200)}`);
  const callback = new URL(res.headers.location!);
  return { req, callback, params: Object.fromEntries(callback.searchParams) };
}

/** Signs a JWT with pharmid's own current signing key (to make logout tokens, good and bad, for a portal). */
export async function signAsPharmid(deps: Deps, payload: JWTPayload, header: { typ?: string; alg?: 'RS256' | 'ES256' } = {}): Promise<string> {
  const keys = await loadSigningKeys(deps, 0);
  const jwk = keys.find((k) => k.alg === (header.alg ?? 'RS256')) as PrivateJwk;
  const key = await importJWK(jwk, jwk.alg);
  return new SignJWT(payload)
    .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, ...(header.typ === '' ? {} : { typ: header.typ ?? 'logout+jwt' }) })
    .sign(key);
}

/** Seconds since the epoch, as JWTs count. */
export const epoch = () => Math.floor(Date.now() / 1000);

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A browser's view of one demo portal: its cookies, and requests that do not follow redirects. */
export class PortalVisitor {
  private readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  private keep(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (!value || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  private headers(extra: Record<string, string> = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return { ...(cookie ? { cookie } : {}), ...extra };
  }

  async get(path: string): Promise<Response> {
    const url = path.startsWith('http') ? path : `${this.base}${path}`;
    return this.keep(await fetch(url, { redirect: 'manual', headers: this.headers() }));
  }

  async post(path: string, form: Record<string, string> = {}): Promise<Response> {
    return this.keep(await fetch(`${this.base}${path}`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(form),
      headers: this.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
    }));
  }

  /** GET a page and its text. */
  async page(path = '/'): Promise<string> {
    return (await this.get(path)).text();
  }
}
