import { createHash, randomBytes } from 'node:crypto';
import { CookieJar, type HttpClient, type HttpResponse } from './http.js';
import { stepAt, type BenchClient, type BenchUser } from './seed.js';

/** Milliseconds per kind of request, summed over a sign-in's requests of that kind. */
export type StepTimes = Record<string, number>;

export interface SignInTarget {
  http: HttpClient;
  client: BenchClient;
  basicAuth: string;
  /** The issuer's origin: redirects there stay on pharmid even when it is not the address we connect to. */
  issuerOrigin: string;
  /** Called around each request (the CPU breakdown reads the server's CPU there). */
  probe?: { before(): void; after(label: string): void };
}

export function basicAuth(client: BenchClient): string {
  const enc = (s: string) => encodeURIComponent(s);
  return `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(client.clientSecret)}`).toString('base64')}`;
}

const b64url = (b: Buffer) => b.toString('base64url');

export function unescapeHtml(s: string): string {
  return s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A form's hidden fields (a CSRF token, should one appear). */
export function hiddenFieldsOf(formHtml: string): Record<string, string> {
  const hidden: Record<string, string> = {};
  for (const m of formHtml.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
    if (name) hidden[unescapeHtml(name)] = unescapeHtml(value);
  }
  return hidden;
}

/** The sign-in step's form: its action and hidden fields. */
function formOf(html: string): { action: string; hidden: Record<string, string> } | undefined {
  const form = /<form[^>]*action="([^"]*\/interaction\/[^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return undefined;
  return { action: unescapeHtml(form[1]!), hidden: hiddenFieldsOf(form[2]!) };
}

/** A path on pharmid, or undefined for a redirect that leaves it (the portal's callback). */
function localPath(location: string, origins: string[]): string | undefined {
  if (location.startsWith('/')) return location;
  const u = new URL(location);
  return origins.includes(u.origin) ? `${u.pathname}${u.search}` : undefined;
}

function jwtPayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

export interface TokenSet { access_token: string; refresh_token: string; id_token?: string }

export function parseTokens(res: HttpResponse, what: string): TokenSet {
  if (res.status !== 200) throw new Error(`${what} answered ${res.status}: ${res.body.slice(0, 200)}`);
  const tokens = JSON.parse(res.body) as Partial<TokenSet>;
  if (!tokens.access_token || !tokens.refresh_token) throw new Error(`${what} gave no access and refresh token`);
  return tokens as TokenSet;
}

/**
 * What a sign-in posts at one of pharmid's pages: the request's name (for
 * the step timings), the form's action and fields, and the name of the page
 * the answer leads to.
 */
export interface PageAnswer { label: string; action: string; fields: Record<string, string>; nextPage?: string }

/**
 * One whole sign-in as a portal and a browser make it: /auth with PKCE S256,
 * state and nonce; the password page; the code page (a code for a time step
 * this person has not used); the redirect back with ?code; the code exchange
 * with client_secret_basic and the verifier. Returns the refresh token.
 */
export function signIn(t: SignInTarget, user: BenchUser, times: StepTimes): Promise<string> {
  return codeFlow(t, times, 'mfa', (html, status) => {
    const form = status === 200 ? formOf(html) : undefined;
    if (!form) throw new Error(`no sign-in form (status ${status}): ${html.replace(/\s+/g, ' ').slice(0, 200)}`);
    const step = form.action.split('/').pop();
    if (step === 'password') {
      return { label: 'password', action: form.action, fields: { ...form.hidden, email: user.email, password: user.password }, nextPage: 'code page' };
    }
    if (step === 'otp') {
      const now = Date.now();
      user.lastStep = stepAt(now);
      return { label: 'otp', action: form.action, fields: { ...form.hidden, code: user.totp.generate({ timestamp: now }) } };
    }
    throw new Error(`unexpected sign-in step "${step}"`);
  });
}

/**
 * The authorization code flow around a sign-in, with `answer` saying what
 * to post at each of pharmid's pages; the ID token must carry `acr`.
 */
export async function codeFlow(t: SignInTarget, times: StepTimes, acr: string, answer: (html: string, status: number) => PageAnswer): Promise<string> {
  const origins = [`http://${t.http.host}:${t.http.port}`, t.issuerOrigin];
  const jar = new CookieJar();
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const query = new URLSearchParams({
    client_id: t.client.clientId,
    redirect_uri: t.client.redirectUri,
    response_type: 'code',
    scope: 'openid email profile sites',
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  const timed = async (label: string, request: () => Promise<HttpResponse>) => {
    t.probe?.before();
    const started = performance.now();
    const res = await request();
    times[label] = (times[label] ?? 0) + performance.now() - started;
    t.probe?.after(label);
    return res;
  };
  const send = async (label: string, method: 'GET' | 'POST', path: string, form?: Record<string, string>) => {
    const headers: Record<string, string> = {};
    const cookie = jar.header(path);
    if (cookie) headers.cookie = cookie;
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await timed(label, () => t.http.request(method, path, headers, form ? new URLSearchParams(form).toString() : undefined));
    jar.store(res.setCookie);
    return res;
  };

  let res = await send('authorize', 'GET', `/auth?${query}`);
  let callback: string | undefined;
  let page = 'sign-in page';
  for (let hop = 0; hop < 12 && !callback; hop += 1) {
    if (res.status >= 300 && res.status < 400 && res.location) {
      const path = localPath(res.location, origins);
      if (!path) { callback = res.location; break; }
      res = await send(path.startsWith('/auth/') ? 'resume' : page, 'GET', path);
      continue;
    }
    const a = answer(res.body, res.status);
    res = await send(a.label, 'POST', a.action, a.fields);
    if (a.nextPage) page = a.nextPage;
    if (res.status >= 400) throw new Error(`${a.label} answered ${res.status}: ${/nhsuk-error-summary[\s\S]{0,400}/.exec(res.body)?.[0]?.replace(/<[^>]+>|\s+/g, ' ') ?? ''}`);
  }
  if (!callback) throw new Error('the sign-in did not reach the portal');

  const back = new URL(callback);
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`the portal got no code: ${back.search.slice(0, 200)}`);
  if (back.searchParams.get('state') !== state) throw new Error('state mismatch');

  const tokenRes = await timed('token', () => t.http.request('POST', '/token', {
    authorization: t.basicAuth,
    'content-type': 'application/x-www-form-urlencoded',
  }, new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: t.client.redirectUri, code_verifier: verifier }).toString()));
  const tokens = parseTokens(tokenRes, 'the code exchange');
  // The bench trusts the signature (verifying it would spend the server's CPU
  // here); it checks what proves this was a real two-factor sign-in.
  const claims = jwtPayload(tokens.id_token ?? '');
  if (claims.nonce !== nonce) throw new Error('nonce mismatch in the ID token');
  if (claims.acr !== acr) throw new Error(`ID token acr is ${String(claims.acr)}, not ${acr}`);
  return tokens.refresh_token;
}

/** One refresh-token grant; returns the rotated refresh token. */
export async function refresh(t: SignInTarget, refreshToken: string): Promise<string> {
  const res = await t.http.request('POST', '/token', {
    authorization: t.basicAuth,
    'content-type': 'application/x-www-form-urlencoded',
  }, new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString());
  return parseTokens(res, 'the refresh grant').refresh_token;
}
