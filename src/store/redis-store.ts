import { Redis } from 'ioredis';
import type { KeyValueStore } from './key-value-store.js';

const RAISE_TO = `
local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`;

const SET_MERGING_MAP = `
local new = cjson.decode(ARGV[1])
local cur = redis.call('GET', KEYS[1])
if cur then
  local old = cjson.decode(cur)[ARGV[2]]
  if type(old) == 'table' then
    if type(new[ARGV[2]]) ~= 'table' then new[ARGV[2]] = {} end
    for k, v in pairs(old) do
      if new[ARGV[2]][k] == nil then new[ARGV[2]][k] = v end
    end
  end
end
redis.call('SET', KEYS[1], cjson.encode(new), 'EX', ARGV[3])
return 1`;

const CLAIM_JSON_FIELD = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local doc = cjson.decode(raw)
if doc[ARGV[1]] then return 0 end
doc[ARGV[1]] = tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('SET', KEYS[1], cjson.encode(doc), 'PX', ttl)
else
  redis.call('SET', KEYS[1], cjson.encode(doc))
end
return 1`;

/**
 * `redis+sentinel://[:password@]host:port[,host:port…]/master-name`: Redis
 * behind Sentinel, which tells ioredis where the master is now (and again
 * after a failover).
 */
export function parseSentinelUrl(url: string): { sentinels: { host: string; port: number }[]; name: string; password?: string } | undefined {
  const m = /^redis\+sentinel:\/\/(?::([^@]*)@)?([^/]+)\/([^/?#]+)$/.exec(url);
  if (!m) return undefined;
  const sentinels = m[2]!.split(',').map((hp) => {
    const [host, port] = hp.split(':');
    return { host: host!, port: Number(port ?? 26379) };
  });
  return { sentinels, name: decodeURIComponent(m[3]!), ...(m[1] ? { password: decodeURIComponent(m[1]) } : {}) };
}

export class RedisStore implements KeyValueStore {
  readonly kind = 'redis' as const;
  readonly client: Redis;

  constructor(url: string, keyPrefix: string) {
    const options = {
      keyPrefix,
      // Fail fast while Redis is away instead of queueing requests; reconnect in the background.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      commandTimeout: 2_000,
      retryStrategy: (times: number) => Math.min(times * 100, 1_000),
      // Commands issued in the same tick share one round trip (a sign-in step issues several).
      enableAutoPipelining: true,
      // rate-limiter-flexible defines its script command on this client when a limiter is first made
      // (src/store/counters.ts); a pipeline already open in that tick lacks it and fails every command
      // in it (a 500, and the others never answer). Its command goes on its own.
      autoPipeliningIgnoredCommands: ['rlflxIncr'],
    };
    const sentinel = parseSentinelUrl(url);
    this.client = sentinel ? new Redis({ ...options, ...sentinel }) : new Redis(url, options);
    this.client.on('error', () => {});
    this.client.defineCommand('raiseTo', { numberOfKeys: 1, lua: RAISE_TO });
    this.client.defineCommand('claimJsonField', { numberOfKeys: 1, lua: CLAIM_JSON_FIELD });
    this.client.defineCommand('setMergingMap', { numberOfKeys: 1, lua: SET_MERGING_MAP });
  }

  /** Resolves once connected (or rejects after the connect timeout). */
  async connect(): Promise<this> {
    if (this.client.status === 'ready') return this;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('Redis did not answer within 5 s')), 5_000);
      this.client.once('ready', () => { clearTimeout(timer); resolve(); });
    });
    return this;
  }

  get(key: string) { return this.client.get(key); }

  async getMany(keys: string[]) { return keys.length ? this.client.mget(keys) : []; }

  async set(key: string, value: string, ttlSeconds?: number) {
    if (ttlSeconds) await this.client.set(key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    else await this.client.set(key, value);
  }

  take(key: string) { return this.client.getdel(key); }

  async del(...keys: string[]) { if (keys.length) await this.client.del(...keys); }

  async addToSet(key: string, member: string, ttlSeconds: number) {
    const ttl = Math.max(1, Math.ceil(ttlSeconds));
    await this.client.multi()
      .sadd(key, member)
      .expire(key, ttl, 'GT')
      .expire(key, ttl, 'NX')
      .exec();
  }

  members(key: string) { return this.client.smembers(key); }

  async raiseTo(key: string, value: number, ttlSeconds: number) {
    const r = await (this.client as unknown as { raiseTo(k: string, v: number, t: number): Promise<number> })
      .raiseTo(key, value, Math.max(1, Math.ceil(ttlSeconds)));
    return r === 1;
  }

  async setMergingMap(key: string, json: string, field: string, ttlSeconds: number) {
    await (this.client as unknown as { setMergingMap(k: string, j: string, f: string, t: number): Promise<number> })
      .setMergingMap(key, json, field, Math.max(1, Math.ceil(ttlSeconds)));
  }

  async claimJsonField(key: string, field: string, value: number) {
    const r = await (this.client as unknown as { claimJsonField(k: string, f: string, v: number): Promise<number> })
      .claimJsonField(key, field, value);
    return r === 1;
  }

  async ping() { await this.client.ping(); }

  isReady() { return this.client.status === 'ready'; }

  async close() { await this.client.quit().catch(() => this.client.disconnect()); }
}
