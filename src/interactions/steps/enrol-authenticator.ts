import { assertStillReplaceable, beginEnrolment, confirmEnrolment, tellAuthenticatorAdded, viewEnrolment, type Replaces } from '../../domain/factors/authenticators.js';
import { hasSecondFactor, provedNow, sealCodes } from '../../domain/sign-in-flows.js';
import { spendResetCode } from '../../domain/sign-in.js';
import { skipEnrolment } from '../../domain/rollout.js';
import { InvalidInput } from '../../domain/errors.js';
import type { FlowState } from '../../domain/sign-in-flows.js';
import type { Step, StepContext } from '../step.js';

/**
 * Due when the person has no authenticator, proved their password in this
 * sign-in, and the rollout policy requires or offers one; or has just used a
 * recovery code instead of theirs.
 */
export function enrolmentDue(s: FlowState): boolean {
  if (s.prompt !== 'login' || !s.userId) return false;
  if (s.mfa) return s.replaceAuthenticator === true;
  if (hasSecondFactor(s) || s.enrolmentSkipped) return false;
  // A first authenticator only after the password proved in this sign-in, never on a session alone.
  if (s.proved?.pwd === undefined) return false;
  // After an MFA reset, only once this sign-in proved the code.
  if (s.resetCodePending && !s.resetCodeProof) return false;
  const r = s.requirement;
  return !r || r.required || r.offered;
}

/** What the new authenticator may replace: the one a recovery code stood in for, or (a first one) nothing. */
function replaces(s: FlowState): Replaces {
  return s.replaceAuthenticator && s.replacesCredentialId ? { credentialId: s.replacesCredentialId } : undefined;
}

/** Whether this page may offer "set it up later", and what to say about the date. */
function skipOffer(s: FlowState) {
  const r = s.requirement;
  if (s.mfa || !r?.canSkip) return undefined;
  return {
    enforceOn: r.enforceOn ? new Date(r.enforceOn).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'Europe/London' }) : undefined,
    skipsLeft: r.state === 'grace' ? r.skipsLeft : undefined,
  };
}

/** The pending secret for this sign-in, made on first view and kept until confirmed. */
async function pendingView(c: StepContext) {
  const { deps, state } = c;
  if (state.pendingCredentialId) {
    const view = await viewEnrolment(deps, state.userId!, state.email!, state.pendingCredentialId);
    if (view) return view;
  }
  const credentialId = await beginEnrolment(deps, state.userId!);
  state.pendingCredentialId = credentialId;
  return (await viewEnrolment(deps, state.userId!, state.email!, credentialId))!;
}

export const enrolAuthenticator: Step = {
  name: 'enrol',
  applies: enrolmentDue,
  async render(c, { errors }) {
    // Never a set-up to go beside (or over) an authenticator confirmed since this sign-in looked.
    await assertStillReplaceable(c.deps, c.state.userId!, replaces(c.state));
    const view = await pendingView(c);
    return {
      template: 'enrol',
      model: {
        title: 'Set up your authenticator app',
        action: c.url('enrol'),
        qrDataUri: view.qrDataUri,
        otpauthUri: view.otpauthUri,
        secretGrouped: view.secretGrouped,
        issuer: view.issuer,
        accountName: view.accountName,
        digits: c.deps.settings.totp.digits,
        period: c.deps.settings.totp.period,
        skip: skipOffer(c.state),
        // The other choice for a first factor (views/enrol-passkey.ejs; it needs JavaScript, this page does not).
        passkeyUrl: c.state.mfa ? undefined : c.url('enrol-passkey'),
        errors,
      },
    };
  },
  async submit(c, form) {
    if (form.skip === 'yes') {
      await skipEnrolment(c.deps, c.state.userId!, c.state.mfa ? { ...c.state.requirement!, canSkip: false } : c.state.requirement!, c.ip);
      return { ...c.state, enrolmentSkipped: true, pendingCredentialId: undefined };
    }
    const code = (form.code ?? '').trim();
    if (!code) throw new InvalidInput('Enter the 6-digit code from your authenticator app', 'code');
    if (!c.state.pendingCredentialId) throw new InvalidInput('Scan the QR code, then enter the code your app shows', 'code');
    const { userId, resetCodeProof } = c.state;
    // Never in place of an authenticator confirmed meanwhile (AccountChanged: the sign-in starts again).
    const codes = await confirmEnrolment(c.deps, userId!, c.state.pendingCredentialId, code, {
      replaces: replaces(c.state),
      // Before the second factor this is the person's first (after a recovery code, a replacement).
      first: !c.state.mfa,
      signIn: c.state,
      alsoInTransaction: resetCodeProof ? (tx) => spendResetCode(c.deps, tx, userId!, resetCodeProof) : undefined,
    });
    // A first authenticator is emailed to the person: one set up by someone else is noticed.
    if (!replaces(c.state)) await tellAuthenticatorAdded(c.deps, userId!, (await c.request.portal()).name);
    return {
      ...c.state,
      amr: [...new Set([...c.state.amr, 'otp', 'mfa'])],
      mfa: true,
      hasAuthenticator: true,
      replaceAuthenticator: false,
      replacesCredentialId: undefined,
      resetCodePending: false,
      resetCodeProof: undefined,
      pendingCredentialId: undefined,
      proved: provedNow(c.state, 'otp'),
      recoveryCodesSealed: sealCodes(c.deps, codes),
    };
  },
};
