import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { FlowState } from '../domain/sign-in-flows.js';
import type { Deps } from '../domain/deps.js';
import { findUser } from '../domain/accounts.js';
import { signInTimestamp } from '../domain/sign-in.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/** The grant the person agreed to on the consent page. */
async function grantConsent(provider: Provider, interaction: Interaction): Promise<string> {
  const details = interaction.prompt.details as ConsentDetails;
  const grant = interaction.grantId
    ? (await provider.Grant.find(interaction.grantId))!
    : new provider.Grant({ accountId: interaction.session!.accountId, clientId: String(interaction.params.client_id) });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

/** `phr` after a passkey, `mfa` after a code, `pwd` otherwise (DESIGN.md, "Tokens and claims"). */
export function acrOf(state: FlowState): 'phr' | 'mfa' | 'pwd' {
  if (state.phr) return 'phr';
  return state.mfa ? 'mfa' : 'pwd';
}

/**
 * The only place that tells oidc-provider how an interaction ended; returns
 * where the browser goes next.
 */
export async function finishInteraction(provider: Provider, ctx: Koa.Context, interaction: Interaction, state: FlowState, deps: Deps): Promise<string> {
  let result: Record<string, unknown>;
  switch (state.prompt) {
    case 'login': {
      // oidc-provider's own clock (real time), as for every other timestamp in its sessions and tokens.
      const user = await findUser(deps, state.userId!);
      const ts = user ? signInTimestamp(user, new Date()) : undefined;
      result = { login: { accountId: state.userId, acr: acrOf(state), amr: state.amr, remember: true, ts } };
      break;
    }
    case 'select_site':
      result = { select_site: { site: state.site } };
      break;
    case 'consent':
      result = { consent: { grantId: await grantConsent(provider, interaction) } };
      break;
    default:
      throw new Error(`no way to finish the ${state.prompt} prompt`);
  }
  return provider.interactionResult(ctx.req, ctx.res, result);
}
