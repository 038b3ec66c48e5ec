import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { KeyValueStore } from './key-value-store.js';
import { RedisStore } from './redis-store.js';

/** Failures counted over a sliding window, shared by every process (in Redis). */
export interface FailureCounter {
  /** Adds one failure; returns the number in the window, this one included. */
  add(key: string): Promise<number>;
  clear(key: string): Promise<void>;
}

/** Temporary locks that lift by themselves. */
export interface Locks {
  set(key: string, seconds: number): Promise<void>;
  /** Seconds until the lock lifts; 0 when not locked. */
  remaining(key: string): Promise<number>;
  clear(key: string): Promise<void>;
}

export interface Counters {
  failures(name: string, windowSeconds: number): FailureCounter;
  locks(name: string): Locks;
}

/** Counters and locks on rate-limiter-flexible: Redis when pharmid has Redis, memory otherwise. */
export function createCounters(store: KeyValueStore): Counters {
  const make = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract =>
    store instanceof RedisStore
      ? new RateLimiterRedis({ storeClient: store.client, keyPrefix, points, duration, rejectIfRedisNotReady: true })
      : new RateLimiterMemory({ keyPrefix, points, duration });
  return {
    failures(name, windowSeconds) {
      const limiter = make(`rl:fail:${name}`, 1_000_000, windowSeconds);
      return {
        async add(key) { return (await limiter.penalty(key, 1)).consumedPoints; },
        async clear(key) { await limiter.delete(key); },
      };
    },
    locks(name) {
      const limiter = make(`rl:lock:${name}`, 1, 1);
      return {
        async set(key, seconds) { await limiter.block(key, Math.max(1, Math.ceil(seconds))); },
        async remaining(key) {
          const res = await limiter.get(key);
          return res && res.consumedPoints > 1 ? Math.ceil(res.msBeforeNext / 1000) : 0;
        },
        async clear(key) { await limiter.delete(key); },
      };
    },
  };
}
