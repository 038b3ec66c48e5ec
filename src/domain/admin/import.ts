import { createHash, randomBytes } from 'node:crypto';
import * as checked from '../../db/queries/checked-imports.js';
import { importUsers, type ImportReport } from '../user-import.js';
import { authorize } from '../authorization.js';
import { InvalidInput } from '../errors.js';
import type { AdminRequest } from './people.js';
import type { Deps } from '../deps.js';

/** How long a checked file waits to be applied. */
const CHECK_LIFETIME_MS = 30 * 60 * 1000;

/** The largest file the console takes: 5,000 people at about 100 bytes a line fit well under it. */
export const MAX_IMPORT_BYTES = 1024 * 1024;

const hashOf = (token: string) => createHash('sha256').update(token).digest();

function importerOf(r: AdminRequest): string {
  if (r.principal.actor.kind !== 'user') throw new InvalidInput('Only a signed-in administrator imports from the console');
  return r.principal.actor.id;
}

/**
 * The console's dry run: the same checks as `pharmid user import --dry-run`
 * (one transaction, rolled back). When nothing is wrong the file is kept for
 * this administrator and this sign-in, and the token to apply it is returned:
 * the apply then writes exactly this file, whatever the browser sends later.
 */
export async function checkImport(
  deps: Deps, r: AdminRequest, sessionId: string, file: Uint8Array | string,
): Promise<{ report: ImportReport; token?: string }> {
  await authorize(deps, r.principal, 'console.open', {}, r);
  const userId = importerOf(r);
  const report = await importUsers(deps, r, file, { dryRun: true });
  if (report.problems.length || report.people.length === 0) return { report };
  const csv = typeof file === 'string' ? file : Buffer.from(file).toString('utf8');
  const token = randomBytes(24).toString('base64url');
  const now = deps.now();
  await checked.insertCheckedImport(deps.db, {
    tokenHash: hashOf(token), userId, sessionId, csv, now, expiresAt: new Date(now.getTime() + CHECK_LIFETIME_MS),
  });
  return { report, token };
}

/**
 * Applies a checked file, once. The checks run again inside the import's one
 * transaction (a person added meanwhile, a site now full): if anything is
 * wrong now, nothing is written and the problems are reported.
 */
export async function applyCheckedImport(deps: Deps, r: AdminRequest, sessionId: string, token: string): Promise<ImportReport> {
  const userId = importerOf(r);
  const csv = token ? await checked.takeCheckedImport(deps.db, hashOf(token), userId, sessionId, deps.now()) : undefined;
  if (csv === undefined) {
    throw new InvalidInput('This check has expired or was already used. Check the file again, then apply it.', 'token');
  }
  return importUsers(deps, r, csv, { dryRun: false });
}
