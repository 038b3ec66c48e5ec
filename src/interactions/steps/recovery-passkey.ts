import { boundToInteraction } from '../../domain/factors/passkey-challenges.js';
import { passkeyAfterRecovery } from '../../domain/factors/passkey-after-recovery.js';
import { findUser } from '../../domain/accounts.js';
import { AccountChanged } from '../../domain/errors.js';
import { sealCodes, type FlowState } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';
import { passkeySetUpPage } from './enrol-passkey.js';

/**
 * After a recovery code, the person chose to set up a passkey or security
 * key now (after-recovery.ts). It replaces the app the code stood in for,
 * if any; new recovery codes follow. The sign-in's proof stays the recovery
 * code: a key made after one is not a passkey proved (no `phr` from it).
 * The page also lets the person switch to an app, or carry on without one
 * (a passkey needs JavaScript; this way out does not).
 */
export const recoveryPasskey: Step = {
  name: 'recovery-passkey',
  applies: (s: FlowState) => s.prompt === 'login' && !!s.userId && s.mfa === true && s.passkeyAfterRecovery === true,
  render: (c, { errors, values }) => passkeySetUpPage(c, 'recovery-passkey', {
    name: values.name ?? '',
    afterRecovery: true,
    replacesApp: c.state.replacesCredentialId !== undefined,
    errors,
  }),
  async submit(c, form) {
    if (form.choice === 'new-authenticator') return { ...c.state, passkeyAfterRecovery: false, replaceAuthenticator: true };
    if (form.choice === 'carry-on') return { ...c.state, passkeyAfterRecovery: false, replacesCredentialId: undefined };
    const user = await findUser(c.deps, c.state.userId!);
    if (!user) throw new AccountChanged();
    const { codes } = await passkeyAfterRecovery(c.deps, user, boundToInteraction(c.state.uid), form.credential, form.name, {
      replacesApp: c.state.replacesCredentialId,
      ip: c.ip,
      signIn: c.state,
      by: `you, after using a recovery code while signing in to ${(await c.request.portal()).name}`,
    });
    return {
      ...c.state,
      passkeyAfterRecovery: false,
      replacesCredentialId: undefined,
      hasPasskey: true,
      hasAuthenticator: c.state.replacesCredentialId ? false : c.state.hasAuthenticator,
      recoveryCodesSealed: sealCodes(c.deps, codes),
    };
  },
};
