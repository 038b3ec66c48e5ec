import { activate as activateAccount, MFA_RESET_CODE_HERE } from '../../domain/sign-in.js';
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
    // An MFA-reset code given here: signing in, not this form, is the one next step.
    const signInInstead = errors.some((e) => e.message === MFA_RESET_CODE_HERE);
    return {
      template: 'activate',
      model: {
        title: signInInstead ? 'Sign in with your password first' : 'Activate your account',
        action: c.url('activate'),
        email: values.email ?? c.request.loginHint ?? '',
        signInUrl: c.url('password'),
        passwordHint: PASSWORD_HINT,
        signInInstead,
        // The form is not shown then, so the message links to no field.
        errors: signInInstead ? errors.map((e) => ({ message: e.message })) : errors,
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
