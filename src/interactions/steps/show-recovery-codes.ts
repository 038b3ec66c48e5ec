import { openCodes } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';

/** The new recovery codes, shown once, until the person says they have saved them. */
export const showRecoveryCodes: Step = {
  name: 'recovery-codes',
  applies: (s) => s.recoveryCodesSealed !== undefined,
  async render(c) {
    return {
      template: 'recovery-codes',
      model: {
        title: 'Save your recovery codes',
        action: c.url('recovery-codes'),
        codes: openCodes(c.deps, c.state.recoveryCodesSealed!),
      },
    };
  },
  async submit(c) {
    return { ...c.state, recoveryCodesSealed: undefined };
  },
};
