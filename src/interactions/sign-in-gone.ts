import type Koa from 'koa';
import type { Deps } from '../domain/deps.js';
import { isSignInGone, signInGonePage, signInUidOf } from '../http/pages.js';
import type { View } from './step.js';

/**
 * A sign-in page whose sign-in has gone (finished, expired, cookie lost)
 * says so in plain words, naming the portal, instead of the provider's
 * "interaction session not found".
 */
export function signInGone(deps: Deps, render: (ctx: Koa.Context, view: View, status?: number) => Promise<void>): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!isSignInGone(err)) throw err;
      const page = await signInGonePage(deps, signInUidOf(ctx.path));
      await render(ctx, page.view, page.status);
    }
  };
}
