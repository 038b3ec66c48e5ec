import type { FlowState } from '../domain/sign-in-flows.js';
import type { Step } from './step.js';
import { password } from './steps/password.js';
import { activate } from './steps/activate.js';
import { sharedLogin } from './steps/shared-login.js';
import { resetCode } from './steps/reset-code.js';
import { enrolAuthenticator } from './steps/enrol-authenticator.js';
import { showRecoveryCodes } from './steps/show-recovery-codes.js';
import { otp } from './steps/otp.js';
import { passkey } from './steps/passkey.js';
import { passkeySignIn } from './steps/passkey-sign-in.js';
import { enrolPasskey } from './steps/enrol-passkey.js';
import { needsPasskey } from './steps/needs-passkey.js';
import { recoveryCode } from './steps/recovery-code.js';
import { afterRecovery } from './steps/after-recovery.js';
import { recoveryPasskey } from './steps/recovery-passkey.js';
import { confirmSiteLink } from './steps/confirm-site-link.js';
import { chooseSite } from './steps/choose-site.js';
import { consent } from './steps/consent.js';

/**
 * The sign-in flow is this ordered list: the first step that applies is shown;
 * when none applies, the interaction is finished. A new factor is a new entry.
 */
export const STEPS: readonly Step[] = [
  password,
  passkeySignIn,
  activate,
  sharedLogin,
  resetCode,
  afterRecovery,
  recoveryPasskey,
  enrolAuthenticator,
  enrolPasskey,
  showRecoveryCodes,
  passkey,
  otp,
  recoveryCode,
  needsPasskey,
  confirmSiteLink,
  chooseSite,
  consent,
];

export function dueStep(state: FlowState): Step | undefined {
  return STEPS.find((s) => s.applies(state));
}

/** A step a link may open now: the first one due (no jumping ahead past it), or an offered alternative. */
export function reachableStep(state: FlowState, name: string): Step | undefined {
  const step = STEPS.find((s) => s.name === name);
  if (!step) return undefined;
  return step === dueStep(state) || step.offered?.(state) ? step : undefined;
}
