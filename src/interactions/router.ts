import Router from '@koa/router';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Deps } from '../domain/deps.js';
import { AccountChanged, PharmidError } from '../domain/errors.js';
import { findUser, recordSignIn } from '../domain/accounts.js';
import { hasAuthenticator } from '../domain/factors/authenticators.js';
import { hasPasskey } from '../domain/factors/passkeys.js';
import { demandsPhr, endFlow, loadFlow, proofsStillCount, restartFlow, saveFlow, type FlowState } from '../domain/sign-in-flows.js';
import { audit } from '../domain/audit.js';
import { dueStep, reachableStep } from './flow.js';
import { portalDemandsMfa } from '../domain/rollout.js';
import { finishInteraction } from './finish.js';
import { parseForm } from '../http/input.js';
import { isPlainText } from '../domain/text.js';
import { readDeviceCookie, setDeviceCookie } from './device-cookie.js';
import { emailKey } from '../domain/email.js';
import { trustDevice } from '../domain/trusted-devices.js';
import type { Step, StepContext, View, FieldError } from './step.js';
import { OWN_PORTAL_ID } from '../domain/clients.js';
import { OWN_PAGES_NAME } from '../domain/portal-names.js';
import { rememberSignIn } from '../domain/sign-in-memory.js';
import { signInGone } from './sign-in-gone.js';

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

export interface InteractionRoutesOptions {
  /** The provider of the moment (it is made again when signing keys rotate). */
  provider(): Provider;
  deps: Deps;
  /** Checks a posted form's CSRF token (the token is issued for every page of pharmid's). */
  csrf: { verify(ctx: Koa.Context): void; renew(ctx: Koa.Context): void };
  render(ctx: Koa.Context, view: View, status?: number): Promise<void>;
  /** Counts what happens at each step (metrics). */
  onStep?(step: string, outcome: 'shown' | 'passed' | 'failed'): void;
  /** Cookies only over https (production). */
  secureCookies: boolean;
}

/** Fields are strings: anything else (arrays from repeated names, objects) counts as absent. Bad bytes were refused by parseForm. */
function formOf(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (typeof v === 'string') out[k] = v;
    }
  }
  return out;
}

/**
 * The flow's one check that what was proved still counts (before every step
 * and at finish): after a reset, a disable, or a change of password or
 * authenticator since a factor was proved, the sign-in starts again from
 * the password. Returns the state to go on with, and whether it restarted.
 */
async function stillCurrent(deps: Deps, state: FlowState): Promise<{ state: FlowState; restarted: boolean }> {
  if (!state.userId) return { state, restarted: false };
  if (proofsStillCount(await findUser(deps, state.userId), state)) return { state, restarted: false };
  return { state: restartFlow(state), restarted: true };
}

async function initialState(deps: Deps, provider: Provider, i: Interaction): Promise<FlowState> {
  const reasons = i.prompt.reasons;
  // A passkey is demanded by the portal (acr_values=phr) or, for this session's person, by a rollout policy (policy.ts).
  const phrDemanded = demandsPhr(i.params.acr_values) || reasons.includes('phr_required') || undefined;
  const state: FlowState = { uid: i.uid, prompt: i.prompt.name, clientId: String(i.params.client_id), amr: [], phrDemanded };
  const session = i.session as { accountId?: string; amr?: string[]; cookie?: string } | undefined;
  const stepUp = i.prompt.name === 'login' && reasons.length > 0 && reasons.every((r) => r === 'mfa_required' || r === 'phr_required');
  if (session?.accountId && (i.prompt.name !== 'login' || stepUp)) {
    const user = await findUser(deps, session.accountId);
    // When the session signed in: what it proved counts as long as the session itself would (signInStillValid).
    const authTime = session.cookie ? (await provider.Session.find(session.cookie))?.authTime() : undefined;
    if (user && authTime !== undefined) {
      Object.assign(state, {
        userId: user.id,
        email: user.email,
        amr: session.amr ?? ['pwd'],
        proved: { session: authTime * 1000 },
        hasAuthenticator: await hasAuthenticator(deps, user.id),
        hasPasskey: await hasPasskey(deps, user.id),
        // A step-up: the portal or the policy requires the second factor this session lacks. With an
        // authenticator, the code alone is asked; with none yet, the password first (only `session` is proved
        // here, and a session alone never sets up a first authenticator: awaitsPasswordBeforeEnrolment).
        ...(stepUp ? { requirement: { state: 'enforced', required: true, offered: false, canSkip: false } } : {}),
      });
    }
  }
  return state;
}

export function interactionRoutes(opts: InteractionRoutesOptions): Router {
  const { deps, render, onStep, csrf } = opts;
  const provider = () => opts.provider();
  const router = new Router({ prefix: '/interaction' });
  router.use(signInGone(deps, render));
  router.use(...parseForm());

  async function open(ctx: Koa.Context) {
    const interaction = await provider().interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) ctx.throw(400, 'interaction mismatch');
    const current = await stillCurrent(deps, (await loadFlow(deps, interaction.uid)) ?? (await initialState(deps, provider(), interaction)));
    const { state, restarted } = current;
    const details = interaction.prompt.details as { missingOIDCScope?: string[] };
    // The portal is looked up only by the steps that need it (consent, and the MFA requirement after a password).
    let portal: Promise<{ name: string; mfaDemanded: boolean }> | undefined;
    const portalOf = () => (portal ??= provider().Client.find(String(interaction.params.client_id)).then((client) => ({
      name: client?.clientName ?? 'A portal',
      mfaDemanded: portalDemandsMfa((client as unknown as Record<string, unknown> | undefined)?.['urn:pharmid:require_mfa'], interaction.params.acr_values),
    })));
    const stepContext: StepContext = {
      deps,
      state,
      ip: ctx.ip,
      trustedDevices: readDeviceCookie(ctx),
      url: (step) => `/interaction/${interaction.uid}/${step}`,
      request: {
        portal: portalOf,
        scopes: String(interaction.params.scope ?? '').split(' ').filter(Boolean),
        // A hint only fills in the email box: one with bad bytes (or too long) is ignored.
        loginHint: isPlainText(interaction.params.login_hint, 320) ? interaction.params.login_hint : undefined,
        missingScopes: details.missingOIDCScope ?? [],
      },
    };
    const ttl = Math.max(1, (interaction.exp ?? 0) - Math.floor(Date.now() / 1000));
    if (restarted) await saveFlow(deps, state, ttl);
    return { interaction, stepContext, ttl, restarted };
  }

  /** The account changed under this sign-in: back to the password page, which says why. */
  async function restart(ctx: Koa.Context, c: StepContext, ttl: number) {
    c.state = restartFlow(c.state);
    await saveFlow(deps, c.state, ttl);
    ctx.status = 303;
    ctx.redirect(`/interaction/${c.state.uid}`);
  }

  async function show(ctx: Koa.Context, step: Step, c: StepContext, ttl: number, errors: FieldError[] = [], values: Record<string, string> = {}, status = 200) {
    const before = JSON.stringify(c.state);
    const view = await step.render(c, { errors, values });
    // Every sign-in page can say which portal asked ("Sign in to PharmRefer").
    const own = c.state.clientId === OWN_PORTAL_ID;
    view.model.portal ??= own ? OWN_PAGES_NAME : (await c.request.portal()).name;
    view.model.ownPortal ??= own;
    // Drawing a page rarely changes the state (enrolment does: its pending secret); save only then.
    if (JSON.stringify(c.state) !== before) await saveFlow(deps, c.state, ttl);
    onStep?.(step.name, errors.length ? 'failed' : 'shown');
    await render(ctx, view, status);
  }

  async function showOrRestart(ctx: Koa.Context, step: Step, c: StepContext, ttl: number) {
    try {
      await show(ctx, step, c, ttl);
    } catch (err) {
      if (!(err instanceof AccountChanged)) throw err;
      await restart(ctx, c, ttl);
    }
  }

  async function advance(ctx: Koa.Context, interaction: Interaction, c: StepContext, ttl: number) {
    const next = dueStep(c.state);
    // Checked again at finish: a reset may have landed while the last step was checked.
    if (!next && (await stillCurrent(deps, c.state)).restarted) return restart(ctx, c, ttl);
    if (next) {
      await saveFlow(deps, c.state, ttl);
      ctx.status = 303;
      ctx.redirect(`/interaction/${interaction.uid}`);
      return;
    }
    const returnTo = await finishInteraction(provider(), ctx, interaction, c.state, deps);
    if (c.state.prompt === 'login' && c.state.userId) {
      // Signed in now: the browser's CSRF cookie from before the sign-in does not carry over.
      csrf.renew(ctx);
      // And the browser is trusted for this account: its own tries no longer wait behind strangers' (a fresh id each time).
      const key = emailKey(c.state.email ?? '');
      if (key) setDeviceCookie(ctx, trustDevice(readDeviceCookie(ctx), key, deps.now()), opts.secureCookies);
      await recordSignIn(deps, c.state.userId);
      await audit(deps.db, { kind: 'user', id: c.state.userId }, {
        action: 'sign-in', outcome: 'success', targetUser: c.state.userId, ip: ctx.ip,
        details: { client_id: c.state.clientId, amr: c.state.amr },
      });
    }
    await endFlow(deps, interaction.uid);
    // The same page submitted again (another tab, the back button) is told it was used, not that it expired.
    await rememberSignIn(deps, interaction.uid, { clientId: c.state.clientId, finished: true });
    ctx.status = 303;
    ctx.redirect(returnTo);
  }

  router.get('/:uid', async (ctx) => {
    const { interaction, stepContext, ttl } = await open(ctx);
    const step = dueStep(stepContext.state);
    if (!step) return advance(ctx, interaction, stepContext, ttl);
    await showOrRestart(ctx, step, stepContext, ttl);
  });

  router.get('/:uid/:step', async (ctx) => {
    const { stepContext, ttl } = await open(ctx);
    const step = reachableStep(stepContext.state, ctx.params.step!);
    if (!step) {
      ctx.status = 303;
      ctx.redirect(`/interaction/${ctx.params.uid}`);
      return;
    }
    await showOrRestart(ctx, step, stepContext, ttl);
  });

  router.post('/:uid/abort', async (ctx) => {
    const { interaction } = await open(ctx);
    csrf.verify(ctx);
    const returnTo = await provider().interactionResult(ctx.req, ctx.res, {
      error: 'access_denied', error_description: 'The person did not allow the portal access',
    }, { mergeWithLastSubmission: false });
    await endFlow(deps, interaction.uid);
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  router.post('/:uid/:step', async (ctx) => {
    const { interaction, stepContext, ttl, restarted } = await open(ctx);
    csrf.verify(ctx);
    const step = restarted ? undefined : reachableStep(stepContext.state, ctx.params.step!);
    if (!step) {
      // A stale form (back button, second tab): show where the sign-in has got to.
      ctx.status = 303;
      ctx.redirect(`/interaction/${interaction.uid}`);
      return;
    }
    const form = formOf(ctx.request.body);
    try {
      stepContext.state = await step.submit(stepContext, form);
    } catch (err) {
      if (err instanceof AccountChanged) return restart(ctx, stepContext, ttl);
      if (!(err instanceof PharmidError) || !err.field) throw err;
      const values = { email: form.email ?? '', name: form.name ?? '' };
      return show(ctx, step, stepContext, ttl, [{ field: err.field, message: err.message }], values, err.status);
    }
    onStep?.(step.name, 'passed');
    await advance(ctx, interaction, stepContext, ttl);
  });

  return router;
}
