import { z } from 'zod';
import { InvalidInput } from '../domain/errors.js';

/**
 * What the console's forms and the API's JSON bodies may carry, checked the
 * same way for both: types and gross sizes here, the rules (email format,
 * name length, URIs) in the domain. A failure is an InvalidInput naming the field.
 * Bodies are strict: a field the schema does not know (a typo, or something
 * like `superadmin`) is refused by name, never silently dropped. Queries are
 * not (a page's links carry `page`, `done` and the like beside the filters).
 * Bad bytes never get this far (src/http/input.ts).
 */
const text = (field: string, max: number) => z.string({ error: `${field} must be text` }).max(max, `${field} is too long (at most ${max} characters)`);
const optionalText = (field: string, max: number) => text(field, max).optional();

/** A checkbox ("on" when ticked, absent when not) or a JSON boolean. */
const flag = z.union([z.boolean(), z.enum(['on', 'true', 'yes', '1', 'false', 'no', '0', ''])])
  .optional()
  .transform((v) => (v === undefined ? undefined : v === true || v === 'on' || v === 'true' || v === 'yes' || v === '1'));

/** A JSON list of URIs, or a form's textarea with one a line. */
const uriList = (field: string) => z.union([z.array(text(field, 2000)).max(20, `at most 20 ${field}s`), text(field, 20_000)])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : v.split(/\r?\n/).map((s) => s.trim()).filter(Boolean)));

/** A number from JSON, or a form field where empty means "no limit". */
const cap = z.union([z.number(), z.null(), text('user_cap', 10)]).optional().transform((v, ctx) => {
  if (v === undefined || v === null) return v;
  if (typeof v === 'number') return v;
  if (v.trim() === '' || v.trim().toLowerCase() === 'none') return null;
  if (!/^\d{1,6}$/.test(v.trim())) {
    ctx.addIssue({ code: 'custom', message: 'The limit of active people is a whole number, or empty for no limit' });
    return z.NEVER;
  }
  return Number(v);
});

export const personInput = z.strictObject({ email: text('email', 320), name: text('name', 1000), role: optionalText('role', 20), one_person: flag });
/** A person's name and email, corrected; `one_person` says a shared-looking mailbox is read by them alone. */
export const detailsInput = z.strictObject({ name: optionalText('name', 1000), email: optionalText('email', 320), one_person: flag });
/** The button on a confirmation page: the act happens only when it says yes. */
export const confirmInput = z.strictObject({ confirm: optionalText('confirm', 10) });
export const linkInput = z.strictObject({ site: text('site', 50), role: optionalText('role', 20) });
export const locumInput = z.strictObject({ email: text('email', 320), role: optionalText('role', 20) });
export const roleInput = z.strictObject({ role: text('role', 20) });
export const siteInput = z.strictObject({
  ods: text('ods', 50), name: text('name', 1000), kind: optionalText('kind', 20), address: optionalText('address', 2000), user_cap: cap,
});
export const siteUpdate = z.strictObject({ name: optionalText('name', 1000), address: z.union([z.null(), text('address', 2000)]).optional(), user_cap: cap });
export const portalInput = z.strictObject({
  name: text('name', 1000),
  redirect_uris: uriList('redirect_uri'),
  post_logout_redirect_uris: uriList('post_logout_redirect_uri'),
  backchannel_logout_uri: optionalText('backchannel_logout_uri', 2000).transform((v) => v?.trim() || undefined),
  first_party: flag,
  require_mfa: flag,
});
/** For the acts that take no fields (resets, unlock, disable...): any field sent is refused by name. */
export const noInput = z.strictObject({});
export const searchQuery = z.object({ q: optionalText('q', 200) });
export const auditQuery = z.object({
  action: optionalText('action', 100), outcome: optionalText('outcome', 20), email: optionalText('email', 320),
  from: optionalText('from', 20), to: optionalText('to', 20),
});
const pageNumber = (field: string) => z.union([z.number(), text(field, 10)]).optional().transform((v, ctx) => {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n)) {
    ctx.addIssue({ code: 'custom', message: `${field} must be a whole number` });
    return z.NEVER;
  }
  return n;
});
export const pageQuery = z.object({ page: pageNumber('page'), per_page: pageNumber('per_page') });

/** Parses input with a schema. The first problem becomes an InvalidInput; unknown fields are named. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const unknown = result.error.issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown && unknown.code === 'unrecognized_keys') {
    const keys = unknown.keys.map((k) => k.slice(0, 60));
    throw new InvalidInput(`Unknown field${keys.length > 1 ? 's' : ''}: ${keys.join(', ')} (nothing was changed)`, keys[0]);
  }
  let issue: z.core.$ZodIssue = result.error.issues[0]!;
  let path = issue.path;
  // Of the alternatives a value could have taken, say what was wrong with the closest one.
  while (issue.code === 'invalid_union' && issue.errors.length) {
    const nested = issue.errors.flat();
    const best = nested.find((i) => i.code !== 'invalid_type') ?? nested[0]!;
    path = [...path, ...best.path];
    issue = best;
  }
  const field = path[0] === undefined ? undefined : String(path[0]);
  // The body itself is the wrong shape (a JSON list, a number): say what it should be rather than name no field.
  if (field === undefined) throw new InvalidInput('Send the fields as one JSON object, like {"name": "..."}');
  const value = input && typeof input === 'object' ? (input as Record<string, unknown>)[field] : undefined;
  const message = issue.code === 'invalid_type' && value === undefined ? `${field} is required` : issue.message;
  throw new InvalidInput(message, field);
}

/** The query string's single values (a repeated parameter counts as absent). */
export function queryOf(query: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) if (typeof v === 'string') out[k] = v;
  return out;
}

export function pageOf(query: Record<string, string | string[] | undefined>): { page?: number; perPage?: number } {
  const p = parseInput(pageQuery, queryOf(query));
  return { page: p.page, perPage: p.per_page };
}
