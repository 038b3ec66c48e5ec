import { boundToInteraction } from '../../domain/factors/passkey-challenges.js';
import { authenticationOptions, provePasskey } from '../../domain/factors/passkey-ceremonies.js';
import { hasSecondFactor, provedNow, type FlowState } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';
import { otpDue } from './otp.js';

/**
 * A passkey as the second factor: due for a person whose only factor is a
 * passkey, or when the portal demands a phishing-resistant sign-in; offered
 * from the code page to a person who has both.
 */
export const passkeyDue = (s: FlowState) => s.prompt === 'login' && !!s.userId && !s.mfa && s.hasPasskey === true && (s.phrDemanded === true || s.hasAuthenticator !== true);

/** The RFC 8176 methods after a passkey proved in a sign-in: what came before, the key, then `mfa`. */
export function withPasskey(amr: string[], method: 'hwk' | 'swk'): string[] {
  return [...new Set([...amr.filter((m) => m !== 'mfa'), method, 'mfa'])];
}

export const passkey: Step = {
  name: 'passkey',
  applies: passkeyDue,
  offered: (s) => s.prompt === 'login' && !!s.userId && !s.mfa && s.hasPasskey === true && hasSecondFactor(s),
  async render(c, { errors }) {
    const options = await authenticationOptions(c.deps, boundToInteraction(c.state.uid), c.state.userId!);
    // A portal that asks for phr takes no recovery code: its link would only lead to the page saying so. Say what to do instead.
    const phr = c.state.phrDemanded === true;
    return {
      template: 'passkey',
      model: {
        title: 'Use your passkey or security key',
        action: c.url('passkey'),
        options: JSON.stringify(options),
        otpUrl: otpDue(c.state) ? c.url('otp') : undefined,
        recoveryUrl: phr ? undefined : c.url('recovery'),
        lostKey: phr ? { portal: (await c.request.portal()).name, accountUrl: '/account', abortAction: `/interaction/${c.state.uid}/abort` } : undefined,
        stepUp: c.state.proved?.session !== undefined,
        errors,
      },
    };
  },
  async submit(c, form) {
    const proof = await provePasskey(c.deps, boundToInteraction(c.state.uid), form.credential, { userId: c.state.userId!, ip: c.ip });
    return { ...c.state, amr: withPasskey(c.state.amr, proof.method), mfa: true, phr: true, proved: provedNow(c.state, 'passkey') };
  },
};
