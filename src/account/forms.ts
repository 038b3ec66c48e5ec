import type Koa from 'koa';
import { PharmidError } from '../domain/errors.js';

/** A message shown beside the field it is about (or in the summary alone). */
export interface FieldError { field?: string; message: string }

/** A posted form's fields as strings (repeated names and objects count as absent; bad bytes were refused by parseForm). */
export function fieldsOf(ctx: Koa.Context): Record<string, string> {
  const out: Record<string, string> = {};
  const body = ctx.request.body as unknown;
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (typeof v === 'string') out[k] = v;
    }
  }
  return out;
}

/**
 * Runs a form's work; a PharmidError that names a field is shown on the same
 * page again (with its status), anything else goes to the error middleware.
 * True when the work succeeded.
 */
export async function handleForm(
  work: () => Promise<void>,
  showAgain: (errors: FieldError[], status: number) => Promise<void>,
): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (err) {
    if (!(err instanceof PharmidError) || !err.field) throw err;
    await showAgain([{ field: err.field, message: err.message }], err.status);
    return false;
  }
}

/** After a change: back to the account page, which says what was done. */
export function backToAccount(ctx: Koa.Context, done: string): void {
  ctx.status = 303;
  ctx.redirect(`/account?done=${encodeURIComponent(done)}`);
}
