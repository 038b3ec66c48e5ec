import { hasSecondFactor, type FlowState } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';

/**
 * The portal demands a phishing-resistant sign-in (acr_values=phr) and this
 * one cannot give it: the person has no passkey (or used a recovery code in
 * place of one). A plain page says so and how to add one; the sign-in goes
 * no further (the person may go back to the portal).
 */
export function needsPasskeyDue(s: FlowState): boolean {
  if (s.prompt !== 'login' || !s.userId || !s.phrDemanded || s.phr) return false;
  return s.mfa === true || (hasSecondFactor(s) && s.hasPasskey !== true);
}

export const needsPasskey: Step = {
  name: 'needs-passkey',
  applies: needsPasskeyDue,
  async render(c) {
    return {
      template: 'needs-passkey',
      model: {
        title: `${(await c.request.portal()).name} needs a passkey or security key`,
        portal: (await c.request.portal()).name,
        accountUrl: '/account/passkeys/add',
        abortAction: `/interaction/${c.state.uid}/abort`,
        hasPasskey: c.state.hasPasskey === true,
      },
    };
  },
  // Nothing to answer here: the page stays until the person goes back to the portal.
  async submit(c) {
    return c.state;
  },
};
