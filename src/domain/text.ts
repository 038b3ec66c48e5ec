import { InvalidInput } from './errors.js';

/**
 * What counts as text pharmid will take, wherever it comes from: a web form,
 * a JSON body, a query string (src/http/input.ts), a CLI flag
 * (src/cli/flags.ts) or a cell of an import file (src/domain/user-import.ts).
 * One rule, so the command line and the import refuse exactly what the web
 * pages refuse, before anything is looked up or written: no NUL or other
 * control character, no tab or line break outside the few fields typed in a
 * textarea, nothing that was not valid UTF-8 (a replacement character or a
 * lone surrogate), nothing longer than any field needs. What an email or an
 * ODS code looks like stays with the field's own rules.
 */

export const MAX_TEXT_LENGTH = 4_000;
export const MAX_MULTI_LINE_LENGTH = 20_000;
const MAX_NAME_LENGTH = 200;
const MAX_DEPTH = 4;

/** Fields typed in a textarea, where a tab and line breaks are part of the value (web fields and CLI flags alike). */
const MULTI_LINE = new Set(['redirect_uris', 'post_logout_redirect_uris', 'address']);

// C0 controls but tab, line feed and carriage return; DEL; C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
const LINE_BREAK_OR_TAB = /[\t\n\r]/;
// What a decoder puts in place of bytes that were not UTF-8; and a half of a surrogate pair on its own.
const REPLACEMENT = /\uFFFD/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface TextRule { multiLine?: boolean; max?: number }

/** What is wrong with one value ("contains ...", "is ..."), or undefined when nothing is. */
export function textProblem(value: string, rule: TextRule = {}): string | undefined {
  const max = rule.max ?? (rule.multiLine ? MAX_MULTI_LINE_LENGTH : MAX_TEXT_LENGTH);
  if (CONTROL.test(value)) return 'contains a control character (such as NUL), which is not allowed';
  if (!rule.multiLine && LINE_BREAK_OR_TAB.test(value)) return 'contains a tab or line break, which is not allowed in this field';
  if (REPLACEMENT.test(value) || LONE_SURROGATE.test(value)) return 'is not valid UTF-8 text';
  if (value.length > max) return `is too long (at most ${max} characters)`;
  return undefined;
}

/** True when a value could stand in a single-line field: what to do with one that could not is the caller's. */
export function isPlainText(value: unknown, max = MAX_TEXT_LENGTH): value is string {
  return typeof value === 'string' && textProblem(value, { max }) === undefined;
}

export function isMultiLineField(name: string): boolean {
  return MULTI_LINE.has(name);
}

/** A field's name as it may be shown back: its bad characters made visible, cut short. */
export function shownName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001F\u007F-\u009F\uFFFD]/g, '?').replace(/[\uD800-\uDFFF]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 60)}…` : clean;
}

/** How a field is named in a message: as the web names it, or as `--flag` on the command line. */
export type FieldLabel = (field: string) => string;

function refuse(field: string, problem: string, label: FieldLabel = (f) => f): never {
  const name = shownName(field);
  // Worded as the schemas word theirs ("name is too long ..."), the field first.
  throw new InvalidInput(`${label(name)} ${problem}`, name);
}

/** Refuses one value that is not text for `field` (InvalidInput naming it); returns the value. */
export function checkText(field: string, value: string, rule: TextRule = {}, label?: FieldLabel): string {
  const problem = textProblem(value, { multiLine: isMultiLineField(field), ...rule });
  if (problem) refuse(field, problem, label);
  return value;
}

/**
 * Checks every name and string in a set of named values (a parsed body or
 * query, a command line's flags); walks nested arrays and objects without
 * recursion, and refuses deep nesting.
 */
export function checkFields(fields: unknown, opts: { max?: number; label?: FieldLabel } = {}): void {
  if (!fields || typeof fields !== 'object') return;
  const stack: { field: string; value: unknown; depth: number }[] = [];
  for (const [name, value] of Object.entries(fields as Record<string, unknown>)) {
    const nameProblem = textProblem(name, { max: MAX_NAME_LENGTH });
    if (nameProblem) refuse(name, `has a name that ${nameProblem}`, opts.label);
    stack.push({ field: name, value, depth: 0 });
  }
  while (stack.length) {
    const { field, value, depth } = stack.pop()!;
    if (typeof value === 'string') {
      checkText(field, value, opts.max ? { max: opts.max } : {}, opts.label);
    } else if (value && typeof value === 'object') {
      if (depth >= MAX_DEPTH) refuse(field, 'is nested too deeply', opts.label);
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (textProblem(key, { max: MAX_NAME_LENGTH })) refuse(field, 'has a part whose name is not plain text', opts.label);
        stack.push({ field, value: inner, depth: depth + 1 });
      }
    }
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
const LENIENT_UTF8 = new TextDecoder('utf-8');

/**
 * Bytes read from a file, as text: bytes that are not UTF-8 are refused
 * (naming the line of the first), never quietly replaced with U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array, what = 'The file'): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    const lenient = LENIENT_UTF8.decode(bytes);
    const at = lenient.indexOf('\uFFFD');
    const line = lenient.slice(0, Math.max(0, at)).split('\n').length;
    throw new InvalidInput(`${what} is not UTF-8 text (line ${line}): save it as "CSV UTF-8" and try again`);
  }
}
