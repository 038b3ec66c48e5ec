import { TooManyAttempts } from './errors.js';
import { actorName, type Actor } from './audit.js';
import type { Deps } from './deps.js';

/**
 * How many new activation codes one administrator sends one person in a
 * day, by whichever road (the person's page, the site list's bulk form, the
 * API). Each is an email the person cannot stop, and over partial reach the
 * administrator never sees the code, so a form or a script posted in a loop
 * would otherwise fill their inbox. A handful covers a lost or expired code.
 * Counted per administrator, so one who spends theirs (another site's,
 * perhaps) does not stop the person's own site from sending one.
 */
export const CODES_PER_DAY = 5;
const DAY = 24 * 60 * 60;

/**
 * Counts one code for the person, or refuses it once their day's codes are
 * spent. Returns how to give the count back when the code is not made after
 * all (its transaction or its mail failed), so only codes sent are counted.
 */
export async function countActivationCode(deps: Deps, by: Actor, person: { id: string; name: string }): Promise<() => Promise<void>> {
  const counter = deps.counters.failures('activation-code-sent', DAY);
  const key = `${actorName(by)}:${person.id}`;
  const { count, secondsLeft } = await counter.add(key);
  const giveBack = () => counter.takeBack(key);
  if (count > CODES_PER_DAY) {
    await giveBack();
    const hours = Math.max(1, Math.ceil(secondsLeft / 3600));
    throw new TooManyAttempts(
      `You have sent ${person.name} ${CODES_PER_DAY} activation codes in the last day, the most pharmid sends for one administrator. Ask them to look for the latest email (also in junk mail), or try again in ${hours} hour${hours === 1 ? '' : 's'}.`,
      'person', secondsLeft,
    );
  }
  return giveBack;
}
