import type Koa from 'koa';
import { InvalidInput } from '../domain/errors.js';
import { textProblem } from '../domain/text.js';
import type { FieldError } from './forms.js';

type ShowAgain = (ctx: Koa.Context, errors: FieldError[], status: number, values: Record<string, string>) => Promise<void>;

/** What can be shown back of a refused form: its text fields that are text, the others left empty. */
function safeValues(ctx: Koa.Context): Record<string, string> {
  const body = ctx.request.body as Record<string, unknown> | undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body ?? {})) {
    if (k !== '_csrf' && typeof v === 'string' && !textProblem(k) && !textProblem(v, { multiLine: true })) out[k] = v;
  }
  return out;
}

/**
 * A console form's page form (parse, bad bytes, CSRF) whose refusals of bad
 * bytes, overlong values or a body too large are shown on the form itself,
 * beside the field, rather than on an error page. Only the refusals of the
 * gate come here: a form refused before its token was checked is shown
 * again and nothing else happens.
 */
export function consoleForm(pageForm: Koa.Middleware[], showAgain: ShowAgain): Koa.Middleware[] {
  const catcher: Koa.Middleware = async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const e = err as Error & { status?: number };
      if (err instanceof InvalidInput) return showAgain(ctx, [{ field: err.field, message: err.message }], 400, safeValues(ctx));
      if (e.status === 413) return showAgain(ctx, [{ message: 'What was sent is too long: shorten the longest entry and try again.' }], 413, {});
      throw err;
    }
  };
  return [catcher, ...pageForm];
}
