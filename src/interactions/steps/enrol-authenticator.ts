import { beginEnrolment, confirmEnrolment, viewEnrolment } from '../../domain/authenticators.js';
import { sealCodes } from '../../domain/sign-in-flows.js';
import { skipEnrolment } from '../../domain/rollout.js';
import { InvalidInput } from '../../domain/errors.js';
import type { FlowState } from '../../domain/sign-in-flows.js';
import type { Step, StepContext } from '../step.js';

/**
 * Due when the person has no authenticator and the rollout policy requires or
 * offers one, or has just used a recovery code instead of theirs.
 */
function due(s: FlowState): boolean {
  if (s.prompt !== 'login' || !s.userId) return false;
  if (s.mfa) return s.replaceAuthenticator === true;
  if (s.hasAuthenticator || s.enrolmentSkipped) return false;
  const r = s.requirement;
  return !r || r.required || r.offered;
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
  applies: due,
  async render(c, { errors }) {
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
    const codes = await confirmEnrolment(c.deps, c.state.userId!, c.state.pendingCredentialId, code);
    return {
      ...c.state,
      amr: [...new Set([...c.state.amr, 'otp', 'mfa'])],
      mfa: true,
      hasAuthenticator: true,
      replaceAuthenticator: false,
      pendingCredentialId: undefined,
      recoveryCodesSealed: sealCodes(c.deps, codes),
    };
  },
};
