import { errors } from 'oidc-provider';
import type { KeyValueStore } from '../store/key-value-store.js';
import { StoreAdapter, type OidcPayload } from '../store/oidc-adapter.js';
import { clientMetadata } from '../domain/clients.js';
import type { Deps } from '../domain/deps.js';
import { isPlainText } from '../domain/text.js';

/**
 * Authorization codes and refresh tokens are used once, even when two token
 * requests race on two processes: the store marks the record consumed
 * atomically, and the loser gets `invalid_grant`.
 */
class SingleUseAdapter extends StoreAdapter {
  override async consume(id: string): Promise<void> {
    if (!(await this.consumeOnce(id))) throw new errors.InvalidGrant('grant request is invalid');
  }
}

/** Portals are read from Postgres; they are registered with the CLI or the admin console. */
class ClientAdapter {
  constructor(private readonly deps: Deps) {}
  find(id: string) { return clientMetadata(this.deps, id); }
  async upsert(): Promise<void> { throw new Error('portals are registered with pharmid client add'); }
  async destroy(): Promise<void> {}
  async consume(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
  async findByUid() { return undefined; }
  async findByUserCode() { return undefined; }
}

interface Adapter {
  upsert(id: string, payload: OidcPayload, expiresIn: number): Promise<void>;
  find(id: string): Promise<unknown>;
  findByUid(uid: string): Promise<unknown>;
  findByUserCode(userCode: string): Promise<unknown>;
  destroy(id: string): Promise<void>;
  consume(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/** Longer than any id pharmid issues (client ids are 16 characters, the provider's ids 21 to 43). */
const MAX_ID_LENGTH = 1_000;

/**
 * The one gate between an id a request supplied (a client_id, a code, a
 * token, a session or interaction cookie) and the stores behind it: an id
 * that is not plain text (a NUL, a control character, a line break, text
 * that was not UTF-8) or is longer than any id could be was never issued,
 * so it is not found, and the provider answers as for any unknown id
 * (invalid_client, invalid_grant, an inactive token, no session) instead
 * of handing the bytes to Postgres, which refuses a NUL with an error.
 */
class IdGate implements Adapter {
  constructor(private readonly inner: Adapter) {}
  private static issuable(id: unknown): id is string { return isPlainText(id, MAX_ID_LENGTH) && id.length > 0; }
  upsert(id: string, payload: OidcPayload, expiresIn: number) { return this.inner.upsert(id, payload, expiresIn); }
  async find(id: string) { return IdGate.issuable(id) ? this.inner.find(id) : undefined; }
  async findByUid(uid: string) { return IdGate.issuable(uid) ? this.inner.findByUid(uid) : undefined; }
  async findByUserCode(userCode: string) { return IdGate.issuable(userCode) ? this.inner.findByUserCode(userCode) : undefined; }
  async destroy(id: string) { if (IdGate.issuable(id)) await this.inner.destroy(id); }
  async consume(id: string) { if (IdGate.issuable(id)) await this.inner.consume(id); else throw new errors.InvalidGrant('grant request is invalid'); }
  async revokeByGrantId(grantId: string) { if (IdGate.issuable(grantId)) await this.inner.revokeByGrantId(grantId); }
}

export function adapterFactory(deps: Deps, store: KeyValueStore) {
  return (name: string): Adapter => new IdGate(name === 'Client' ? new ClientAdapter(deps) : new SingleUseAdapter(name, store));
}
