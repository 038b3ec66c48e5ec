import { startTestPharmid, STORE_MODES } from '../helpers/pharmid.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { unlockUser } from '../../src/domain/users.js';
import { CHEAP_ARGON2, openForm, tally } from './support.js';

/**
 * The person's own sign-in ends their run of failures (it clears the
 * account's counters). An attack that keeps going meanwhile must still get
 * no more than the free tries and one more, in one burst, afterwards.
 */
describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  test('an unlock (or the person\'s own sign-in) during a flood does not hand the attacker extra parallel tries', async () => {
    const p = await startTestPharmid({ ...modeEnv, ...CHEAP_ARGON2, PASSWORD_FREE_FAILURES: '3', ADDRESS_MAX_FAILURES: '100000', ARGON2_PER_ADDRESS: '1000', ARGON2_MAX_QUEUE: '1000' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await makePerson(p.deps);
      const attacker = await openForm(p, portal);
      for (let i = 0; i < 3; i += 1) await attacker.post({ email: person.email, password: `wrong ${i}` });
      // The flood: most of it is refused ("wait") at once; the person signs in in the middle of it.
      const flood = Array.from({ length: 400 }, (_, i) => attacker.post({ email: person.email, password: `flood ${i}` }).then((r) => r.status));
      await new Promise((r) => setTimeout(r, 30));
      // The person cannot get in while the flood lasts (seen: 429 every time), so they call the helpdesk,
      // who unlocks them: the same clearing of the account's counters as a sign-in of theirs.
      await unlockUser(p.deps, { kind: 'cli' }, person.email);
      await Promise.all(flood);
      // Now one burst: the free tries (3) and one more may be checked.
      const burst = tally(await Promise.all(Array.from({ length: 40 }, (_, i) => attacker.post({ email: person.email, password: `burst ${i}` }).then((r) => r.status))));
      expect(burst[401] ?? 0).toBeLessThanOrEqual(4);
    } finally {
      await p.stop();
    }
  }, 60_000);
});
