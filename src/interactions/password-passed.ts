import { hasAuthenticator } from '../domain/authenticators.js';
import { mfaRequirement } from '../domain/rollout.js';
import { awaitsResetCode } from '../domain/sign-in.js';
import { hasWaitingSites } from '../domain/site-links.js';
import { provedNow, type FlowState } from '../domain/sign-in-flows.js';
import type { UserRow } from '../db/queries/users.js';
import type { StepContext } from './step.js';

/** The state after a password (or activation) step: who it is, and what the rollout policy asks next. */
export async function passwordPassed(c: StepContext, user: UserRow): Promise<FlowState> {
  const enrolled = await hasAuthenticator(c.deps, user.id);
  return {
    ...c.state,
    userId: user.id,
    email: user.email,
    amr: ['pwd'],
    proved: provedNow({ ...c.state, proved: {} }, 'pwd'),
    restarted: undefined,
    hasAuthenticator: enrolled,
    resetCodePending: !enrolled && (await awaitsResetCode(c.deps, user.id)),
    siteLinksWaiting: await hasWaitingSites(c.deps, user.id),
    requirement: await mfaRequirement(c.deps, { userId: user.id, clientId: c.state.clientId, demandedByPortal: (await c.request.portal()).mfaDemanded }),
  };
}
