import type { PersonFactors } from '../domain/factors/summary.js';
import { when } from './forms.js';

/** A person's factors for the console's person page (views/admin/partials/factors.ejs). */
export function factorsView(f: PersonFactors) {
  return {
    appSince: f.app ? when(f.app.since) : undefined,
    passkeys: f.passkeys.map((k) => ({
      id: k.id,
      name: k.name,
      // A synced passkey lives in a phone or password manager and follows the person between devices.
      kind: k.synced ? 'passkey synced between devices' : 'security key or passkey on one device',
      added: when(k.createdAt),
      lastUsed: k.lastUsedAt ? when(k.lastUsedAt) : 'Not used yet',
    })),
    recoveryCodes: f.app || f.passkeys.length ? `${f.recoveryCodesLeft} of ${f.recoveryCodesIssued} left` : 'None',
    // Two or fewer: the person is asked to make new ones at sign-in; an administrator may want to remind them.
    recoveryCodesLow: (f.app !== undefined || f.passkeys.length > 0) && f.recoveryCodesLeft <= 2,
  };
}

/** The same for the admin API's person (GET /people/:id). */
export function factorsJson(f: PersonFactors) {
  return {
    authenticator_app: f.app ? { since: f.app.since?.toISOString() ?? null } : null,
    passkeys: f.passkeys.map((k) => ({
      id: k.id, name: k.name, synced: k.synced, created_at: k.createdAt.toISOString(), last_used_at: k.lastUsedAt?.toISOString() ?? null,
    })),
    recovery_codes_left: f.recoveryCodesLeft,
  };
}
