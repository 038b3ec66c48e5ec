import type Koa from 'koa';
import type Provider from 'oidc-provider';
import { findUser } from '../domain/accounts.js';
import { isMultiFactorAcr, signInStillValid, tokenStillValid } from '../domain/sign-in.js';
import { loadPrincipal } from '../domain/authorization.js';
import { OWN_PORTAL_ID } from '../domain/clients.js';
import { Forbidden, Rejected } from '../domain/errors.js';
import type { Deps } from '../domain/deps.js';
import type { AdminRequest } from '../domain/admin/people.js';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{10,1000}=*)$/i;

/**
 * How the person signed in, as the token recorded it when it was issued
 * (src/oidc/provider.ts keeps acr, amr and auth_time in the token's `extra`);
 * nothing for a token from before this was recorded.
 */
function signInOf(token: { extra?: unknown }): { acr?: string; auth_time?: number } {
  const extra = (token.extra ?? {}) as Record<string, unknown>;
  return {
    acr: typeof extra.acr === 'string' ? extra.acr : undefined,
    auth_time: typeof extra.auth_time === 'number' ? extra.auth_time : undefined,
  };
}


/**
 * The admin API takes access tokens that pharmid itself issued, looked up in
 * the provider (never a token from elsewhere), and only as what each token
 * was issued for:
 *  - the person granted that portal the `admin` scope (first-party portals
 *    too: a portal's ordinary sign-in token does not administer);
 *  - the token itself was issued after password and authenticator code (the
 *    acr it recorded at issuance; a session that stepped up later does not
 *    lift a password-only token);
 *  - never a token of pharmid's own portal (the account and admin pages keep
 *    theirs to themselves: they are not handed to scripts);
 *  - its sign-in session is still live, and no reset or credential change
 *    since has refused it.
 * The token's person is the actor; what they may do is for the authorization module.
 */
export function bearerPerson(deps: Deps, provider: () => Provider): Koa.Middleware {
  return async (ctx, next) => {
    const value = BEARER.exec(ctx.get('authorization'))?.[1];
    if (!value) throw new Rejected('Send a pharmid access token: Authorization: Bearer TOKEN');
    const p = provider();
    const token = await p.AccessToken.find(value);
    if (!token || token.isExpired || !token.accountId) throw new Rejected('The access token is not valid, or has expired');
    if (token.clientId === OWN_PORTAL_ID) throw new Rejected('Tokens of pharmid\'s own pages are not accepted here: use a portal granted the admin scope');
    const client = await p.Client.find(token.clientId!);
    if (!client) throw new Rejected('The portal this token was issued to is disabled or removed');
    if (!String(token.scope ?? '').split(' ').includes('admin')) {
      throw new Forbidden('This token may not administer: sign in to a portal that asks for the admin scope');
    }
    const signIn = signInOf(token);
    if (!isMultiFactorAcr(signIn.acr)) {
      throw new Forbidden('Administration needs a token issued after a sign-in with your authenticator code (acr mfa): sign in again with acr_values=mfa');
    }
    const session = token.sessionUid ? await p.Session.findByUid(token.sessionUid) : undefined;
    if (!session || session.accountId !== token.accountId) throw new Rejected('The sign-in this token came from has ended');
    const user = await findUser(deps, token.accountId);
    if (!user || !signInStillValid(user, signIn.auth_time) || !tokenStillValid(user, token.iat)) {
      throw new Rejected('The sign-in this token came from has ended');
    }
    ctx.state.admin = { principal: await loadPrincipal(deps, user.id), ip: ctx.ip } satisfies AdminRequest;
    await next();
  };
}
