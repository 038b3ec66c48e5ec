import { createHash } from 'node:crypto';
import { RateLimiterPostgres, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { KeyValueStore } from './key-value-store.js';
import { RedisStore } from './redis-store.js';
import { PostgresStore } from './postgres-store.js';

/**
 * Failures counted in a window, shared by every process. Each call is one
 * atomic increment (or decrement) whose result is the new count, so callers
 * count first and compare after: parallel callers each see their own number.
 */
export interface FailureCounter {
  /** Adds one; returns the count in the window, this one included, and the seconds until the window ends. */
  add(key: string): Promise<{ count: number; secondsLeft: number }>;
  /** Gives one back (a try that was refused, abandoned or, per address, succeeded). */
  takeBack(key: string): Promise<void>;
  clear(key: string): Promise<void>;
}

/** Locks that lift by themselves. */
export interface Locks {
  /** Takes the lock for `seconds` if nobody holds it, atomically; else says how long it is held. */
  claim(key: string, seconds: number): Promise<{ claimed: boolean; secondsLeft: number }>;
  /** Sets (or replaces) the lock for `seconds`. */
  set(key: string, seconds: number): Promise<void>;
  /** Seconds until the lock lifts; 0 when not locked. */
  remaining(key: string): Promise<number>;
  clear(key: string): Promise<void>;
}

export interface Counters {
  failures(name: string, windowSeconds: number): FailureCounter;
  locks(name: string): Locks;
}

/** The table migration 009 creates for RateLimiterPostgres. */
const TABLE = 'rate_limits';

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** Bytes of key kept as typed; a btree row (Postgres's primary key) holds at most 2,704. */
const MAX_KEY_BYTES = 200;

/**
 * The key as stored, the same in both stores. Keys come from what a person
 * typed (an email of up to 4,000 characters, any text): a longer one is
 * counted by its digest, so no key reaches a store's limit and a long email
 * is counted like any other. (`#` marks a digest; a typed key starting with
 * it is digested too, so the two never meet.)
 */
export function storedKey(key: string): string {
  if (Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES && !key.startsWith('#')) return key;
  return `#${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
}

/**
 * Counters and locks on rate-limiter-flexible, the one mechanism in every
 * mode: RateLimiterRedis with Redis, RateLimiterPostgres (table `rate_limits`)
 * without. Limiters are made once and reused.
 */
export function createCounters(store: KeyValueStore): Counters {
  const made = new Map<string, RateLimiterAbstract>();
  const limiter = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract => {
    const id = `${keyPrefix}|${points}|${duration}`;
    let l = made.get(id);
    if (!l) {
      if (store instanceof RedisStore) {
        l = new RateLimiterRedis({ storeClient: store.client, keyPrefix, points, duration, rejectIfRedisNotReady: true });
      } else if (store instanceof PostgresStore) {
        // The store's sweep deletes expired rows, so the limiter runs no timer of its own.
        l = new RateLimiterPostgres({
          storeClient: store.pool, storeType: 'pool', tableName: TABLE, tableCreated: true, clearExpiredByTimeout: false,
          keyPrefix, points, duration,
        });
      } else {
        throw new Error(`no rate limiter for a ${store.kind} store`);
      }
      made.set(id, l);
    }
    return l;
  };
  return {
    failures(name, windowSeconds) {
      const l = limiter(`rl:fail:${name}`, 1_000_000, windowSeconds);
      return {
        async add(key) {
          const res = await l.penalty(storedKey(key), 1);
          return { count: res.consumedPoints, secondsLeft: seconds(res.msBeforeNext) };
        },
        async takeBack(key) { await l.reward(storedKey(key), 1); },
        async clear(key) { await l.delete(storedKey(key)); },
      };
    },
    locks(name) {
      const l = limiter(`rl:lock:${name}`, 1, 1);
      return {
        async claim(key, s) {
          // Increment, then compare: only the caller that finds no lock sees 1.
          const res = await l.penalty(storedKey(key), 1, { customDuration: Math.max(1, Math.ceil(s)) });
          return { claimed: res.consumedPoints === 1, secondsLeft: seconds(res.msBeforeNext) };
        },
        async set(key, s) { await l.set(storedKey(key), 1, Math.max(1, Math.ceil(s))); },
        async remaining(key) {
          const res = await l.get(storedKey(key));
          return res && res.consumedPoints >= 1 && res.msBeforeNext > 0 ? seconds(res.msBeforeNext) : 0;
        },
        async clear(key) { await l.delete(storedKey(key)); },
      };
    },
  };
}
