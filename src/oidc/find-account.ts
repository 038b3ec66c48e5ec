import type { KoaContextWithOIDC, Account, FindAccount } from 'oidc-provider';
import { findUser, profileFor, splitName } from '../domain/accounts.js';
import { signInStillValid, tokenStillValid } from '../domain/sign-in.js';
import type { UserRow } from '../db/queries/users.js';
import type { Deps } from '../domain/deps.js';

type TokenTimes = { authTime?: number; iat?: number };

/**
 * Whether a token (a code, an access or refresh token) still speaks for its
 * person: not disabled, its sign-in not older than an administrative reset,
 * and the token itself not older than the person's last credential change.
 */
export function tokenHonoured(user: UserRow, token: TokenTimes): boolean {
  return signInStillValid(user, token.authTime ?? token.iat) && tokenStillValid(user, token.iat);
}

/**
 * oidc-provider asks for the account behind a session, a code or a token. A
 * disabled person, a sign-in older than an administrative reset, or a token
 * older than the person's last credential change yields no account: the
 * session then counts as signed out and the token is refused.
 */
export function findAccountFor(deps: Deps): FindAccount {
  return async (ctx: KoaContextWithOIDC, sub: string, token?: unknown): Promise<Account | undefined> => {
    if (!/^[0-9a-f-]{36}$/i.test(sub)) return undefined;
    const user = await findUser(deps, sub);
    if (!user) return undefined;
    const t = token as TokenTimes | undefined;
    if (t ? !tokenHonoured(user, t) : !signInStillValid(user, ctx.oidc?.session?.authTime())) return undefined;
    return {
      accountId: user.id,
      async claims(_use: string, scope: string) {
        const scopes = new Set(scope.split(' '));
        const clientId = ctx.oidc?.client?.clientId ?? '';
        const out: Record<string, unknown> = { sub: user.id };
        if (scopes.has('email')) Object.assign(out, { email: user.email, email_verified: user.status === 'active' });
        if (scopes.has('profile')) Object.assign(out, { name: user.name, ...splitName(user.name) });
        if (scopes.has('sites')) {
          const profile = await profileFor(deps, user, clientId);
          out.sites = profile.sites;
          if (profile.site) out.site = profile.site;
        }
        return out as { sub: string };
      },
    };
  };
}
