import type Router from '@koa/router';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import type { Deps } from '../domain/deps.js';
import type { SignInSessions } from '../domain/sessions.js';
import type { Render } from './render.js';
import type { Mailer } from '../mail/mailer.js';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { View } from '../interactions/step.js';
import type { ProviderPages } from '../oidc/provider.js';
import { namePortal, namePortals, type PortalName } from '../domain/portal-names.js';
import { recallSignIn } from '../domain/sign-in-memory.js';
import { isUnavailable, UNAVAILABLE_PAGE } from './errors.js';

/** What a page area (account, admin) is given by the app. */
export interface PageContext {
  deps: Deps;
  config: Config;
  render: Render;
  /** Sends people who are not signed in with MFA to pharmid's sign-in; sets ctx.state.person. */
  requireSignIn: Koa.Middleware;
  /** Parses a posted form and checks its CSRF token. */
  pageForm: Koa.Middleware[];
  /** The provider of the moment (made again when signing keys rotate): for areas that accept pharmid's own bearer tokens. */
  provider?: () => Provider;
  /** Mail (SMTP, or the outbox folder): activation codes go by email when SMTP is set. */
  mailer?: Mailer;
  /** A person's sign-in sessions: listed and ended (portals told by back-channel logout). */
  sessions?: SignInSessions;
}

export type PageRoutes = (ctx: PageContext) => Router;

/** A page of pharmid's drawn for something that went wrong or came to an end: the view and its HTTP status. */
export interface PlainPage { view: View; status: number }

/** The portal to go back to, as a link, when pharmid knows where it lives. */
function backTo(portal: PortalName | undefined): { href: string; text: string } | undefined {
  if (!portal?.home) return undefined;
  return { href: portal.home, text: portal.own ? 'Go to your pharmid account' : `Go back to ${portal.name}` };
}

function errorPage(status: number, heading: string, message: string[], extra: { next?: { href: string; text: string }; code?: string } = {}): PlainPage {
  return { status, view: { template: 'error', model: { title: heading, heading, message, status, ...extra } } };
}

/**
 * A sign-in page whose sign-in has gone: finished already (the same page
 * submitted again, a second tab, the back button) or expired (left too long,
 * or its cookie lost: another browser). Names the portal when pharmid still
 * remembers which one asked (sign-in-memory.ts).
 */
export async function signInGonePage(deps: Deps, uid: string | undefined): Promise<PlainPage> {
  const memory = await recallSignIn(deps, uid);
  const portal = memory ? await namePortal(deps, memory.clientId) : undefined;
  const next = backTo(portal);
  if (memory?.finished) {
    const where = portal?.own ? 'your pharmid account' : portal?.name ?? 'the portal';
    return errorPage(409, 'You have already signed in with this page', [
      'This sign-in page has been used already, perhaps in another tab or with the back button. There is nothing more to do on it.',
      `Go back to ${where}: you are probably signed in there. If it asks you to sign in, do so from there.`,
    ], { next, code: 'sign_in_finished' });
  }
  const from = portal ? (portal.own ? 'your pharmid account' : portal.name) : undefined;
  return errorPage(400, 'This sign-in has expired', [
    'It was left open too long, or it was started in another browser. Nothing you entered was kept.',
    from
      ? `Start again from ${from}: choose sign in there and it will bring you back here.`
      : 'Go back to the portal you were using and choose sign in there to start again.',
  ], { next, code: 'sign_in_expired' });
}

/** The sign-in pages' uid in a path (/interaction/UID/… and the provider's /auth/UID resume). */
export function signInUidOf(path: string): string | undefined {
  return /^\/(?:interaction|auth)\/([\w-]{1,100})(?:\/|$)/.exec(path)?.[1];
}

/** An error from the provider that means the sign-in itself has gone. */
export function isSignInGone(err: unknown, out?: { error?: string; error_description?: string }): boolean {
  const e = err as { name?: string; message?: string } | undefined;
  if (e?.name === 'SessionNotFound') return true;
  const text = `${e?.message ?? ''} ${out?.error_description ?? ''}`;
  return /interaction (session|mismatch)|authorization request has expired/i.test(text);
}

/**
 * A protocol error from the provider, in plain words for the person in
 * front of it: which portal, what went wrong, what to do. The OAuth code
 * appears only in the small line for the helpdesk.
 */
export async function plainProviderError(deps: Deps, ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, err?: Error): Promise<PlainPage> {
  const status = ctx.status >= 400 && ctx.status < 500 ? ctx.status : 500;
  if (status === 500) return errorPage(500, 'Sorry, there is a problem', ['Something went wrong on our side. Please try again.'], { code: 'server_error' });
  if (isSignInGone(err, out)) return signInGonePage(deps, signInUidOf(ctx.path));
  const asked = ctx.oidc?.client?.clientId ?? (ctx.oidc?.params as { client_id?: unknown } | undefined)?.client_id;
  const portal = await namePortal(deps, asked);
  const code = out.error;
  if (/^end_session/.test(ctx.oidc?.route ?? '')) {
    return errorPage(status, 'Sorry, there is a problem signing you out', [
      `${portal && !portal.own ? portal.name : 'The portal'} asked pharmid to sign you out in a way pharmid could not check, so nothing has been signed out.`,
      'To sign out, go to your pharmid account and choose "Sign out", or close your browser.',
    ], { next: { href: '/account', text: 'Go to your pharmid account' }, code });
  }
  if (code === 'invalid_client' && portal?.disabled) {
    return errorPage(400, `${portal.name} is switched off`, [
      `${portal.name} cannot sign anyone in with pharmid at the moment: an administrator has switched it off.`,
      `Nothing is wrong with your account. Ask ${portal.name}'s helpdesk or your site administrator when it will be back.`,
    ], { code });
  }
  if (code === 'invalid_client') {
    return errorPage(400, 'pharmid does not know this portal', [
      'The page that sent you here is not a portal that signs people in with pharmid, or it has been removed.',
      'Go back to the portal you use and choose its sign-in button again. If you came here from a link in an email or a message, do not sign in through it.',
    ], { code });
  }
  if (code === 'invalid_redirect_uri' || /redirect_uri/.test(out.error_description ?? '')) {
    const name = portal?.name ?? 'The portal';
    return errorPage(400, `${name} sent you here with a wrong address`, [
      `${name} asked pharmid to sign you in, but the address it gave for coming back is not one registered for it, so pharmid will not send you there.`,
      `This is a problem with how ${portal?.name ?? 'the portal'} is set up, not with your account. Tell its helpdesk.`,
    ], { next: backTo(portal), code: 'invalid_redirect_uri' });
  }
  return errorPage(status, 'Sorry, there is a problem', [
    `${portal?.name ?? 'The portal'} sent pharmid a request it could not accept. Go back to ${portal?.name ?? 'the portal'} and try again.`,
  ], { next: backTo(portal), code });
}

/** The provider's own pages (errors, sign-out) drawn with pharmid's templates. */
export function providerPages(render: Render, deps: Deps): ProviderPages {
  const draw = (ctx: KoaContextWithOIDC, page: PlainPage) => render(ctx as unknown as Koa.Context, page.view, page.status);
  return {
    async error(ctx, out, err) {
      if (isUnavailable(err)) {
        ctx.set('Retry-After', '5');
        await render(ctx as unknown as Koa.Context, { template: 'error', model: UNAVAILABLE_PAGE }, 503);
        return;
      }
      await draw(ctx, await plainProviderError(deps, ctx, out, err));
    },
    async logout(ctx, form) {
      const portals = await namePortals(deps, form.signedInTo);
      const asking = portals.find((p) => p.clientId === form.clientId);
      // "Just this one" only where there is another portal to stay signed in to.
      const justThisOne = asking && portals.length > 1 ? asking : undefined;
      await draw(ctx, { status: 200, view: { template: 'logout', model: {
        title: 'Sign out', action: form.action, secret: form.secret, portals: portals.map((p) => p.name),
        asking: asking?.name, justThisOne: justThisOne?.name,
      } } });
    },
    async signedOut(ctx, outcome) {
      const named = await namePortals(deps, [...outcome.signedOutOf, ...outcome.stillIn]);
      const left = named.filter((p) => outcome.signedOutOf.includes(p.clientId));
      const still = named.filter((p) => outcome.stillIn.includes(p.clientId));
      await draw(ctx, { status: 200, view: { template: 'signed-out', model: {
        title: 'You have signed out', signedOutOf: left.map((p) => p.name), stillIn: still.map((p) => p.name),
        everywhere: still.length === 0, next: still.length ? backTo(still[0]) : undefined,
      } } });
    },
  };
}
