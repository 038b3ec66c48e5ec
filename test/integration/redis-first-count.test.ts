import { randomBytes } from 'node:crypto';
import { RedisStore } from '../../src/store/redis-store.js';
import { createCounters } from '../../src/store/counters.js';
import { TEST_REDIS_URL } from '../helpers/backends.js';

/**
 * A counter's first use in a process, in the same tick as another Redis
 * command (a sign-in page is remembered while its password is counted):
 * both answer. rate-limiter-flexible defines its script command on the
 * client when the limiter is made; a pipeline already open in that tick
 * would lack it and fail every command in it.
 */
/** A command that never answers fails the test instead of hanging it. */
const within = <T>(work: Promise<T>) => Promise.race([
  work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000).unref()),
]);

test('the first count of a new limiter shares its tick with another command, and both answer', async () => {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  const store = await new RedisStore(TEST_REDIS_URL, prefix).connect();
  try {
    const counters = createCounters(store);
    const [, counted] = await within(Promise.all([
      store.set('remembered', 'x', 60),
      counters.failures('first-use', 60).add('someone'),
    ]));
    expect(counted.count).toBe(1);
    expect(await store.get('remembered')).toBe('x');
  } finally {
    await within(store.client.del('remembered', 'rl:fail:first-use:someone')).catch(() => {});
    store.client.disconnect();
  }
});
