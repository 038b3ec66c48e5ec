import type { Deps } from './deps.js';
import { findClient, findClients, type ClientRow } from '../db/queries/clients.js';
import { OWN_PORTAL_ID } from './clients.js';
import { isPlainText } from './text.js';

/** A portal as a person's pages name it: what to call it, where it lives, and whether it is switched off. */
export interface PortalName {
  clientId: string;
  /** "PharmRefer"; pharmid's own pages are "your pharmid account". */
  name: string;
  own: boolean;
  disabled: boolean;
  /** Where to send a person back to: the portal's own address (the origin of its first registered redirect URI). */
  home?: string;
}

export const OWN_PAGES_NAME = 'your pharmid account';

function homeOf(metadata: Record<string, unknown>): string | undefined {
  const first = (metadata.redirect_uris as unknown[] | undefined)?.[0];
  if (typeof first !== 'string') return undefined;
  try {
    const url = new URL(first);
    return url.protocol === 'https:' || url.protocol === 'http:' ? `${url.origin}/` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Looks a portal up by client_id, disabled ones too (a person is told that
 * PharmRefer is switched off, not that it does not exist). An id that was
 * never issued (bad bytes, too long) is no portal, and is not looked up.
 */
export async function namePortal(deps: Deps, clientId: unknown): Promise<PortalName | undefined> {
  if (!isPlainText(clientId, 200) || !clientId) return undefined;
  const row = await findClient(deps.db, clientId);
  return row ? portalNameOf(row) : undefined;
}

function portalNameOf(row: ClientRow): PortalName {
  const own = row.client_id === OWN_PORTAL_ID;
  return {
    clientId: row.client_id,
    name: own ? OWN_PAGES_NAME : row.name,
    own,
    disabled: row.disabled_at !== null,
    home: own ? '/account' : homeOf(row.metadata),
  };
}

/**
 * Several portals by client_id, in the order given, leaving out any no longer
 * registered: one query for the lot (the sign-out pages list every portal of
 * a session).
 */
export async function namePortals(deps: Deps, clientIds: string[]): Promise<PortalName[]> {
  const ids = clientIds.filter((id) => isPlainText(id, 200) && id !== '');
  const rows = new Map((await findClients(deps.db, ids)).map((row) => [row.client_id, row]));
  return ids.flatMap((id) => { const row = rows.get(id); return row ? [portalNameOf(row)] : []; });
}
