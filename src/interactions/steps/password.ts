import { checkPassword } from '../../domain/sign-in.js';
import { passwordPassed } from '../password-passed.js';
import { AccountChanged, InvalidInput, Rejected } from '../../domain/errors.js';
import type { Step } from '../step.js';

const WRONG = 'The email address or password is not right. Check them and try again.';
const RESTARTED = new AccountChanged().message;

export const password: Step = {
  name: 'password',
  applies: (s) => s.prompt === 'login' && !s.userId,
  async render(c, { errors, values }) {
    return {
      template: 'sign-in',
      model: {
        title: 'Sign in',
        action: c.url('password'),
        email: values.email ?? c.request.loginHint ?? '',
        activateUrl: c.url('activate'),
        // Back here afterwards: the page that changes the password offers to carry on to this portal.
        forgottenUrl: `/password/forgotten?from=${encodeURIComponent(c.state.uid)}`,
        notice: c.state.restarted ? RESTARTED : undefined,
        errors,
      },
    };
  },
  async submit(c, form) {
    const email = form.email ?? '';
    const secret = form.password ?? '';
    if (!email.trim()) throw new InvalidInput('Enter your email address', 'email');
    if (!secret) throw new InvalidInput('Enter your password', 'password');
    const result = await checkPassword(c.deps, email, secret, c.ip);
    if (!result.ok) throw new Rejected(WRONG, 'password');
    return passwordPassed(c, result.user);
  },
};
