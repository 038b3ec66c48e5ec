import * as policies from '../db/queries/rollout-policies.js';
import type { RolloutPolicyRow, RolloutScope, RolloutState } from '../db/queries/rollout-policies.js';
import { personTerms, requiresPhr, termsAt, type PolicyRequire } from './mfa-policy.js';
import * as clients from '../db/queries/clients.js';
import { InvalidInput } from './errors.js';
import { OWN_PORTAL_ID } from './clients.js';
import { requireSite } from './sites.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';

export type { RolloutState };
export const ROLLOUT_STATES: readonly RolloutState[] = ['off', 'announced', 'grace', 'enforced'];

/**
 * What one sign-in must do about the second factor, for one person at one
 * portal, now. With no policy MFA is enforced; a policy may relax it for a
 * while, and for a person at several sites the strictest one holds (the
 * rule is in mfa-policy.ts):
 *  - off: no second factor asked of people without an authenticator;
 *  - announced: enrolment offered at sign-in, may be put off, the date shown;
 *  - grace: enrolment offered at every sign-in, put off at most max_skips times, then not;
 *  - enforced (also announced/grace once the date has come): required.
 * People who have an authenticator always use it.
 */
export interface MfaRequirement {
  state: RolloutState;
  required: boolean;
  /** Enrolment is offered though not required. */
  offered: boolean;
  canSkip: boolean;
  enforceOn?: string;
  skipsLeft?: number;
  policyId?: string;
  maxSkips?: number;
  /** An enforced policy requires a passkey (acr `phr`): a code is not enough (the sign-in steps up as for acr_values=phr). */
  phr?: boolean;
}

export async function mfaRequirement(
  deps: Deps, who: { userId: string; clientId: string; demandedByPortal: boolean },
): Promise<MfaRequirement> {
  const found = await policies.listPoliciesFor(deps.db, who.userId, who.clientId);
  const now = deps.now();
  const at = (row: policies.PolicyWithSkips | undefined) => (row ? termsAt(row, now, row.skips_used) : undefined);
  const applying = { sites: found.sites.map(at), global: at(found.global), portal: at(found.client) };
  // Not at pharmid's own pages: that is where a person adds the passkey a policy now requires, and a
  // sign-in there that asked for one would leave someone with only the app no way in to add it (MFA still holds).
  const phr = (who.clientId !== OWN_PORTAL_ID && requiresPhr(applying)) || undefined;
  if (who.demandedByPortal) return { state: 'enforced', required: true, offered: false, canSkip: false, phr };
  const policy = personTerms(applying);
  const { state } = policy;
  const base = { state, policyId: policy.id, enforceOn: policy.enforceOn?.toISOString(), maxSkips: policy.maxSkips };
  if (state === 'enforced') return { ...base, required: true, offered: false, canSkip: false, phr };
  if (state === 'off') return { ...base, required: false, offered: false, canSkip: false };
  if (state === 'announced') return { ...base, required: false, offered: true, canSkip: true };
  const skipsLeft = Math.max(0, policy.maxSkips - policy.skipsUsed);
  // Grace with no skips left: enrolment is offered with no way past it at the next sign-in
  // (a session that put it off for the last time is not cut short).
  return { ...base, required: false, offered: true, canSkip: skipsLeft > 0, skipsLeft };
}

/** The person puts enrolment off; in grace each time counts, once past the limit it is refused. */
export async function skipEnrolment(deps: Deps, userId: string, req: MfaRequirement, ip: string): Promise<void> {
  if (!req.canSkip || !req.policyId) throw new InvalidInput('Set up your authenticator app now: it can no longer be put off', 'code');
  if (req.state === 'grace') {
    const used = await policies.addSkip(deps.db, userId, req.policyId);
    if (used === undefined) throw new InvalidInput('Set up your authenticator app now: it can no longer be put off', 'code');
  }
  await audit(deps.db, { kind: 'user', id: userId }, { action: 'mfa.enrolment-skipped', outcome: 'success', targetUser: userId, ip, details: { state: req.state } });
}

export interface PolicyInput { scope: RolloutScope; site?: string; clientId?: string; state: string; enforceOn?: string; maxSkips?: number; require?: string }

/** What a policy may require once enforced: any second factor, or a passkey or security key. */
export const POLICY_REQUIRES: readonly PolicyRequire[] = ['mfa', 'phr'];

/** The policy's `require` (mfa when not given); a passkey cannot be required by a policy that is off. */
function checkRequire(input: string | undefined, state: RolloutState): PolicyRequire {
  const require = (input || 'mfa') as PolicyRequire;
  if (!POLICY_REQUIRES.includes(require)) throw new InvalidInput('Choose what the policy requires: mfa (any second factor) or phr (a passkey or security key)', 'require');
  if (require === 'phr' && state === 'off') throw new InvalidInput('A policy that is off requires nothing: to require passkeys, choose announced, grace or enforced', 'require');
  return require;
}

/** The calendar day (UTC, as the dates are given) of an instant: "2027-03-01". */
const dayOf = (d: Date) => d.toISOString().slice(0, 10);
const LONG_DAY = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' });

/**
 * Sets a rollout policy (audited). Dates are calendar days or ISO instants.
 * Messages name what is missing in words, with the field for the caller to
 * point at: the console shows them beside its fields, the CLI adds its flag.
 * Only the target of the policy's own scope counts: a form sends every field.
 */
/** A day as people write it for machines (2027-03-01), or a full ISO timestamp (what the API gives back). */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * The date MFA will be enforced, only when it is one on the calendar:
 * JavaScript's Date reads 30 February as 2 March, "0" as the year 2000 and
 * a six-digit year as one, each a policy for a day nobody meant.
 */
function enforcementDate(input: string): Date {
  const m = ISO_DATE.exec(input.trim());
  const date = m ? new Date(input.trim()) : undefined;
  const [year, month, day] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const onCalendar = new Date(Date.UTC(year, month - 1, day));
  if (!date || Number.isNaN(date.getTime()) || onCalendar.getUTCMonth() !== month - 1 || onCalendar.getUTCDate() !== day) {
    throw new InvalidInput('The date MFA will be enforced must be a date like 2027-03-01', 'enforce_on');
  }
  return date;
}

export async function setRolloutPolicy(deps: Deps, actor: Actor, input: PolicyInput): Promise<RolloutPolicyRow> {
  if (!ROLLOUT_STATES.includes(input.state as RolloutState)) throw new InvalidInput(`The state must be one of ${ROLLOUT_STATES.join(', ')}`, 'state');
  const state = input.state as RolloutState;
  const require = checkRequire(input.require, state);
  const enforceOn = input.enforceOn ? enforcementDate(input.enforceOn) : undefined;
  if ((state === 'announced' || state === 'grace') && !enforceOn) {
    throw new InvalidInput('An announced or grace policy needs the date MFA will be enforced', 'enforce_on');
  }
  // Announcing a date that has come already would enforce at once while telling people they have time.
  if ((state === 'announced' || state === 'grace') && enforceOn && dayOf(enforceOn) <= dayOf(deps.now())) {
    throw new InvalidInput(
      `The date MFA will be enforced must be after today (${LONG_DAY.format(deps.now())}): announced or grace with a date today or in the past gives nobody notice. `
      + 'To require an authenticator from now on, choose enforced on purpose.',
      'enforce_on',
    );
  }
  if (input.maxSkips !== undefined && (!Number.isInteger(input.maxSkips) || input.maxSkips < 0 || input.maxSkips > 100)) {
    throw new InvalidInput('The times a person may put enrolment off must be a whole number from 0 to 100', 'max_skips');
  }
  let siteId: string | undefined;
  let clientId: string | undefined;
  if (input.scope === 'site') {
    if (!input.site) throw new InvalidInput('A site policy needs the site it covers', 'site');
    siteId = (await requireSite(deps, input.site)).id;
  } else if (input.scope === 'client') {
    if (!input.clientId) throw new InvalidInput('A portal policy needs the portal it covers', 'client_id');
    if (!(await clients.findActiveClient(deps.db, input.clientId))) throw new InvalidInput('No active portal has that client ID', 'client_id');
    clientId = input.clientId;
  } else if (input.scope !== 'global') {
    throw new InvalidInput('Choose what the policy covers: global, site or client', 'scope');
  }
  const row = await policies.upsertRolloutPolicy(deps.db, {
    scope: input.scope, siteId, clientId, state, enforceOn, maxSkips: input.maxSkips, require,
  });
  await audit(deps.db, actor, {
    action: 'rollout.set', outcome: 'success', siteId,
    details: { scope: input.scope, client_id: clientId ?? null, state, enforce_on: enforceOn?.toISOString() ?? null, max_skips: row.max_skips, require },
  });
  return row;
}

export function listPolicies(deps: Deps) {
  return policies.listRolloutPolicies(deps.db);
}

/** A portal demands MFA by being registered to, or by asking for acr_values=mfa (or phr). */
export function portalDemandsMfa(requireMfaFlag: unknown, acrValues: unknown): boolean {
  const asked = String(acrValues ?? '').split(' ');
  // `phr` (a passkey) is multi-factor too: a portal asking for it demands MFA at least.
  return requireMfaFlag === true || asked.includes('mfa') || asked.includes('phr');
}
