import { unusedRecoveryCodes } from '../../domain/factors/recovery-codes.js';
import { InvalidInput } from '../../domain/errors.js';
import type { FlowState } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';

/** At or below this many codes left, the page warns that the person should make new ones. */
export const FEW_CODES_LEFT = 2;

/**
 * After a recovery code, the person chooses: carry on (they still have their
 * app or key, say the phone is at home) or set up a new authenticator app or
 * a passkey now, either of which replaces the app the code stood in for. Carrying on leaves the
 * authenticator as it is; either way the sign-in has its second factor.
 */
export const afterRecovery: Step = {
  name: 'after-recovery',
  applies: (s: FlowState) => s.prompt === 'login' && !!s.userId && s.mfa === true && s.recoveryChoicePending === true,
  async render(c, { errors }) {
    const left = await unusedRecoveryCodes(c.deps, c.state.userId!);
    return {
      template: 'after-recovery',
      model: { title: 'You used a recovery code', action: c.url('after-recovery'), left, fewLeft: left <= FEW_CODES_LEFT, hasApp: c.state.hasAuthenticator === true, errors },
    };
  },
  async submit(c, form) {
    if (form.choice === 'carry-on') {
      return { ...c.state, recoveryChoicePending: false, replaceAuthenticator: false, replacesCredentialId: undefined };
    }
    if (form.choice === 'new-authenticator') return { ...c.state, recoveryChoicePending: false, replaceAuthenticator: true };
    if (form.choice === 'new-passkey') return { ...c.state, recoveryChoicePending: false, passkeyAfterRecovery: true };
    throw new InvalidInput('Choose whether to carry on, or to set up a new authenticator app or passkey now', 'choice');
  },
};
