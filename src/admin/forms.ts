import type Koa from 'koa';
import { PharmidError } from '../domain/errors.js';
import type { Paged } from '../domain/admin/pages.js';

export interface FieldError { field?: string; message: string }

/** A posted form's fields as strings (repeated names and objects count as absent; bad bytes were refused by parseForm). */
export function fieldsOf(ctx: Koa.Context): Record<string, string> {
  const out: Record<string, string> = {};
  const body = ctx.request.body as unknown;
  if (body && typeof body === 'object') {
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) if (typeof v === 'string' && k !== '_csrf') out[k] = v;
  }
  return out;
}

/**
 * Runs a form's work. Bad input, an unknown name or a conflict (a 4xx other
 * than a refusal) shows the form again with the message and that status;
 * a refusal (403) and anything else go to the error middleware.
 */
export async function tryForm(work: () => Promise<void>, showAgain: (errors: FieldError[], status: number) => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof PharmidError) || err.status >= 500 || err.status === 403) throw err;
    await showAgain([{ field: err.field, message: err.message }], err.status);
  }
}

/** After a change: back to a page that says what was done (a 303, so reloading does not post again). */
export function backTo(ctx: Koa.Context, path: string, done: string): void {
  ctx.status = 303;
  ctx.redirect(`${path}?done=${encodeURIComponent(done)}`);
}

/** What a `done` key says on the page it leads back to; unknown keys say nothing. */
export const DONE: Record<string, string> = {
  'reset-mfa': 'Their authenticator app, passkeys, security keys and recovery codes were removed. They will set up a new authenticator at their next sign-in. Their sessions have ended.',
  unlock: 'Their account is unlocked: they may try their password and codes again.',
  disable: 'They can no longer sign in. Their sessions have ended.',
  enable: 'They may sign in again.',
  linked: 'They now work at the site too, with the same sign-in.',
  'link-waiting': 'Waiting for the person to confirm: pharmid emailed them a code to give at their next sign-in. Until then they do not work at the site.',
  role: 'Their role was changed.',
  removed: 'They no longer work at that site.',
  'site-saved': 'The site was saved.',
  'portal-disabled': 'The portal is disabled: it cannot sign anyone in, and its tokens are refused.',
  'portal-enabled': 'The portal is enabled again.',
  'email-changed': 'Their email was changed. pharmid told them at the old address and the new one. Codes and links sent before the change no longer work: if they still need one, send it again.',
  'name-changed': 'Their name was changed. pharmid told them by email.',
  'nothing-changed': 'Nothing was changed: the name and email were already those.',
  'session-ended': 'That session has ended: that browser, and the portals it was signed in to, are signed out. pharmid told them by email.',
  'rollout-saved': 'The policy was saved. It applies from the next sign-in; the change is in the audit trail.',
};

export function doneMessage(ctx: Koa.Context): string | undefined {
  const key = ctx.query.done;
  return typeof key === 'string' ? DONE[key] : undefined;
}

const WHEN = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/London' });

export function when(d: Date | null | undefined): string {
  return d ? WHEN.format(d) : 'Never';
}

/** Previous and next links that keep the page's other query parameters. */
export function pagination<T>(ctx: Koa.Context, p: Paged<T>): { prev?: string; next?: string; summary: string } {
  const link = (page: number) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(ctx.query)) if (typeof v === 'string' && k !== 'page' && k !== 'done') q.set(k, v);
    q.set('page', String(page));
    return `${ctx.path}?${q}`;
  };
  const first = p.total === 0 ? 0 : (p.page - 1) * p.perPage + 1;
  const last = Math.min(p.total, p.page * p.perPage);
  return {
    ...(p.page > 1 ? { prev: link(p.page - 1) } : {}),
    ...(last < p.total ? { next: link(p.page + 1) } : {}),
    summary: p.total === 0 ? 'None' : `${first} to ${last} of ${p.total}`,
  };
}

export const ROLE_NAMES: Record<string, string> = { member: 'Member', 'site-admin': 'Site administrator' };
export const STATUS_NAMES: Record<string, string> = { invited: 'Invited', active: 'Active', disabled: 'Disabled' };
