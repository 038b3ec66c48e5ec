import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { listSites, lastSiteChoice } from '../domain/accounts.js';
import type { Deps } from '../domain/deps.js';
import { OWN_PORTAL_ID } from '../domain/clients.js';
import { mfaRequirement, portalDemandsMfa, type MfaRequirement } from '../domain/rollout.js';
import { isMultiFactorAcr } from '../domain/sign-in.js';
import { demandsPhr } from '../domain/sign-in-flows.js';

const { Check, Prompt, base } = interactionPolicy;

/**
 * Scopes the person is always asked about, first-party portals included:
 * `admin` lets a portal act as the person in the admin API (add and remove
 * people, reset their passwords and authenticators), so no portal gets it
 * without the person agreeing on the consent page. Once agreed, the grant
 * keeps it for that portal in that sign-in.
 */
export const ALWAYS_ASKED: ReadonlySet<string> = new Set(['admin']);

/** What a first-party portal is granted without a consent page: what it asked for, less what is always asked. */
export function grantedWithoutAsking(requested: Iterable<string>): string[] {
  return [...requested].filter((scope) => !ALWAYS_ASKED.has(scope));
}

/**
 * oidc-provider's prompts, plus pharmid's:
 *  - login also when the session's account is gone (disabled, or reset after the sign-in);
 *  - login also when a password-only session meets a portal or policy that requires MFA (step-up: only the code is asked);
 *  - select_site when a person with several sites asks for the `sites` scope
 *    and has not chosen one for this portal (requestable: `prompt=select_site`).
 */
export function buildPolicy(deps: Deps) {
  // The person's requirement at this portal, asked once per request: a password-only session meets both
  // checks below, and `phr` does not depend on whether the portal itself demands MFA.
  const asked = new WeakMap<KoaContextWithOIDC, Promise<MfaRequirement>>();
  const requirementOf = (ctx: KoaContextWithOIDC): Promise<MfaRequirement> => {
    let found = asked.get(ctx);
    if (!found) {
      const { session, client, params } = ctx.oidc;
      found = mfaRequirement(deps, {
        userId: session!.accountId!,
        clientId: client!.clientId,
        demandedByPortal: portalDemandsMfa((client as unknown as Record<string, unknown>)['urn:pharmid:require_mfa'], params?.acr_values),
      });
      asked.set(ctx, found);
    }
    return found;
  };
  const policy = base();
  const login = policy.get('login')!;
  // findAccount yields nothing for a disabled person or a sign-in older than an
  // administrative reset: such a session counts as signed out.
  login.checks.add(new Check('account_signed_out', 'the session ended (the person was disabled or reset)', 'login_required', (ctx: KoaContextWithOIDC) => {
    const { session, account } = ctx.oidc;
    return session?.accountId && !account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
  }));
  login.checks.add(new Check('mfa_required', 'a second factor is required', 'login_required', async (ctx: KoaContextWithOIDC) => {
    const { session, client } = ctx.oidc;
    if (!session?.accountId || isMultiFactorAcr(session.acr) || !client) return Check.NO_NEED_TO_PROMPT;
    // A password-only session (a rollout grace period) steps up when the portal or the policy now requires MFA.
    return (await requirementOf(ctx)).required ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
  }));

  // A portal that asks acr_values=phr, or a rollout policy that requires passkeys for the person's site or this
  // portal, gets a passkey sign-in: a session made with a code steps up (only the passkey is asked).
  login.checks.add(new Check('phr_required', 'a phishing-resistant sign-in (a passkey) is required', 'login_required', async (ctx: KoaContextWithOIDC) => {
    const { session, params, client } = ctx.oidc;
    if (!session?.accountId || session.acr === 'phr') return Check.NO_NEED_TO_PROMPT;
    if (demandsPhr(params?.acr_values)) return Check.REQUEST_PROMPT;
    // No policy asks pharmid's own pages for a passkey (rollout.ts): no query for them.
    if (!client || client.clientId === OWN_PORTAL_ID) return Check.NO_NEED_TO_PROMPT;
    return (await requirementOf(ctx)).phr ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
  }));

  policy.add(new Prompt(
    { name: 'select_site', requestable: true },
    new Check('site_not_chosen', 'the person works at several sites and has not chosen one', async (ctx: KoaContextWithOIDC) => {
      const { oidc } = ctx;
      const accountId = oidc.session?.accountId;
      if (!accountId || !oidc.requestParamScopes.has('sites') || oidc.result?.select_site) return Check.NO_NEED_TO_PROMPT;
      const sites = await listSites(deps, accountId);
      if (sites.length < 2) return Check.NO_NEED_TO_PROMPT;
      const chosen = await lastSiteChoice(deps, accountId, oidc.client!.clientId);
      return chosen ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  ), 1);
  return policy;
}
