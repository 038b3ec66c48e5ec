import type { Deps } from './deps.js';
import type { MfaRequirement } from './rollout.js';

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
  hasAuthenticator?: boolean;
  /** What the rollout policy asks of this sign-in (known once the password is checked). */
  requirement?: MfaRequirement;
  /** An administrator reset the person's MFA: their one-time code comes before enrolment. */
  resetCodePending?: boolean;
  /** The person put enrolment off (allowed only while the policy lets them). */
  enrolmentSkipped?: boolean;
  /** The second factor is done. */
  mfa?: boolean;
  /** A recovery code was used: a new authenticator must be enrolled. */
  replaceAuthenticator?: boolean;
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
