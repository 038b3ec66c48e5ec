import { activate as activateAccount } from '../../domain/sign-in.js';
import { PASSWORD_HINT } from '../../domain/passwords.js';
import { passwordPassed } from '../password-passed.js';
import { InvalidInput } from '../../domain/errors.js';
import type { Step } from '../step.js';

/** First sign-in with an activation code: the person chooses their password. */
export const activate: Step = {
  name: 'activate',
  applies: () => false,
  offered: (s) => s.prompt === 'login' && !s.userId,
  async render(c, { errors, values }) {
    return {
      template: 'activate',
      model: {
        title: 'Activate your account',
        action: c.url('activate'),
        email: values.email ?? c.request.loginHint ?? '',
        signInUrl: c.url('password'),
        passwordHint: PASSWORD_HINT,
        errors,
      },
    };
  },
  async submit(c, form) {
    const email = form.email ?? '';
    const code = form.activation_code ?? '';
    const newPassword = form.new_password ?? '';
    if (!email.trim()) throw new InvalidInput('Enter your email address', 'email');
    if (!code.trim()) throw new InvalidInput('Enter the activation code you were given', 'activation_code');
    if (!newPassword) throw new InvalidInput('Choose a password', 'new_password');
    const user = await activateAccount(c.deps, email, code, newPassword, c.ip, c.trustedDevices);
    return passwordPassed(c, user);
  },
};
