import type Koa from 'koa';
import type Provider from 'oidc-provider';
import { findUser } from '../domain/accounts.js';
import { signInStillValid } from '../domain/sign-in.js';
import { loadPrincipal } from '../domain/authorization.js';
import { Forbidden, Rejected } from '../domain/errors.js';
import type { Deps } from '../domain/deps.js';
import type { AdminRequest } from '../domain/admin-people.js';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{10,1000}=*)$/i;

/**
 * The admin API takes access tokens that pharmid itself issued, looked up in
 * the provider (never a token from elsewhere): a person's token from one of
 * pharmid's first-party portals, or from any portal the person granted the
 * `admin` scope, whose sign-in session is still live and was made with
 * password and authenticator code. The token's person is the
 * actor; what they may do is for the authorization module.
 */
export function bearerPerson(deps: Deps, provider: () => Provider): Koa.Middleware {
  return async (ctx, next) => {
    const value = BEARER.exec(ctx.get('authorization'))?.[1];
    if (!value) throw new Rejected('Send a pharmid access token: Authorization: Bearer TOKEN');
    const p = provider();
    const token = await p.AccessToken.find(value);
    if (!token || token.isExpired || !token.accountId) throw new Rejected('The access token is not valid, or has expired');
    const client = await p.Client.find(token.clientId!);
    if (!client) throw new Rejected('The portal this token was issued to is disabled or removed');
    const firstParty = (client as unknown as Record<string, unknown>)['urn:pharmid:first_party'] === true;
    if (!firstParty && !String(token.scope ?? '').split(' ').includes('admin')) {
      throw new Forbidden('This token may not administer: ask for the admin scope, or use one of pharmid\'s first-party portals');
    }
    const session = token.sessionUid ? await p.Session.findByUid(token.sessionUid) : undefined;
    if (!session || session.accountId !== token.accountId) throw new Rejected('The sign-in this token came from has ended');
    if (session.acr !== 'mfa') throw new Forbidden('Administration needs a sign-in with your authenticator code (acr mfa)');
    const user = await findUser(deps, token.accountId);
    if (!user || !signInStillValid(user, session.authTime())) throw new Rejected('The sign-in this token came from has ended');
    ctx.state.admin = { principal: await loadPrincipal(deps, user.id), ip: ctx.ip } satisfies AdminRequest;
    await next();
  };
}
