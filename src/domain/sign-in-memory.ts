import type { Deps } from './deps.js';

/**
 * What pharmid remembers of a sign-in page after the sign-in itself has gone
 * (finished, expired, or its cookie lost): which portal asked, and whether
 * it finished. Kept a day, so a page left open overnight can still say
 * "go back to PharmRefer" rather than a bare "start again". Nothing secret:
 * a portal's client_id and a flag, under the page's random id.
 */
export interface RememberedSignIn { clientId: string; finished: boolean }

const DAY = 24 * 60 * 60;
const key = (uid: string) => `sign-in-memory:${uid}`;

export async function rememberSignIn(deps: Deps, uid: string, memory: RememberedSignIn): Promise<void> {
  await deps.store.set(key(uid), JSON.stringify(memory), DAY);
}

export async function recallSignIn(deps: Deps, uid: unknown): Promise<RememberedSignIn | undefined> {
  if (typeof uid !== 'string' || !/^[\w-]{1,100}$/.test(uid)) return undefined;
  const raw = await deps.store.get(key(uid));
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as RememberedSignIn;
    return typeof parsed.clientId === 'string' ? { clientId: parsed.clientId, finished: parsed.finished === true } : undefined;
  } catch {
    return undefined;
  }
}
