import type Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { InvalidInput } from '../domain/errors.js';
import { checkFields, shownName, textProblem } from '../domain/text.js';

/**
 * The one gate bad bytes meet before any of pharmid's own routes reads them:
 * every form field, JSON field and query parameter of the interaction pages,
 * /account, /portal, /admin and /api/admin. A value that is not text by the
 * rule of src/domain/text.ts (the one the CLI and the import keep too) is
 * refused with a 400 that names the field, before anything is looked up or
 * written. Field rules (what an email or an ODS code looks like) stay with
 * the schemas and the domain. What is the web's own is here: percent-encoded
 * bytes that do not decode, and the length of a path or query.
 */

const MAX_QUERY_LENGTH = 2_000;

function refuse(field: string, problem: string): never {
  const name = shownName(field);
  throw new InvalidInput(`${name} ${problem}`, name);
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
  const problem = textProblem(path, { max: MAX_QUERY_LENGTH });
  if (problem) refuse('path', problem);
  if (ctx.querystring) {
    if (ctx.querystring.length > 8 * MAX_QUERY_LENGTH) refuse('query', 'is too long');
    checkFormEncoding(ctx.querystring);
    checkFields(ctx.query, { max: MAX_QUERY_LENGTH });
  }
  await next();
};
