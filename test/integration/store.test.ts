import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis-store.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { StoreAdapter } from '../../src/store/oidc-adapter.js';
import type { KeyValueStore } from '../../src/store/key-value-store.js';
import { createCounters } from '../../src/store/counters.js';
import { TEST_REDIS_URL } from '../helpers/backends.js';

/** A Redis key prefix of this file's own, swept afterwards. */
const prefix = `pharmid-test:store:${process.pid}:${randomBytes(4).toString('hex')}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Postgres store's own database (the embedded default keeps this table in its Postgres). */
let database: TestBackends | undefined;
let pools: ReturnType<typeof createPool>[] = [];
async function openPostgresStore(): Promise<KeyValueStore> {
  database ??= await createTestBackends();
  const pool = createPool(database.databaseUrl, 20);
  pools.push(pool);
  await migrate(pool);
  return new PostgresStore(pool);
}

afterAll(async () => {
  for (const pool of pools) await pool.end();
  pools = [];
  await database?.drop();
  const redis = new Redis(TEST_REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const implementations: [string, () => Promise<KeyValueStore>][] = [
  ['RedisStore', () => new RedisStore(TEST_REDIS_URL, prefix).connect()],
  ['PostgresStore', openPostgresStore],
];

describe.each(implementations)('%s', (kind, open) => {
  let store: KeyValueStore;
  /** A key of this test's own. */
  const k = (name: string) => `${name}:${randomBytes(4).toString('hex')}`;

  beforeAll(async () => { store = await open(); });
  afterAll(async () => { await store.close(); });

  test('kind and ping', async () => {
    expect(store.kind).toBe(kind === 'RedisStore' ? 'redis' : 'postgres');
    await expect(store.ping()).resolves.toBeUndefined();
  });

  test('set and get; a missing key is null', async () => {
    const key = k('plain');
    expect(await store.get(key)).toBeNull();
    await store.set(key, 'value one');
    expect(await store.get(key)).toBe('value one');
    await store.set(key, 'value two');
    expect(await store.get(key)).toBe('value two');
  });

  test('setMergingMap: racing writers each keep their map entries; other fields are the last write', async () => {
    const key = k('session');
    await store.setMergingMap(key, JSON.stringify({ loginTs: 1, amr: ['pwd', 'otp', 'mfa'], authorizations: {} }), 'authorizations', 60);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.setMergingMap(
      key, JSON.stringify({ loginTs: 2, amr: ['pwd', 'otp', 'mfa'], authorizations: { [`portal-${i}`]: { grantId: `g${i}`, sid: `s${i}` } } }),
      'authorizations', 60,
    )));
    const stored = JSON.parse((await store.get(key))!);
    expect(Object.keys(stored.authorizations).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `portal-${i}`).sort());
    expect(stored.authorizations['portal-7']).toEqual({ grantId: 'g7', sid: 's7' });
    expect(stored.loginTs).toBe(2);
    expect(stored.amr).toEqual(['pwd', 'otp', 'mfa']);
    // A newer entry for the same portal replaces the older one.
    await store.setMergingMap(key, JSON.stringify({ loginTs: 3, authorizations: { 'portal-7': { grantId: 'newer' } } }), 'authorizations', 60);
    expect(JSON.parse((await store.get(key))!).authorizations['portal-7']).toEqual({ grantId: 'newer' });
  });

  test('getMany keeps order and gives null for missing keys', async () => {
    const [a, b, c] = [k('a'), k('b'), k('c')];
    await store.set(a, '1');
    await store.set(c, '3');
    expect(await store.getMany([a, b, c])).toEqual(['1', null, '3']);
    expect(await store.getMany([])).toEqual([]);
  });


  test('TTLs: values, sets, raised counters, claimed records and adapter records expire; one wait for all', async () => {
    const short = k('ttl');
    const lasting = k('no-ttl');
    const longer = k('ttl-long');
    await store.set(short, 'gone soon', 1);
    await store.set(lasting, 'stays');
    await store.set(longer, 'stays a while', 60);
    expect(await store.get(short)).toBe('gone soon');

    // A set lives as long as its longest TTL: a shorter later TTL does not cut it short.
    const set = k('set-ttl');
    await store.addToSet(set, 'long', 60);
    await store.addToSet(set, 'short', 1);
    const brief = k('set-brief');
    await store.addToSet(brief, 'a', 1);

    const raised = k('raise-ttl');
    expect(await store.raiseTo(raised, 7, 1)).toBe(true);

    // Claiming a field keeps the record's TTL.
    const claimed = k('json-ttl');
    await store.set(claimed, JSON.stringify({ jti: 'abc' }), 1);
    expect(await store.claimJsonField(claimed, 'consumed', 1)).toBe(true);

    const interactions = new StoreAdapter('Interaction', store);
    const interaction = k('int');
    await interactions.upsert(interaction, { iat: 1, uid: k('uid') }, 1);
    expect(await interactions.find(interaction)).toBeDefined();

    // A long-lived refresh token keeps its grant index alive after a short-lived access token joins it.
    const grantId = k('grant');
    const refresh = new StoreAdapter('RefreshToken', store);
    const rt = k('r');
    await refresh.upsert(rt, { grantId }, 60);
    await new StoreAdapter('AccessToken', store).upsert(k('a'), { grantId }, 1);

    await sleep(1_100);

    expect(await store.getMany([short, lasting, longer])).toEqual([null, 'stays', 'stays a while']);
    expect((await store.members(set)).sort()).toEqual(['long', 'short']);
    expect(await store.members(brief)).toEqual([]);
    expect(await store.get(raised)).toBeNull();
    expect(await store.raiseTo(raised, 7, 60)).toBe(true);
    expect(await store.get(claimed)).toBeNull();
    expect(await interactions.find(interaction)).toBeUndefined();
    await refresh.revokeByGrantId(grantId);
    expect(await refresh.find(rt)).toBeUndefined();
  });

  test('del removes one or several keys, and tolerates none', async () => {
    const [a, b, c] = [k('a'), k('b'), k('c')];
    await Promise.all([store.set(a, '1'), store.set(b, '2'), store.set(c, '3')]);
    await store.del(a, b);
    expect(await store.getMany([a, b, c])).toEqual([null, null, '3']);
    await store.del();
    await store.del(k('never-set'));
    expect(await store.get(c)).toBe('3');
  });

  test('take reads and deletes at once: of 50 racing takers exactly one gets the value; an expired value is gone', async () => {
    const key = k('challenge');
    await store.set(key, 'once', 60);
    const got = await Promise.all(Array.from({ length: 50 }, () => store.take(key)));
    expect(got.filter((v) => v === 'once')).toHaveLength(1);
    expect(got.filter((v) => v === null)).toHaveLength(49);
    expect(await store.get(key)).toBeNull();
    expect(await store.take(k('never-set'))).toBeNull();
    const brief = k('brief');
    await store.set(brief, 'soon gone', 1);
    await sleep(1100);
    expect(await store.take(brief)).toBeNull();
  });

  test('addToSet and members: members are unique; a missing set is empty', async () => {
    const key = k('set');
    expect(await store.members(key)).toEqual([]);
    await store.addToSet(key, 'x', 60);
    await store.addToSet(key, 'y', 60);
    await store.addToSet(key, 'x', 60);
    expect((await store.members(key)).sort()).toEqual(['x', 'y']);
    await store.del(key);
    expect(await store.members(key)).toEqual([]);
  });


  test('raiseTo stores only greater values', async () => {
    const key = k('raise');
    expect(await store.raiseTo(key, 5, 60)).toBe(true);
    expect(await store.get(key)).toBe('5');
    expect(await store.raiseTo(key, 5, 60)).toBe(false);
    expect(await store.raiseTo(key, 4, 60)).toBe(false);
    expect(await store.get(key)).toBe('5');
    expect(await store.raiseTo(key, 6, 60)).toBe(true);
    expect(await store.get(key)).toBe('6');
  });

  test('raiseTo compares numbers, not strings', async () => {
    const key = k('raise-num');
    expect(await store.raiseTo(key, 9, 60)).toBe(true);
    expect(await store.raiseTo(key, 10, 60)).toBe(true);
    expect(await store.raiseTo(key, 9, 60)).toBe(false);
  });

  test('raiseTo is atomic: 100 concurrent calls with one value, exactly one wins', async () => {
    const key = k('raise-race');
    const results = await Promise.all(Array.from({ length: 100 }, () => store.raiseTo(key, 56_666_667, 60)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.get(key)).toBe('56666667');
  });


  test('claimJsonField sets an absent field once only, keeping the rest', async () => {
    const key = k('json');
    await store.set(key, JSON.stringify({ jti: 'abc', grantId: 'g1' }), 60);
    expect(await store.claimJsonField(key, 'consumed', 1_700_000_000)).toBe(true);
    expect(await store.claimJsonField(key, 'consumed', 1_700_000_001)).toBe(false);
    expect(JSON.parse((await store.get(key))!)).toEqual({ jti: 'abc', grantId: 'g1', consumed: 1_700_000_000 });
  });

  test('claimJsonField on a missing key claims nothing and creates nothing', async () => {
    const key = k('json-missing');
    expect(await store.claimJsonField(key, 'consumed', 1)).toBe(false);
    expect(await store.get(key)).toBeNull();
  });

  test('claimJsonField under a race: exactly one of 50 wins', async () => {
    const key = k('json-race');
    await store.set(key, JSON.stringify({ jti: 'abc' }), 60);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.claimJsonField(key, 'consumed', 1000 + i)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });


  describe('counters and locks (rate-limiter-flexible on this store)', () => {
    test('200 concurrent adds each see their own count, 1..200; taking back lowers it', async () => {
      const failures = createCounters(store).failures(k('fail'), 60);
      const key = k('who');
      const counts = await Promise.all(Array.from({ length: 200 }, () => failures.add(key)));
      expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(counts[0]!.secondsLeft).toBeGreaterThan(0);
      expect(counts[0]!.secondsLeft).toBeLessThanOrEqual(60);
      await failures.takeBack(key);
      expect((await failures.add(key)).count).toBe(200);
      await failures.clear(key);
      expect((await failures.add(key)).count).toBe(1);
    });

    test('a lock is claimed by exactly one of 50 racing callers; set, remaining and clear', async () => {
      const locks = createCounters(store).locks(k('lock'));
      const key = k('account');
      const claims = await Promise.all(Array.from({ length: 50 }, () => locks.claim(key, 30)));
      expect(claims.filter((c) => c.claimed)).toHaveLength(1);
      expect(claims.find((c) => !c.claimed)!.secondsLeft).toBeGreaterThan(25);
      await locks.set(key, 600);
      expect(await locks.remaining(key)).toBeGreaterThan(590);
      expect((await locks.claim(key, 1)).claimed).toBe(false);
      await locks.clear(key);
      expect(await locks.remaining(key)).toBe(0);
      expect((await locks.claim(key, 1)).claimed).toBe(true);
      await sleep(1_100);
      expect(await locks.remaining(key)).toBe(0);
      expect((await locks.claim(key, 5)).claimed).toBe(true);
    });
  });

  describe('oidc adapter', () => {
    const payload = (extra: Record<string, unknown> = {}) => ({ iat: 1, exp: 2, kind: 'x', ...extra });

    test('upsert and find; an unknown id is undefined', async () => {
      const adapter = new StoreAdapter('Session', store);
      const id = k('sess');
      expect(await adapter.find(id)).toBeUndefined();
      await adapter.upsert(id, payload({ accountId: 'u1' }), 60);
      expect(await adapter.find(id)).toEqual(payload({ accountId: 'u1' }));
      await adapter.upsert(id, payload({ accountId: 'u2' }), 60);
      expect((await adapter.find(id))!.accountId).toBe('u2');
    });

    test('records of one model are not seen by another', async () => {
      const id = k('shared-id');
      await new StoreAdapter('AccessToken', store).upsert(id, payload(), 60);
      expect(await new StoreAdapter('RefreshToken', store).find(id)).toBeUndefined();
    });


    test('destroy removes a record', async () => {
      const adapter = new StoreAdapter('Grant', store);
      const id = k('grant');
      await adapter.upsert(id, payload(), 60);
      await adapter.destroy(id);
      expect(await adapter.find(id)).toBeUndefined();
    });

    test('findByUid finds the session by its uid', async () => {
      const adapter = new StoreAdapter('Session', store);
      const id = k('sess');
      const uid = k('uid');
      await adapter.upsert(id, payload({ uid }), 60);
      expect(await adapter.findByUid(uid)).toEqual(payload({ uid }));
      expect(await adapter.findByUid(k('other-uid'))).toBeUndefined();
    });

    test('findByUserCode finds the device code by its user code', async () => {
      const adapter = new StoreAdapter('DeviceCode', store);
      const id = k('dc');
      await adapter.upsert(id, payload({ userCode: 'ABCD-EFGH' }), 60);
      expect((await adapter.findByUserCode('ABCD-EFGH'))!.userCode).toBe('ABCD-EFGH');
    });

    test('consumeOnce marks consumed once; consume after that leaves it consumed', async () => {
      const adapter = new StoreAdapter('AuthorizationCode', store);
      const id = k('code');
      await adapter.upsert(id, payload({ grantId: 'g' }), 60);
      expect((await adapter.find(id))!.consumed).toBeUndefined();
      expect(await adapter.consumeOnce(id)).toBe(true);
      const consumed = (await adapter.find(id))!.consumed;
      expect(typeof consumed).toBe('number');
      expect(Math.abs(consumed! - Date.now() / 1000)).toBeLessThan(5);
      expect(await adapter.consumeOnce(id)).toBe(false);
      await adapter.consume(id);
      expect((await adapter.find(id))!.consumed).toBe(consumed);
      expect(await adapter.consumeOnce(k('missing'))).toBe(false);
    });

    test('consumeOnce under a race: exactly one of 20 wins', async () => {
      const adapter = new StoreAdapter('RefreshToken', store);
      const id = k('rt');
      await adapter.upsert(id, payload({ grantId: 'g' }), 60);
      const wins = await Promise.all(Array.from({ length: 20 }, () => adapter.consumeOnce(id)));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });

    test('revokeByGrantId removes every token of that grant, in every model, and nothing else', async () => {
      const grantId = k('grant');
      const otherGrant = k('grant');
      const codes = new StoreAdapter('AuthorizationCode', store);
      const access = new StoreAdapter('AccessToken', store);
      const refresh = new StoreAdapter('RefreshToken', store);
      const [c1, a1, a2, r1, rOther] = [k('c'), k('a'), k('a'), k('r'), k('r')];
      await codes.upsert(c1, payload({ grantId }), 60);
      await access.upsert(a1, payload({ grantId }), 60);
      await access.upsert(a2, payload({ grantId }), 60);
      await refresh.upsert(r1, payload({ grantId }), 600);
      await refresh.upsert(rOther, payload({ grantId: otherGrant }), 600);

      await access.revokeByGrantId(grantId);

      expect(await codes.find(c1)).toBeUndefined();
      expect(await access.find(a1)).toBeUndefined();
      expect(await access.find(a2)).toBeUndefined();
      expect(await refresh.find(r1)).toBeUndefined();
      expect(await refresh.find(rOther)).toBeDefined();
      // The index itself is gone: a second revocation finds nothing to do.
      expect(await store.members(`oidc:grant-index:${grantId}`)).toEqual([]);
    });

  });
});

describe('PostgresStore beyond the contract', () => {
  test('what one store wrote, a second store on the same database (another process, the CLI, a restart) reads', async () => {
    const first = (await openPostgresStore()) as PostgresStore;
    const second = (await openPostgresStore()) as PostgresStore;
    const key = `shared:${randomBytes(4).toString('hex')}`;
    await first.set(key, 'seen by all', 60);
    expect(await second.get(key)).toBe('seen by all');
    const lock = randomBytes(4).toString('hex');
    await createCounters(first).locks('shared').set(lock, 120);
    expect(await createCounters(second).locks('shared').remaining(lock)).toBeGreaterThan(100);
    await Promise.all([first.close(), second.close()]);
  });

  test('the sweep deletes expired entries and expired rate-limit rows', async () => {
    const store = (await openPostgresStore()) as PostgresStore;
    const key = `sweep:${randomBytes(4).toString('hex')}`;
    await store.set(key, 'brief', 1);
    await createCounters(store).locks('sweep').claim(key, 1);
    await sleep(1_100);
    await store.sweep();
    const left = await store.pool.query('SELECT count(*)::int AS n FROM store_entries WHERE key = $1', [key]);
    const limits = await store.pool.query("SELECT count(*)::int AS n FROM rate_limits WHERE key LIKE '%' || $1", [key]);
    expect([left.rows[0].n, limits.rows[0].n]).toEqual([0, 0]);
    await store.close();
  });
});
