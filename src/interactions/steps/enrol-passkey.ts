import { boundToInteraction } from '../../domain/factors/passkey-challenges.js';
import { enrolFirstPasskey, registrationOptions } from '../../domain/factors/passkey-ceremonies.js';
import { findUser } from '../../domain/accounts.js';
import { AccountChanged } from '../../domain/errors.js';
import { spendResetCode } from '../../domain/sign-in.js';
import { provedNow, sealCodes, type FlowState } from '../../domain/sign-in-flows.js';
import type { Step, StepContext, View } from '../step.js';
import { enrolmentDue } from './enrol-authenticator.js';
import { withPasskey } from './passkey.js';

/**
 * The other choice at enrolment: a passkey or security key instead of an
 * authenticator app, offered from the app's set-up page whenever a first
 * factor is due (not when replacing an app after a recovery code: that
 * replaces the app). Recovery codes follow, as after an app.
 */
export const enrolPasskey: Step = {
  name: 'enrol-passkey',
  applies: () => false,
  offered: (s: FlowState) => enrolmentDue(s) && !s.mfa,
  render: (c, { errors, values }) => passkeySetUpPage(c, 'enrol-passkey', { name: values.name ?? '', appUrl: c.url('enrol'), errors }),
  async submit(c, form) {
    const user = await findUser(c.deps, c.state.userId!);
    if (!user) throw new AccountChanged();
    const { resetCodeProof } = c.state;
    const { codes, passkey } = await enrolFirstPasskey(c.deps, user, boundToInteraction(c.state.uid), form.credential, form.name, {
      ip: c.ip,
      signIn: c.state,
      by: `you, while signing in to ${(await c.request.portal()).name}`,
      alsoInTransaction: resetCodeProof ? (tx) => spendResetCode(c.deps, tx, user.id, resetCodeProof) : undefined,
    });
    // A key just made at this origin is as phishing-resistant as one used: the sign-in counts as `phr`.
    const method = passkey.synced ? 'swk' : 'hwk';
    return {
      ...c.state,
      amr: withPasskey(c.state.amr, method),
      mfa: true,
      phr: true,
      hasPasskey: true,
      resetCodePending: false,
      resetCodeProof: undefined,
      pendingCredentialId: undefined,
      proved: provedNow(c.state, 'passkey'),
      recoveryCodesSealed: sealCodes(c.deps, codes),
    };
  },
};

/**
 * The page that sets up a passkey at sign-in (here, and after a recovery
 * code): a registration challenge bound to this sign-in, posted back to
 * `step`; `extra` is what the two pages say differently.
 */
export async function passkeySetUpPage(c: StepContext, step: string, extra: Record<string, unknown>): Promise<View> {
  const user = await findUser(c.deps, c.state.userId!);
  if (!user) throw new AccountChanged();
  const options = await registrationOptions(c.deps, user, boundToInteraction(c.state.uid));
  return {
    template: 'enrol-passkey',
    model: { title: 'Set up a passkey or security key', action: c.url(step), options: JSON.stringify(options), ...extra },
  };
}
