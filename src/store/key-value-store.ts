/**
 * What pharmid keeps in Redis: values that expire. Two implementations keep
 * this one contract: `RedisStore` (with REDIS_URL) and `PostgresStore` (without:
 * the embedded default, or DATABASE_URL alone). Both are shared by every
 * process and the CLI and survive a restart. Keys are given without the
 * deployment's prefix; RedisStore applies it (a Postgres database is the
 * deployment's own).
 */
export interface KeyValueStore {
  readonly kind: 'redis' | 'postgres';
  get(key: string): Promise<string | null>;
  getMany(keys: string[]): Promise<(string | null)[]>;
  /** Sets a value; with a TTL in seconds it expires. */
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  del(...keys: string[]): Promise<void>;
  /**
   * Reads a value and deletes it in one atomic operation (get-and-delete):
   * of two racing callers only one gets it. For single-use values (WebAuthn
   * challenges).
   */
  take(key: string): Promise<string | null>;
  /** Adds a member to a set, extending the set's life to at least `ttlSeconds`. */
  addToSet(key: string, member: string, ttlSeconds: number): Promise<void>;
  members(key: string): Promise<string[]>;
  /**
   * Stores `value` only if it is greater than the number stored: true when it
   * was stored. One atomic operation, so two racing callers cannot both win.
   */
  raiseTo(key: string, value: number, ttlSeconds: number): Promise<boolean>;
  /**
   * Writes a JSON object, keeping the entries of its map `field` that the
   * stored object has and the new one lacks: writers racing on one record
   * each add their own entries and none is lost. One atomic operation.
   */
  setMergingMap(key: string, json: string, field: string, ttlSeconds: number): Promise<void>;
  /** Sets a field of a stored JSON object only if it is absent: true when this call set it. */
  claimJsonField(key: string, field: string, value: number): Promise<boolean>;
  ping(): Promise<void>;
  /** False while the connection is down (cheap: no round trip). */
  isReady(): boolean;
  close(): Promise<void>;
}
