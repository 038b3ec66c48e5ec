import * as totpCredentials from '../../db/queries/totp-credentials.js';
import { authorize, loadPersonTarget } from '../authorization.js';
import { requireUserById } from '../people.js';
import { unusedRecoveryCodes } from './recovery-codes.js';
import { listPasskeys, type PasskeySummary } from './passkeys.js';
import type { AdminRequest } from '../admin/people.js';
import type { Deps } from '../deps.js';

/**
 * How a person proves it is them after their password, as an administrator
 * sees it before resetting anything: whether they have an authenticator app
 * (and since when), their passkeys and security keys by name with their last
 * use, and how many recovery codes they have left. Seen with the same reach
 * as the person (`user.view`): an administrator of another site learns
 * nothing of the keys of someone who does not work there.
 */
export interface PersonFactors {
  /** The confirmed authenticator app, or undefined when there is none. */
  app?: { since: Date | null };
  passkeys: PasskeySummary[];
  recoveryCodesLeft: number;
  /** How many recovery codes a new set holds. */
  recoveryCodesIssued: number;
}

export async function personFactors(deps: Deps, r: AdminRequest, id: string): Promise<PersonFactors> {
  const user = await requireUserById(deps, id);
  await authorize(deps, r.principal, 'user.view', { person: await loadPersonTarget(deps, user.id) }, r);
  const [app, passkeys, recoveryCodesLeft] = await Promise.all([
    totpCredentials.findConfirmedTotp(deps.db, user.id), listPasskeys(deps, user.id), unusedRecoveryCodes(deps, user.id),
  ]);
  return {
    app: app ? { since: app.confirmed_at } : undefined,
    passkeys, recoveryCodesLeft, recoveryCodesIssued: deps.settings.recoveryCodes.count,
  };
}
