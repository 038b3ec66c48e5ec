import type Router from '@koa/router';
import type Koa from 'koa';
import type { Config } from '../config.js';
import type { Deps } from '../domain/deps.js';
import type { Render } from './render.js';

/** What a page area (account, admin) is given by the app. */
export interface PageContext {
  deps: Deps;
  config: Config;
  render: Render;
  /** Sends people who are not signed in with MFA to pharmid's sign-in; sets ctx.state.person. */
  requireSignIn: Koa.Middleware;
  /** Parses a posted form and checks its CSRF token. */
  pageForm: Koa.Middleware[];
}

export type PageRoutes = (ctx: PageContext) => Router;
