import { Provider, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.js';
import type { Deps } from '../domain/deps.js';
import type { KeyValueStore } from '../store/key-value-store.js';
import type { PrivateJwk } from '../domain/signing-keys.js';
import { adapterFactory } from './adapter.js';
import { findAccountFor, tokenHonoured } from './find-account.js';
import { findUser } from '../domain/accounts.js';
import { buildPolicy, grantedWithoutAsking } from './policy.js';
import { outgoingFetch, retryBackchannelLogout } from './backchannel.js';
import { sessionTtl, trackSessions } from './session-activity.js';
import { rememberSignIn } from '../domain/sign-in-memory.js';

/** How the provider's own pages (errors, sign-out) are drawn; handed in by the app. */
export interface ProviderPages {
  error(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, err?: Error): Promise<void>;
  /** The sign-out confirmation: the portal asking (if known) and every portal this browser's session is signed in to. */
  logout(ctx: KoaContextWithOIDC, form: { action: string; secret: string; clientId?: string; signedInTo: string[] }): Promise<void>;
  /** After the sign-out, when the portal gave no page of its own to come back to. */
  signedOut(ctx: KoaContextWithOIDC, outcome: { signedOutOf: string[]; stillIn: string[] }): Promise<void>;
}

/** Which portals the last sign-out in this browser ended, for pharmid's own "You have signed out" page. */
const SIGNED_OUT_COOKIE = 'pharmid.signed-out';

/** The portals a session is signed in to (oidc-provider keeps one authorization per client id). */
function portalsOf(session: unknown): string[] {
  return Object.keys((session as { authorizations?: Record<string, unknown> } | undefined)?.authorizations ?? {});
}

/**
 * oidc-provider's end_session confirm signs out of every portal when the
 * form carries `logout=yes`, and otherwise out of the asking portal alone
 * (its grant revoked, its back-channel logout sent, the rest of the session
 * kept under a new id). Which portals went is kept for a few minutes in a
 * signed cookie read by the signed-out page, which has no session to ask.
 */
function rememberSignOut(provider: Provider, secure: boolean): void {
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const everything = !!(ctx.oidc.params as { logout?: string } | undefined)?.logout;
    const gone = everything ? portalsOf(ctx.oidc.session) : [ctx.oidc.client?.clientId].filter((id): id is string => !!id);
    ctx.cookies.set(SIGNED_OUT_COOKIE, gone.join(' '), {
      signed: true, httpOnly: true, sameSite: 'lax', secure, maxAge: 5 * 60 * 1000, path: ctx.oidc.urlFor('end_session_success').replace(/^https?:\/\/[^/]+/, ''),
    });
  });
}

/** What the signed-out page says: the portals just left, and those this browser is still signed in to. */
async function signOutOutcome(ctx: KoaContextWithOIDC): Promise<{ signedOutOf: string[]; stillIn: string[] }> {
  const signedOutOf = (ctx.cookies.get(SIGNED_OUT_COOKIE, { signed: true }) ?? '').split(' ').filter(Boolean);
  const session = await ctx.oidc.provider.Session.get(ctx);
  const stillIn = session.accountId ? portalsOf(session).filter((id) => !signedOutOf.includes(id)) : [];
  return { signedOutOf, stillIn };
}

export interface ProviderOptions {
  config: Config;
  deps: Deps;
  store: KeyValueStore;
  keys: PrivateJwk[];
  pages: ProviderPages;
}

/**
 * Claims by scope. How the person signed in (acr, amr, auth_time) rides with
 * `openid`, so every ID token carries it without the portal asking.
 */
export const CLAIMS = {
  acr: null,
  amr: null,
  auth_time: null,
  sid: null,
  iss: null,
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name'],
  sites: ['sites', 'site'],
};

function isFirstParty(ctx: KoaContextWithOIDC): boolean {
  return (ctx.oidc.client as unknown as Record<string, unknown>)['urn:pharmid:first_party'] === true;
}

/**
 * First-party portals are trusted without a consent page for the ordinary
 * scopes: their grant is made (or widened) here with what they asked for,
 * less the scopes the person is always asked about (`admin`, see policy.ts):
 * those stay missing from the grant, so the consent prompt asks for them.
 * Other portals reuse the grant the person agreed to before.
 */
async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session!.grantIdFor(oidc.client!.clientId);
  const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!isFirstParty(ctx)) return existing;
  const grant = existing ?? new oidc.provider.Grant({ clientId: oidc.client!.clientId, accountId: oidc.session!.accountId! });
  const before = JSON.stringify((grant as unknown as { openid?: unknown }).openid);
  const trusted = grantedWithoutAsking(oidc.requestParamOIDCScopes);
  if (trusted.length) grant.addOIDCScope(trusted.join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  // Single sign-on reuses the grant as it is; write only a new or widened one.
  if (!existing || JSON.stringify((grant as unknown as { openid?: unknown }).openid) !== before) await grant.save();
  return grant;
}

/** How the person signed in, as an access token records it in `extra` when it is issued (read by src/admin/bearer.ts). */
export interface TokenSignIn { acr?: string; amr?: string[]; auth_time?: number }

/**
 * An access token keeps how its person signed in at the moment it was
 * issued: from the authorization code, or from the refresh token it was
 * renewed with (which carries the code's). A session that steps up later
 * does not change what an earlier token was issued for (the admin API reads
 * this, never the session).
 */
function recordSignIn(ctx: KoaContextWithOIDC, token: { kind?: string; accountId?: string }): TokenSignIn {
  if (token.kind !== 'AccessToken' || !token.accountId) return {};
  const source = (ctx?.oidc?.entities.AuthorizationCode ?? ctx?.oidc?.entities.RefreshToken) as
    { acr?: string; amr?: string[]; authTime?: number } | undefined;
  if (!source) return {};
  return { acr: source.acr, amr: source.amr, auth_time: source.authTime };
}

/** A person's token is honoured only while its person and sign-in are (see tokenHonoured); a portal's own token always. */
async function stillHonoured(deps: Deps, token: { accountId?: string; iat?: number }): Promise<boolean> {
  if (!token.accountId) return true;
  const user = await findUser(deps, token.accountId);
  return !!user && tokenHonoured(user, token as { authTime?: number; iat?: number });
}

/**
 * Browsers drop a SameSite=None cookie that is not Secure: where pharmid's
 * cookies are not Secure (development over http), the provider's None
 * becomes Lax, which a same-site portal's POST still carries. oidc-provider
 * sets its cookies on a context of its own (ctx.oidc.cookies, made by
 * createContext), so the rule is applied there.
 */
function laxUnlessSecure(provider: Provider): void {
  const create = provider.createContext.bind(provider);
  provider.createContext = ((req, res) => {
    const ctx = create(req, res);
    const { cookies } = ctx;
    const set = cookies.set.bind(cookies);
    cookies.set = (name, value, opts) => set(name, value, opts?.sameSite === 'none' && !opts.secure ? { ...opts, sameSite: 'lax' } : opts);
    return ctx;
  }) as typeof provider.createContext;
}

export function createProvider({ config, deps, store, keys, pages }: ProviderOptions): Provider {
  const ttl = config.ttl;
  const configuration: Configuration = {
    adapter: adapterFactory(deps, store) as unknown as Configuration['adapter'],
    findAccount: findAccountFor(deps),
    jwks: { keys: keys as unknown as NonNullable<Configuration['jwks']>['keys'] },
    // The authorization and end-session endpoints take POST as well as GET
    // (OpenID Connect Core 3.1.2.1, RP-Initiated Logout 1.0 §2). A portal's
    // form POST is cross-site, so the session cookie (`long`) must go with it:
    // SameSite=None, which browsers accept only with Secure (production, https).
    // Over plain http (development) it is made Lax (see laxUnlessSecure); portals
    // on localhost are same-site with pharmid there. The interaction cookies
    // (`short`) are only ever sent on pharmid's own same-site pages: Lax.
    // Nothing else rests on SameSite: the interaction forms and pharmid's pages
    // carry CSRF tokens, logout is confirmed with a per-session secret, and the
    // session id is renewed at every sign-in.
    enableHttpPostMethods: true,
    cookies: {
      keys: config.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'none', secure: config.secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: config.secureCookies },
    },
    claims: CLAIMS,
    // `admin`: a portal may call the admin API with the person's token; the person is asked for it on every portal (policy.ts).
    scopes: ['openid', 'offline_access', 'email', 'profile', 'sites', 'admin'],
    acrValues: ['phr', 'mfa', 'pwd'],
    responseTypes: ['code'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    extraClientMetadata: { properties: ['urn:pharmid:first_party', 'urn:pharmid:require_mfa'] },
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    features: {
      devInteractions: { enabled: false },
      // A portal learns about its own tokens only: another portal's token (its subject, scopes) is none of its business.
      // A token its person's reset or credential change has refused is not active either.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId && (await stillHonoured(deps, token)),
      },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          const action = /action="([^"]+)"/.exec(form)?.[1] ?? ctx.oidc.urlFor('end_session_confirm');
          const secret = /name="xsrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
          await pages.logout(ctx, { action, secret, clientId: ctx.oidc.client?.clientId, signedInTo: portalsOf(ctx.oidc.session) });
        },
        postLogoutSuccessSource: async (ctx) => pages.signedOut(ctx, await signOutOutcome(ctx)),
      },
    },
    interactions: {
      // Called once, when the sign-in is created: remembered beyond its own life (sign-in-memory.ts), so a page
      // opened too late can still name its portal. Not on the sign-in pages themselves, which are viewed many times.
      url: async (_ctx, interaction) => {
        await rememberSignIn(deps, interaction.uid, { clientId: String(interaction.params.client_id), finished: false });
        return `/interaction/${interaction.uid}`;
      },
      policy: buildPolicy(deps),
    },
    loadExistingGrant,
    extraTokenClaims: (ctx, token) => ({ ...recordSignIn(ctx, token) }),
    // Portals keep people signed in while they work: every portal allowed the
    // refresh grant gets a refresh token, rotated at each use.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: ttl.accessToken,
      AuthorizationCode: ttl.authorizationCode,
      IdToken: ttl.idToken,
      Interaction: ttl.interaction,
      // Idle timeout from the last use, never beyond the absolute lifetime from the sign-in.
      Session: sessionTtl(ttl),
      Grant: ttl.grant,
      RefreshToken: (_ctx, token) => {
        // A refresh token never outlives the sign-in it came from by more than the configured lifetime.
        const authTime = (token as unknown as { authTime?: number }).authTime;
        if (!authTime) return ttl.refreshToken;
        const left = authTime + ttl.refreshToken - Math.floor(Date.now() / 1000);
        return Math.max(1, left);
      },
    },
    // Back-channel logout to portals: its own timeout; a portal on localhost reachable outside production.
    fetch: outgoingFetch({ allowLoopback: config.env !== 'production', logoutTimeoutMs: config.backchannelLogout.timeoutMs }),
    renderError: async (ctx, out, err) => pages.error(ctx, out as { error: string; error_description?: string }, err as Error),
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
    },
  };
  const provider = new Provider(config.issuer, configuration);
  // The same reading of X-Forwarded-For as pharmid's own app (src/app.ts).
  provider.proxy = config.trustProxy > 0;
  provider.maxIpsCount = config.trustProxy;
  if (!config.secureCookies) laxUnlessSecure(provider);
  rememberSignOut(provider, config.secureCookies);
  retryBackchannelLogout(provider, deps, config.backchannelLogout);
  trackSessions(provider, deps, ttl);
  return provider;
}
