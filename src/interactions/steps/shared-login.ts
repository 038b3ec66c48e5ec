import { looksShared } from '../../domain/generic-mailboxes.js';
import { helpersFor } from '../../domain/accounts.js';
import { InvalidInput } from '../../domain/errors.js';
import { hasSecondFactor } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';

/**
 * A legacy shared mailbox (pharmacy@, info@…) with no authenticator, where
 * MFA is now required: instead of enrolling one phone for a whole team, the
 * person is told what happened and who can make them a login of their own.
 */
export const sharedLogin: Step = {
  name: 'shared-login',
  applies: (s) => s.prompt === 'login' && !!s.userId && !s.mfa && !hasSecondFactor(s)
    && s.requirement?.required === true && looksShared(s.email ?? ''),
  async render(c) {
    return {
      template: 'shared-login',
      model: { title: 'This login is shared', email: c.state.email, helpers: await helpersFor(c.deps, c.state.userId!) },
    };
  },
  async submit() {
    throw new InvalidInput('A shared login cannot be used any more: ask for a login of your own', 'email');
  },
};
