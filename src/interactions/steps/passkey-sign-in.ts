import { findUser } from '../../domain/accounts.js';
import { boundToInteraction } from '../../domain/factors/passkey-challenges.js';
import { provePasskey } from '../../domain/factors/passkey-ceremonies.js';
import { AccountChanged } from '../../domain/errors.js';
import { provedNow } from '../../domain/sign-in-flows.js';
import { signedIn } from '../password-passed.js';
import type { Step } from '../step.js';
import { password } from './password.js';

/**
 * "Sign in with a passkey", from the sign-in page: the browser offers a
 * passkey it holds for pharmid (no email typed), which names its person. A
 * passkey with user verification (PIN, fingerprint, face) is a whole
 * multi-factor sign-in; without it, it is refused here (provePasskey). The
 * rest of the flow (site choice, consent, the policy's demands) follows as
 * after a password.
 */
export const passkeySignIn: Step = {
  name: 'passkey-sign-in',
  applies: () => false,
  offered: (s) => s.prompt === 'login' && !s.userId,
  render: (c, extra) => password.render(c, extra),
  async submit(c, form) {
    const proof = await provePasskey(c.deps, boundToInteraction(c.state.uid), form.credential, { ip: c.ip });
    const user = await findUser(c.deps, proof.userId);
    if (!user) throw new AccountChanged();
    const state = await signedIn(c, user, { amr: [proof.method, 'user', 'mfa'], proved: provedNow({ ...c.state, proved: {} }, 'passkey') });
    return { ...state, mfa: true, phr: true };
  },
};
