import type { KeyValueStore } from './key-value-store.js';

/** The payload oidc-provider hands its adapter (only the fields we index on are named). */
export interface OidcPayload {
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
  [field: string]: unknown;
}

/** Models that belong to a grant and go when it is revoked. */
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

/**
 * oidc-provider's adapter contract (sessions, interactions, codes, tokens,
 * grants) over a KeyValueStore, every record with its TTL.
 */
export class StoreAdapter {
  constructor(readonly name: string, private readonly store: KeyValueStore) {}

  private key(id: string) { return `oidc:${this.name}:${id}`; }
  private static grantKey(grantId: string) { return `oidc:grant-index:${grantId}`; }

  async upsert(id: string, payload: OidcPayload, expiresIn: number): Promise<void> {
    const key = this.key(id);
    if (this.name === 'Session') {
      // One browser reaching several portals at once (restored tabs) writes its session from
      // several requests at once; each adds its portal's authorization and none may be lost.
      // (Authorizations leave a session only with the whole session, at sign-out.)
      await this.store.setMergingMap(key, JSON.stringify(payload), 'authorizations', expiresIn);
    } else {
      await this.store.set(key, JSON.stringify(payload), expiresIn);
    }
    if (GRANTABLE.has(this.name) && payload.grantId) {
      await this.store.addToSet(StoreAdapter.grantKey(payload.grantId), key, expiresIn);
    }
    if (payload.userCode) await this.store.set(`oidc:${this.name}:user-code:${payload.userCode}`, id, expiresIn);
    if (payload.uid) await this.store.set(`oidc:${this.name}:uid:${payload.uid}`, id, expiresIn);
  }

  async find(id: string): Promise<OidcPayload | undefined> {
    const raw = await this.store.get(this.key(id));
    return raw ? (JSON.parse(raw) as OidcPayload) : undefined;
  }

  async findByUid(uid: string): Promise<OidcPayload | undefined> {
    const id = await this.store.get(`oidc:${this.name}:uid:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode: string): Promise<OidcPayload | undefined> {
    const id = await this.store.get(`oidc:${this.name}:user-code:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async destroy(id: string): Promise<void> {
    await this.store.del(this.key(id));
  }

  /** Marks the record consumed; false when another request consumed it first. */
  async consumeOnce(id: string): Promise<boolean> {
    return this.store.claimJsonField(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
  }

  async consume(id: string): Promise<void> {
    await this.consumeOnce(id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const index = StoreAdapter.grantKey(grantId);
    const keys = await this.store.members(index);
    await this.store.del(...keys, index);
  }
}
