import * as recoveryCodes from '../../db/queries/recovery-codes.js';
import * as totpCredentials from '../../db/queries/totp-credentials.js';
import * as users from '../../db/queries/users.js';
import { AccountChanged } from '../errors.js';
import { audit } from '../audit.js';
import { newRecoveryCodes } from './recovery-codes.js';
import type { Deps } from '../deps.js';
import { addPasskey } from './passkey-ceremonies.js';
import type { PasskeySummary } from './passkeys.js';
import { proofsStillCount, type FlowState } from '../sign-in-flows.js';

/**
 * A new passkey set up at sign-in right after a recovery code, the other
 * choice beside a new authenticator app. In one transaction: the key, a new
 * set of recovery codes (the person just spent one), and the removal of the
 * app the code stood in for (`replacesApp`; a lost phone's app must stop
 * working, as it does when a new app replaces it). AccountChanged when that
 * app was replaced or removed meanwhile, or when the sign-in's proofs stopped
 * counting (an administrator's reset or disable) before the row lock was
 * had: the flow checks them before the step, but a reset landing between
 * that check and this write would otherwise leave the new key (and new
 * recovery codes) standing after the reset that removed every factor. A lost
 * passkey is not removed here: which one is lost is the person's to say, on
 * the account page.
 */
export async function passkeyAfterRecovery(
  deps: Deps, user: { id: string; email: string; name: string }, bindTo: string, raw: string | undefined, name: string | undefined,
  terms: { replacesApp?: string; ip: string; by: string; signIn: FlowState },
): Promise<{ passkey: PasskeySummary; codes: string[] }> {
  const { plain, hashes } = newRecoveryCodes(deps.settings.recoveryCodes.count);
  const passkey = await addPasskey(deps, user, bindTo, raw, name, {
    actor: { kind: 'user', id: user.id }, ip: terms.ip, by: terms.by,
    async alsoInTransaction(tx) {
      // addPasskey holds the row lock already: this reads the row as it is now, after any reset that got the lock first.
      if (!proofsStillCount(await users.lockUserRow(tx, user.id), terms.signIn)) throw new AccountChanged();
      if (terms.replacesApp) {
        if (!(await totpCredentials.deleteConfirmedTotp(tx, terms.replacesApp, user.id))) throw new AccountChanged();
        await audit(tx, { kind: 'user', id: user.id }, { action: 'account.change-authenticator', outcome: 'success', targetUser: user.id, ip: terms.ip, details: { replaced_by: 'passkey' } });
      }
      await recoveryCodes.replaceRecoveryCodes(tx, user.id, hashes);
    },
  });
  return { passkey, codes: plain };
}
