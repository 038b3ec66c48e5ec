import { proveResetCode } from '../../domain/sign-in.js';
import { hasSecondFactor, provedNow } from '../../domain/sign-in-flows.js';
import { InvalidInput } from '../../domain/errors.js';
import type { Step } from '../step.js';

/**
 * After an administrator reset someone's MFA: the one-time code they were
 * given, before they may enrol a new authenticator. A password alone (perhaps
 * a stolen one) is not enough to put a new authenticator on the account. The
 * code is only checked here; it is spent when the new authenticator is
 * confirmed, so until then every other sign-in still meets this step.
 */
export const resetCode: Step = {
  name: 'reset-code',
  applies: (s) => s.prompt === 'login' && !!s.userId && !s.mfa && !hasSecondFactor(s) && s.resetCodePending === true && !s.resetCodeProof,
  async render(c, { errors }) {
    return { template: 'reset-code', model: { title: 'Enter your one-time code', action: c.url('reset-code'), errors } };
  },
  async submit(c, form) {
    const code = (form.activation_code ?? '').trim();
    if (!code) throw new InvalidInput('Enter the one-time code your site administrator gave you', 'activation_code');
    const proof = await proveResetCode(c.deps, c.state.userId!, code, c.ip);
    return { ...c.state, resetCodeProof: proof, proved: provedNow(c.state, 'reset-code') };
  },
};
