import * as users from '../db/queries/users.js';
import type { Actor } from './audit.js';
import type { Deps } from './deps.js';

/**
 * Who did something, in words a person reading a notice about their own
 * account can act on: an administrator's name and email, or the operator.
 */
export async function describeActor(deps: Deps, actor: Actor): Promise<string> {
  if (actor.kind === 'cli') return 'an operator (pharmid command line)';
  if (actor.kind === 'user') {
    const u = await users.findUserById(deps.db, actor.id);
    return u ? `${u.name} (${u.email})` : 'an administrator';
  }
  return 'pharmid';
}
