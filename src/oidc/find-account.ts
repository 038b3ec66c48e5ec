import type { KoaContextWithOIDC, Account, FindAccount } from 'oidc-provider';
import { findUser, profileFor, splitName } from '../domain/accounts.js';
import { signInStillValid } from '../domain/sign-in.js';
import type { Deps } from '../domain/deps.js';

/**
 * oidc-provider asks for the account behind a session, a code or a token. A
 * disabled person, or a sign-in older than an administrative reset, yields no
 * account: the session then counts as signed out and the token is refused.
 */
export function findAccountFor(deps: Deps): FindAccount {
  return async (ctx: KoaContextWithOIDC, sub: string, token?: unknown): Promise<Account | undefined> => {
    if (!/^[0-9a-f-]{36}$/i.test(sub)) return undefined;
    const user = await findUser(deps, sub);
    if (!user) return undefined;
    const t = token as { authTime?: number; iat?: number } | undefined;
    const authTime = t ? t.authTime ?? t.iat : ctx.oidc?.session?.authTime();
    if (!signInStillValid(user, authTime)) return undefined;
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
