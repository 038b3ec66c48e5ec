import { unusedRecoveryCodes, useRecoveryCode } from '../../domain/factors/recovery-codes.js';
import { helpersFor } from '../../domain/accounts.js';
import { currentAuthenticator } from '../../domain/factors/authenticators.js';
import { provedNow } from '../../domain/sign-in-flows.js';
import { InvalidInput, Rejected } from '../../domain/errors.js';
import type { Step } from '../step.js';
import { otpDue, secondFactorAwaited } from './otp.js';

/** The alternative to the authenticator code; afterwards the person chooses to carry on or set up a new authenticator (after-recovery.ts). */
export const recoveryCode: Step = {
  name: 'recovery',
  applies: () => false,
  offered: secondFactorAwaited,
  async render(c, { errors }) {
    return {
      template: 'recovery',
      model: {
        title: 'Use a recovery code', action: c.url('recovery'), otpUrl: otpDue(c.state) ? c.url('otp') : undefined, passkeyUrl: c.state.hasPasskey ? c.url('passkey') : undefined, helpers: await helpersFor(c.deps, c.state.userId!),
        left: await unusedRecoveryCodes(c.deps, c.state.userId!), errors,
      },
    };
  },
  async submit(c, form) {
    const code = (form.recovery_code ?? '').trim();
    if (!code) throw new InvalidInput('Enter one of your recovery codes', 'recovery_code');
    // The authenticator the code stands in for, read before the code is spent: the new one may replace it and nothing else.
    const replaced = await currentAuthenticator(c.deps, c.state.userId!);
    if (!(await useRecoveryCode(c.deps, c.state.userId!, code, c.ip))) {
      throw new Rejected('That recovery code is not right, or was used already. Each code works once.', 'recovery_code');
    }
    return { ...c.state, amr: [...new Set([...c.state.amr, 'mfa'])], mfa: true, recoveryChoicePending: true, replaceAuthenticator: false, replacesCredentialId: replaced, proved: provedNow(c.state, 'recovery') };
  },
};
