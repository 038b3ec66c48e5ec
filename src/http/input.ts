import type Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { InvalidInput } from '../domain/errors.js';

/**
 * The one gate bad bytes meet before any of pharmid's own routes reads them:
 * every form field, JSON field and query parameter of the interaction pages,
 * /account, /portal, /admin and /api/admin. A value with a NUL or another
 * control character, text that is not valid UTF-8 (or a lone surrogate), or
 * a value longer than any field needs is refused with a 400 that names the
 * field, before anything is looked up or written. Field rules (what an email
 * or an ODS code looks like) stay with the schemas and the domain.
 */

/** Fields typed in a textarea, where a tab and line breaks are part of the value. */
const MULTI_LINE = new Set(['redirect_uris', 'post_logout_redirect_uris', 'address']);
const MAX_LENGTH = 4_000;
const MAX_MULTI_LINE_LENGTH = 20_000;
const MAX_QUERY_LENGTH = 2_000;
const MAX_DEPTH = 4;

// C0 controls but tab, line feed and carriage return; DEL; C1 controls.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const LINE_BREAK_OR_TAB = /[\t\n\r]/;
// What a decoder puts in place of bytes that were not UTF-8; and a half of a surrogate pair on its own.
const REPLACEMENT = /\uFFFD/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A field's name as it may be shown back: its bad characters made visible, cut short. */
function shown(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001F\u007F-\u009F\uFFFD]/g, '?').replace(/[\uD800-\uDFFF]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 60)}…` : clean;
}

/** What is wrong with one value, or undefined when nothing is. */
function problemWith(value: string, multiLine: boolean, max: number): string | undefined {
  if (CONTROL.test(value)) return 'contains a control character (such as NUL), which is not allowed';
  if (!multiLine && LINE_BREAK_OR_TAB.test(value)) return 'contains a tab or line break, which is not allowed in this field';
  if (REPLACEMENT.test(value) || LONE_SURROGATE.test(value)) return 'is not valid UTF-8 text';
  if (value.length > max) return `is too long (at most ${max} characters)`;
  return undefined;
}

/** True when a value could stand in a single-line field: what to do with it is the caller's (a bad login_hint is ignored). */
export function isPlainText(value: unknown, max = MAX_LENGTH): value is string {
  return typeof value === 'string' && problemWith(value, false, max) === undefined;
}

function refuse(field: string, problem: string): never {
  const name = shown(field);
  // Worded as the schemas word theirs ("name is too long ..."), the field first.
  throw new InvalidInput(`${name} ${problem}`, name);
}

/** Checks every name and string in a parsed body or query; walks nested arrays and objects without recursion. */
export function checkFields(fields: unknown, opts: { max?: number } = {}): void {
  if (!fields || typeof fields !== 'object') return;
  const stack: { field: string; value: unknown; depth: number }[] = [];
  for (const [name, value] of Object.entries(fields as Record<string, unknown>)) {
    const nameProblem = problemWith(name, false, 200);
    if (nameProblem) refuse(name, `has a name that ${nameProblem}`);
    stack.push({ field: name, value, depth: 0 });
  }
  while (stack.length) {
    const { field, value, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const multiLine = MULTI_LINE.has(field);
      const problem = problemWith(value, multiLine, opts.max ?? (multiLine ? MAX_MULTI_LINE_LENGTH : MAX_LENGTH));
      if (problem) refuse(field, problem);
    } else if (value && typeof value === 'object') {
      if (depth >= MAX_DEPTH) refuse(field, 'is nested too deeply');
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (problemWith(key, false, 200)) refuse(field, 'has a part whose name is not plain text');
        stack.push({ field, value: inner, depth: depth + 1 });
      }
    }
  }
}

/**
 * A form body's percent-encoded bytes must be UTF-8: the form parser keeps
 * an undecodable value as it was sent, so the raw body is read strictly.
 */
function checkFormEncoding(raw: string | undefined): void {
  if (!raw) return;
  for (const pair of raw.split('&')) {
    const eq = pair.indexOf('=');
    const [name, value] = eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    for (const part of [name, value]) {
      try {
        decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        let field: string;
        try { field = decodeURIComponent(name.replace(/\+/g, ' ')); } catch { field = name; }
        refuse(field, 'is not valid UTF-8 text');
      }
    }
  }
}

const checkForm: Koa.Middleware = async (ctx, next) => {
  checkFormEncoding((ctx.request as { rawBody?: string }).rawBody);
  checkFields(ctx.request.body);
  await next();
};

const checkJson: Koa.Middleware = async (ctx, next) => {
  checkFields(ctx.request.body);
  await next();
};

/** Parses a posted form (64 kB at most) and refuses bad bytes in it: every pharmid form goes through this. */
export function parseForm(): Koa.Middleware[] {
  return [bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' }) as unknown as Koa.Middleware, checkForm];
}

/** Parses a JSON body (64 kB at most) and refuses bad bytes in it: the admin API's bodies. */
export function parseJson(): Koa.Middleware[] {
  return [bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' }) as unknown as Koa.Middleware, checkJson];
}

/** Refuses bad bytes in the path and the query string of pharmid's own pages and API. */
export const checkQuery: Koa.Middleware = async (ctx, next) => {
  let path: string;
  try {
    path = decodeURIComponent(ctx.path);
  } catch {
    refuse('path', 'is not valid UTF-8 text');
  }
  const problem = problemWith(path, false, MAX_QUERY_LENGTH);
  if (problem) refuse('path', problem);
  if (ctx.querystring) {
    if (ctx.querystring.length > 8 * MAX_QUERY_LENGTH) refuse('query', 'is too long');
    checkFormEncoding(ctx.querystring);
    checkFields(ctx.query, { max: MAX_QUERY_LENGTH });
  }
  await next();
};
