import type Router from '@koa/router';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import type { Deps } from '../domain/deps.js';
import type { SignInSessions } from '../domain/sessions.js';
import type { Render } from './render.js';
import type { Mailer } from '../mail/mailer.js';

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
