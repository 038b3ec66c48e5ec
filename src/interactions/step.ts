import type { Deps } from '../domain/deps.js';
import type { FlowState } from '../domain/sign-in-flows.js';

/** A page to draw: a template in views/ and its view-model. */
export interface View {
  template: string;
  model: Record<string, unknown>;
}

export interface FieldError { field?: string; message: string }

export interface StepContext {
  deps: Deps;
  state: FlowState;
  /** The URL a step's form posts to, or a step's page. */
  url(step: string): string;
  /** What the request asked for: client name, scopes, login hint. */
  request: {
    /** The portal asking: its name, and whether it demands MFA (looked up once, when first asked). */
    portal(): Promise<{ name: string; mfaDemanded: boolean }>;
    scopes: string[];
    loginHint?: string;
    missingScopes: string[];
  };
  ip: string;
  /** The browser's device cookie, its signature checked (trusted-devices.ts); absent when none or forged. */
  trustedDevices?: string;
}

/**
 * One sign-in step (Keycloak's authenticator, in small): whether it is due,
 * how it draws its page, and how it takes the answer. `submit` returns the
 * new state, or throws a PharmidError naming the field at fault, which the
 * router shows on the step's page again.
 */
export interface Step {
  name: string;
  /** Due now: the flow shows the first step that is. */
  applies(state: FlowState): boolean;
  /** May be opened from a link although not due (activation, recovery code). */
  offered?(state: FlowState): boolean;
  render(c: StepContext, extra: { errors: FieldError[]; values: Record<string, string> }): Promise<View>;
  submit(c: StepContext, form: Record<string, string>): Promise<FlowState>;
}
