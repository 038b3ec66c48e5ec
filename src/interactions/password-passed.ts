import { hasAuthenticator } from '../domain/factors/authenticators.js';
import { hasPasskey } from '../domain/factors/passkeys.js';
import { mfaRequirement } from '../domain/rollout.js';
import { awaitsResetCode } from '../domain/sign-in.js';
import { hasWaitingSites } from '../domain/site-links.js';
import { provedNow, type FlowState } from '../domain/sign-in-flows.js';
import type { UserRow } from '../db/queries/users.js';
import type { StepContext } from './step.js';

/**
 * The state once the first step of a sign-in named the person (a password,
 * an activation, a passkey alone): who it is, what they proved (`how`), and
 * what the rollout policy asks next.
 */
export async function signedIn(c: StepContext, user: UserRow, how: Pick<FlowState, 'amr' | 'proved'>): Promise<FlowState> {
  const [enrolled, passkeys] = await Promise.all([hasAuthenticator(c.deps, user.id), hasPasskey(c.deps, user.id)]);
  const requirement = await mfaRequirement(c.deps, { userId: user.id, clientId: c.state.clientId, demandedByPortal: (await c.request.portal()).mfaDemanded });
  return {
    ...c.state,
    userId: user.id,
    email: user.email,
    ...how,
    restarted: undefined,
    hasAuthenticator: enrolled,
    hasPasskey: passkeys,
    resetCodePending: !enrolled && !passkeys && (await awaitsResetCode(c.deps, user.id)),
    siteLinksWaiting: await hasWaitingSites(c.deps, user.id),
    requirement,
    // A rollout policy that requires a passkey asks what a portal's acr_values=phr asks.
    phrDemanded: c.state.phrDemanded || requirement.phr,
  };
}

/** The state after a password (or activation) step. */
export function passwordPassed(c: StepContext, user: UserRow): Promise<FlowState> {
  return signedIn(c, user, { amr: ['pwd'], proved: provedNow({ ...c.state, proved: {} }, 'pwd') });
}
