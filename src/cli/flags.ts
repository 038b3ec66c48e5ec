import { checkFields } from '../domain/text.js';

/** Flags as parsed: a string, a list for repeatable flags, or true for switches. */
export type Flags = Record<string, string | string[] | boolean | undefined>;

/** The command line was not right: a missing flag, an unknown one. */
export class UsageError extends Error {}

/** A required flag's value. */
export function one(f: Flags, name: string): string {
  const v = f[name];
  if (typeof v !== 'string' || !v.trim()) throw new UsageError(`--${name} is required`);
  return v;
}

/** An optional flag's value. */
export function opt(f: Flags, name: string): string | undefined {
  const v = f[name];
  return typeof v === 'string' ? v : undefined;
}

/** A repeatable flag's values. */
export function many(f: Flags, name: string): string[] {
  const v = f[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/**
 * Every value on the command line is text by the web's rule (src/domain/text.ts):
 * a NUL, a control character or an escape sequence in any flag is refused,
 * naming the flag, before the database is opened, so nothing is written.
 */
export function checkFlags(f: Flags): void {
  checkFields(f, { label: (name) => (name === '_' ? 'the file name' : `--${name}`) });
}
