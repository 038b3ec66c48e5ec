import { verifyTotp } from '../../domain/authenticators.js';
import { InvalidInput, Rejected } from '../../domain/errors.js';
import type { FlowState } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';

export const otpDue = (s: FlowState) => s.prompt === 'login' && !!s.userId && !s.mfa && s.hasAuthenticator === true;

export const otp: Step = {
  name: 'otp',
  applies: otpDue,
  async render(c, { errors }) {
    return {
      template: 'otp',
      model: {
        title: 'Enter your authenticator code',
        action: c.url('otp'),
        recoveryUrl: c.url('recovery'),
        issuer: c.deps.settings.totp.issuer,
        email: c.state.email,
        errors,
      },
    };
  },
  async submit(c, form) {
    const code = (form.code ?? '').replace(/\s+/g, '');
    if (!code) throw new InvalidInput('Enter the 6-digit code from your authenticator app', 'code');
    if (!/^\d{6}$/.test(code)) throw new InvalidInput('The code is 6 digits, like 123456', 'code');
    if (!(await verifyTotp(c.deps, c.state.userId!, code, c.ip))) {
      throw new Rejected(
        `The code is not right, or was used already. Use the entry labelled ${c.deps.settings.totp.issuer} (${c.state.email}) and wait for a new code.`,
        'code',
      );
    }
    return { ...c.state, amr: [...new Set([...c.state.amr, 'otp', 'mfa'])], mfa: true };
  },
};
