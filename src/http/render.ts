import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import ejs from 'ejs';
import type Koa from 'koa';
import type { View } from '../interactions/step.js';
import { assetUrls } from './assets.js';

export type Render = (ctx: Koa.Context, view: View, status?: number) => Promise<void>;

/** views/ at the package root, from src/http and from dist/src/http alike. */
export function viewsDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const found = [join(here, '../../views'), join(here, '../../../views')].find((d) => existsSync(join(d, 'partials')));
  if (!found) throw new Error('views folder not found');
  return found;
}

/**
 * Templates are compiled once per process in every mode: compiling a page
 * costs more than drawing it, and a refused request under a flood (the busy
 * page) must stay cheap in development as in production. A template change
 * takes a restart, as a change to the code does.
 */
export function createRenderer(): Render {
  const root = viewsDir();
  const cache = true;
  const assets = assetUrls();
  return async (ctx, view, status = 200) => {
    const html = await ejs.renderFile(join(root, `${view.template}.ejs`), { errors: [], assets, csrfToken: ctx.state.csrfToken as string | undefined, ...view.model }, { cache, root });
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = html;
  };
}
