import { authorize } from '../authorization.js';
import { listPortals, registerClient, rotateClientSecret, setPortalDisabled, type ClientInput, type PortalListing, type RegisteredClient } from '../clients.js';
import type { AdminRequest } from './people.js';
import type { Deps } from '../deps.js';

/** Portals (relying parties): superadmins only, through the one authorization module. */
export async function portalsForAdmin(deps: Deps, r: AdminRequest): Promise<PortalListing[]> {
  await authorize(deps, r.principal, 'client.manage', {}, r);
  return listPortals(deps);
}

/** Registers a portal; the secret is returned once. */
export async function registerPortal(deps: Deps, r: AdminRequest, input: ClientInput): Promise<RegisteredClient> {
  await authorize(deps, r.principal, 'client.manage', {}, r);
  return registerClient(deps, r.principal.actor, input, { ip: r.ip });
}

export async function rotatePortalSecret(deps: Deps, r: AdminRequest, clientId: string): Promise<RegisteredClient> {
  await authorize(deps, r.principal, 'client.manage', {}, r);
  return rotateClientSecret(deps, r.principal.actor, clientId, { ip: r.ip });
}

export async function disablePortal(deps: Deps, r: AdminRequest, clientId: string, disabled = true): Promise<void> {
  await authorize(deps, r.principal, 'client.manage', {}, r);
  await setPortalDisabled(deps, r.principal.actor, clientId, disabled, { ip: r.ip });
}
