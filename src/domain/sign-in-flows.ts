import type { Deps } from './deps.js';
import type { MfaRequirement } from './rollout.js';
import type { UserRow } from '../db/queries/users.js';
import { signInStillValid } from './sign-in.js';

export type Factor = 'session' | 'pwd' | 'otp' | 'recovery' | 'reset-code' | 'passkey';

/**
 * Where one sign-in has got to, kept in the store for the life of its
 * oidc-provider interaction. Any process can pick it up; nothing secret is
 * kept in the clear (recovery codes waiting to be shown are sealed).
 */
export interface FlowState {
  uid: string;
  prompt: string;
  clientId: string;
  userId?: string;
  email?: string;
  /** Methods passed so far, RFC 8176 names. */
  amr: string[];
  /** The person has an authenticator app. */
  hasAuthenticator?: boolean;
  /** The person has a passkey or security key. */
  hasPasskey?: boolean;
  /** The portal asked for a phishing-resistant sign-in (acr_values=phr): only a passkey will do. */
  phrDemanded?: boolean;
  /** A passkey was proved (or set up) in this sign-in: acr `phr`. */
  phr?: boolean;
  /** What the rollout policy asks of this sign-in (known once the password is checked). */
  requirement?: MfaRequirement;
  /**
   * When each factor of this sign-in was proved (epoch milliseconds, real
   * time): `pwd`, `otp`, `recovery`, `reset-code`; `session` for what an
   * existing session brought (its auth_time, whole seconds). Checked against
   * the person's revocation times before every step and at finish.
   */
  proved?: Partial<Record<Factor, number>>;
  /** The sign-in started again because the account changed under it (the password page says so). */
  restarted?: boolean;
  /** An administrator reset the person's MFA: their one-time code comes before enrolment, and is spent only when it is done. */
  resetCodePending?: boolean;
  /** This sign-in proved the MFA-reset code (its hash, sealed), to spend it when the new authenticator is confirmed. */
  resetCodeProof?: string;
  /** The person put enrolment off (allowed only while the policy lets them). */
  enrolmentSkipped?: boolean;
  /** The second factor is done. */
  mfa?: boolean;
  /** A recovery code was used: the person chooses to carry on, or to set up a new authenticator now. */
  recoveryChoicePending?: boolean;
  /** The person chose to set up a new authenticator after a recovery code: it is enrolled now. */
  replaceAuthenticator?: boolean;
  /** The person chose to set up a passkey after a recovery code (in place of the app the code stood in for, if any). */
  passkeyAfterRecovery?: boolean;
  /** The authenticator that recovery code stood in for: the only one the new one may replace. */
  replacesCredentialId?: string;
  pendingCredentialId?: string;
  recoveryCodesSealed?: string;
  /** Sites an administrator linked the person to are waiting for them to confirm (site-links.ts); false once answered. */
  siteLinksWaiting?: boolean;
  site?: string;
  consented?: boolean;
}

const key = (uid: string) => `flow:${uid}`;

export async function loadFlow(deps: Deps, uid: string): Promise<FlowState | undefined> {
  const raw = await deps.store.get(key(uid));
  return raw ? (JSON.parse(raw) as FlowState) : undefined;
}

export async function saveFlow(deps: Deps, state: FlowState, ttlSeconds: number): Promise<void> {
  await deps.store.set(key(state.uid), JSON.stringify(state), ttlSeconds);
}

export async function endFlow(deps: Deps, uid: string): Promise<void> {
  await deps.store.del(key(uid));
}

export function sealCodes(deps: Deps, codes: string[]): string {
  return deps.sealer.seal(JSON.stringify(codes));
}

export function openCodes(deps: Deps, sealed: string): string[] {
  return JSON.parse(deps.sealer.open(sealed)) as string[];
}

/**
 * The proofs so far with `factor` proved now. Real time, not the injected
 * clock: the revocation times it is compared with are real time too.
 */
export function provedNow(state: FlowState, factor: Factor): Partial<Record<Factor, number>> {
  return { ...state.proved, [factor]: Date.now() };
}

/**
 * True while what this sign-in proved still counts: the person is not
 * disabled, and every factor proved in this sign-in was proved strictly
 * after their last administrative reset or disable (sessions_revoked_at) and
 * their last own change of password or authenticator (tokens_revoked_at).
 * These proofs are kept in milliseconds, so one made earlier in the same
 * second as a reset does not pass for later (whole seconds would). What an
 * existing session brought counts exactly as long as that session does
 * (signInStillValid: its auth_time is in whole seconds and never in the
 * second of a reset, see signInTimestamp; a person's own change of password
 * keeps the session it was made in). A sign-in that names a person but
 * recorded no proof (saved before proofs were kept) does not count.
 */
export function proofsStillCount(user: Pick<UserRow, 'status' | 'sessions_revoked_at' | 'tokens_revoked_at'> | undefined, state: FlowState): boolean {
  if (!state.userId) return true;
  if (!user || user.status === 'disabled') return false;
  const { session, ...here } = state.proved ?? {};
  const times = Object.values(here);
  if (session === undefined && !times.length) return false;
  if (session !== undefined && !signInStillValid(user, Math.floor(session / 1000))) return false;
  if (!times.length) return true;
  const revoked = Math.max(user.sessions_revoked_at?.getTime() ?? 0, user.tokens_revoked_at?.getTime() ?? 0);
  return Math.min(...times) > revoked;
}

/**
 * True while this sign-in would put a first authenticator on the account
 * without the password proved in it: a step-up brings only the session
 * (perhaps a stolen one), and a session alone never binds a second factor
 * to an account. The password is asked first. (A new authenticator after a
 * recovery code is not a first one: that code is the second factor.)
 */
export function awaitsPasswordBeforeEnrolment(state: FlowState): boolean {
  return state.prompt === 'login' && !!state.userId && !state.mfa && !hasSecondFactor(state) && state.proved?.pwd === undefined;
}

/** The person has a second factor of some kind: an authenticator app, a passkey or both. */
export function hasSecondFactor(state: FlowState): boolean {
  return state.hasAuthenticator === true || state.hasPasskey === true;
}

/** Whether a portal's acr_values ask for a phishing-resistant sign-in. */
export function demandsPhr(acrValues: unknown): boolean {
  return String(acrValues ?? '').split(' ').includes('phr');
}

/** The same sign-in started again from the password (same interaction, same portal). */
export function restartFlow(state: FlowState): FlowState {
  return { uid: state.uid, prompt: 'login', clientId: state.clientId, amr: [], restarted: true, phrDemanded: state.phrDemanded };
}
