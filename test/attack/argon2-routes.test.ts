import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { makePerson } from '../helpers/factories.js';
import { changePassword } from '../../src/domain/self-service.js';
import { checkPassword } from '../../src/domain/sign-in.js';
import { findUserByEmailKey } from '../../src/db/queries/users.js';
import { Busy } from '../../src/domain/errors.js';

/**
 * ARGON2_PER_ADDRESS bounds the hashes one address holds, whatever the route:
 * sign-in's password step, activation, and the account page's password change
 * (which verifies the current password and then hashes the new one).
 */
let p: TestPharmid;
beforeAll(async () => {
  p = await startTestPharmid({
    ARGON2_MAX_CONCURRENT: '1', ARGON2_MAX_QUEUE: '100', ARGON2_PER_ADDRESS: '1', ARGON2_MEMORY_KIB: '65536', ARGON2_TIME_COST: '3',
    ADDRESS_MAX_FAILURES: '100000', PASSWORD_FREE_FAILURES: '100000',
  });
});
afterAll(() => p.stop());

test('while a password change from one address is hashing, that address holds no second place', async () => {
  const ip = '203.0.113.44';
  const person = await makePerson(p.deps);
  const user = (await findUserByEmailKey(p.deps.db, person.email))!;
  // Every hash in this process is this address's: the most in flight at once (running or waiting) is what it holds.
  const hasher = p.deps.passwords as unknown as { running: number; waiting: unknown[] };
  let most = 0;
  const watch = setInterval(() => { most = Math.max(most, hasher.running + hasher.waiting.length); }, 1);
  let settled = false;
  const change = changePassword(p.deps, user, person.password, 'lantern harbour quietly', ip).finally(() => { settled = true; });
  await new Promise((r) => setTimeout(r, 5));
  // The same address keeps asking for one more hash (a wrong password for nobody), as a script would.
  while (!settled) {
    try {
      await checkPassword(p.deps, 'nobody.else@example.nhs.uk', 'some password here', ip);
    } catch (err) {
      if (!(err instanceof Busy)) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  await change;
  clearInterval(watch);
  // Held: never more than ARGON2_PER_ADDRESS (1). Seen: 2 (the new password's hash is not counted against the address).
  expect(most).toBeLessThanOrEqual(1);
}, 60_000);
