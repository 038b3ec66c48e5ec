import { Provider, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.js';
import type { Deps } from '../domain/deps.js';
import type { KeyValueStore } from '../store/key-value-store.js';
import type { PrivateJwk } from '../domain/signing-keys.js';
import { adapterFactory } from './adapter.js';
import { findAccountFor } from './find-account.js';
import { buildPolicy } from './policy.js';
import { outgoingFetch, retryBackchannelLogout } from './backchannel.js';
import { sessionTtl, trackSessions } from './session-activity.js';

/** How the provider's own pages (errors, sign-out) are drawn; handed in by the app. */
export interface ProviderPages {
  error(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, err?: Error): void;
  logout(ctx: KoaContextWithOIDC, form: { action: string; secret: string; clientName?: string }): void;
  signedOut(ctx: KoaContextWithOIDC, clientName?: string): void;
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

function clientName(ctx: KoaContextWithOIDC): string | undefined {
  return (ctx.oidc.client as unknown as { clientName?: string } | undefined)?.clientName;
}

function isFirstParty(ctx: KoaContextWithOIDC): boolean {
  return (ctx.oidc.client as unknown as Record<string, unknown>)['urn:pharmid:first_party'] === true;
}

/**
 * First-party portals are trusted without a consent page: their grant is made
 * (or widened) here with what they asked for. Other portals reuse the grant
 * the person agreed to before.
 */
async function loadExistingGrant(ctx: KoaContextWithOIDC) {
  const { oidc } = ctx;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session!.grantIdFor(oidc.client!.clientId);
  const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!isFirstParty(ctx)) return existing;
  const grant = existing ?? new oidc.provider.Grant({ clientId: oidc.client!.clientId, accountId: oidc.session!.accountId! });
  const before = JSON.stringify((grant as unknown as { openid?: unknown }).openid);
  grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  // Single sign-on reuses the grant as it is; write only a new or widened one.
  if (!existing || JSON.stringify((grant as unknown as { openid?: unknown }).openid) !== before) await grant.save();
  return grant;
}

export function createProvider({ config, deps, store, keys, pages }: ProviderOptions): Provider {
  const ttl = config.ttl;
  const configuration: Configuration = {
    adapter: adapterFactory(deps, store) as unknown as Configuration['adapter'],
    findAccount: findAccountFor(deps),
    jwks: { keys: keys as unknown as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: config.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: config.secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: config.secureCookies },
    },
    claims: CLAIMS,
    // `admin`: a portal may call the admin API with the person's token (they consent to it like any scope).
    scopes: ['openid', 'offline_access', 'email', 'profile', 'sites', 'admin'],
    acrValues: ['mfa', 'pwd'],
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
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          const action = /action="([^"]+)"/.exec(form)?.[1] ?? ctx.oidc.urlFor('end_session_confirm');
          const secret = /name="xsrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
          pages.logout(ctx, { action, secret, clientName: clientName(ctx) });
        },
        postLogoutSuccessSource: async (ctx) => pages.signedOut(ctx, clientName(ctx)),
      },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: buildPolicy(deps),
    },
    loadExistingGrant,
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
  retryBackchannelLogout(provider, deps, config.backchannelLogout);
  trackSessions(provider, deps, ttl);
  return provider;
}
