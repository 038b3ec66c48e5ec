import type { KeyValueStore } from './key-value-store.js';

interface Entry { value: string | Set<string>; expiresAt: number }

/**
 * The in-process twin of RedisStore for the embedded default: the same
 * contract, kept in this process's memory, so it serves one process only.
 * Each method runs without awaiting, which makes it atomic in Node.
 */
export class MemoryStore implements KeyValueStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private expiry(ttlSeconds?: number) { return ttlSeconds ? this.now() + ttlSeconds * 1000 : Infinity; }

  private sweep() {
    const t = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= t) this.entries.delete(k);
  }

  async get(key: string) {
    const v = this.live(key)?.value;
    return typeof v === 'string' ? v : null;
  }

  async getMany(keys: string[]) { return Promise.all(keys.map((k) => this.get(k))); }

  async set(key: string, value: string, ttlSeconds?: number) {
    this.entries.set(key, { value, expiresAt: this.expiry(ttlSeconds) });
  }

  async del(...keys: string[]) { for (const k of keys) this.entries.delete(k); }

  async addToSet(key: string, member: string, ttlSeconds: number) {
    const e = this.live(key);
    const set = e?.value instanceof Set ? e.value : new Set<string>();
    set.add(member);
    this.entries.set(key, { value: set, expiresAt: Math.max(e?.expiresAt ?? 0, this.expiry(ttlSeconds)) });
  }

  async members(key: string) {
    const v = this.live(key)?.value;
    return v instanceof Set ? [...v] : [];
  }

  async raiseTo(key: string, value: number, ttlSeconds: number) {
    const cur = this.live(key)?.value;
    if (typeof cur === 'string' && Number(cur) >= value) return false;
    this.entries.set(key, { value: String(value), expiresAt: this.expiry(ttlSeconds) });
    return true;
  }

  async setMergingMap(key: string, json: string, field: string, ttlSeconds: number) {
    const next = JSON.parse(json) as Record<string, unknown>;
    const cur = this.live(key)?.value;
    const old = typeof cur === 'string' ? (JSON.parse(cur) as Record<string, unknown>)[field] : undefined;
    if (old && typeof old === 'object') next[field] = { ...(old as object), ...((next[field] as object | undefined) ?? {}) };
    this.entries.set(key, { value: JSON.stringify(next), expiresAt: this.expiry(ttlSeconds) });
  }

  async claimJsonField(key: string, field: string, value: number) {
    const e = this.live(key);
    if (!e || typeof e.value !== 'string') return false;
    const doc = JSON.parse(e.value) as Record<string, unknown>;
    if (doc[field]) return false;
    doc[field] = value;
    e.value = JSON.stringify(doc);
    return true;
  }

  async ping() {}

  isReady() { return true; }

  async close() {
    clearInterval(this.sweeper);
    this.entries.clear();
  }
}
