import { errors } from 'oidc-provider';
import type { KeyValueStore } from '../store/key-value-store.js';
import { StoreAdapter } from '../store/oidc-adapter.js';
import { clientMetadata } from '../domain/clients.js';
import type { Deps } from '../domain/deps.js';

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

export function adapterFactory(deps: Deps, store: KeyValueStore) {
  return (name: string) => (name === 'Client' ? new ClientAdapter(deps) : new SingleUseAdapter(name, store));
}
