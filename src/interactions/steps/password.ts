import { checkPassword } from '../../domain/sign-in.js';
import { passwordPassed } from '../password-passed.js';
import { AccountChanged, InvalidInput, Rejected } from '../../domain/errors.js';
import { awaitsPasswordBeforeEnrolment } from '../../domain/sign-in-flows.js';
import { boundToInteraction } from '../../domain/factors/passkey-challenges.js';
import { authenticationOptions } from '../../domain/factors/passkey-ceremonies.js';
import type { Step } from '../step.js';

const WRONG = 'The email address or password is not right. Check them and try again.';
const RESTARTED = new AccountChanged().message;

/**
 * The password: at the start of a sign-in (who it is), and again, for the
 * session's own person only, at a step-up that would set up a first
 * authenticator (a session alone never does).
 */
export const password: Step = {
  name: 'password',
  applies: (s) => s.prompt === 'login' && (!s.userId || awaitsPasswordBeforeEnrolment(s)),
  async render(c, { errors, values }) {
    const again = c.state.userId ? c.state.email : undefined;
    return {
      template: 'sign-in',
      model: {
        title: again ? 'Enter your password' : 'Sign in',
        action: c.url('password'),
        email: again ?? values.email ?? c.request.loginHint ?? '',
        again: again !== undefined,
        activateUrl: c.url('activate'),
        // Back here afterwards: the page that changes the password offers to carry on to this portal.
        forgottenUrl: `/password/forgotten?from=${encodeURIComponent(c.state.uid)}`,
        notice: c.state.restarted ? RESTARTED : undefined,
        // "Sign in with a passkey" (and the browser's passkey autofill), on the first sign-in page only.
        passkey: again ? undefined : {
          action: c.url('passkey-sign-in'),
          options: JSON.stringify(await authenticationOptions(c.deps, boundToInteraction(c.state.uid))),
        },
        errors,
      },
    };
  },
  async submit(c, form) {
    // Asked again for the session's person: the email is theirs, whatever the form says.
    const email = c.state.userId ? c.state.email ?? '' : form.email ?? '';
    const secret = form.password ?? '';
    if (!email.trim()) throw new InvalidInput('Enter your email address', 'email');
    if (!secret) throw new InvalidInput('Enter your password', 'password');
    const result = await checkPassword(c.deps, email, secret, c.ip, c.trustedDevices);
    if (!result.ok) throw new Rejected(WRONG, 'password');
    return passwordPassed(c, result.user);
  },
};
