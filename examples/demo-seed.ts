import type { Deps } from '../src/domain/deps.js';
import type { Actor } from '../src/domain/audit.js';
import { addSite } from '../src/domain/sites.js';
import { createUser, linkUser, requireUser, resetPassword } from '../src/domain/users.js';
import { deleteTotpCredentials } from '../src/db/queries/totp-credentials.js';
import { deleteRecoveryCodes } from '../src/db/queries/recovery-codes.js';
import { listRegisteredClients, registerClient, removeClient, type RegisteredClient } from '../src/domain/clients.js';
import { NotFound, Conflict } from '../src/domain/errors.js';

/** What `npm run demo` sets up: two pharmacies, a site administrator, a locum at both, and three portals. */

export const DEMO_SITES = [
  { ods: 'FA123', name: 'High Street Pharmacy' },
  { ods: 'FX456', name: 'Riverside Pharmacy' },
] as const;

export const DEMO_PORTALS = [
  { name: 'PharmOutcomes', colour: '#005eb8' },
  { name: 'PharmRefer', colour: '#007f3b' },
  { name: 'Outcomes4Health', colour: '#7c2855' },
] as const;

export interface DemoPerson {
  name: string;
  email: string;
  role: string;
  sites: string[];
  /** Set for the administrator: signs in with it, then sets up an authenticator. */
  password?: string;
  /** Set for the locum (and after a re-run): activate with it, choosing a password. */
  activationCode?: string;
}

export interface DemoPortalUrls { name: string; redirectUri: string; postLogoutRedirectUri: string; backchannelLogoutUri: string }

const demo: Actor = { kind: 'cli' };

async function ensureSite(deps: Deps, ods: string, name: string) {
  try {
    await addSite(deps, demo, { ods, name });
  } catch (err) {
    if (!(err instanceof Conflict)) throw err;
  }
}

async function existing(deps: Deps, email: string) {
  try {
    return await requireUser(deps, email);
  } catch (err) {
    if (err instanceof NotFound) return undefined;
    throw err;
  }
}

/**
 * A person as the demo needs them, fresh: created the first time; on a later
 * run over the same database their authenticator is removed and a new
 * activation code issued, so the walk-through starts again from the start.
 */
async function ensurePerson(deps: Deps, p: { name: string; email: string; role: 'member' | 'site-admin'; sites: string[]; password?: string }): Promise<DemoPerson> {
  const found = await existing(deps, p.email);
  let activationCode: string | undefined;
  let password = p.password;
  if (!found) {
    const created = await createUser(deps, demo, { email: p.email, name: p.name, site: p.sites[0]!, role: p.role, password: p.password });
    activationCode = created.activationCode;
  } else {
    // Back to a new account: the authenticator removed outright (an MFA reset would leave a
    // second code to give after the password), and a code to choose a password with.
    const user = await requireUser(deps, p.email);
    await deleteTotpCredentials(deps.db, user.id);
    await deleteRecoveryCodes(deps.db, user.id);
    activationCode = (await resetPassword(deps, demo, p.email)).activationCode;
    password = undefined;
  }
  for (const site of p.sites.slice(1)) await linkUser(deps, demo, { email: p.email, site, role: p.role });
  return { name: p.name, email: p.email, role: p.role, sites: p.sites, password, activationCode };
}

export async function seedDemo(deps: Deps, portals: DemoPortalUrls[]): Promise<{ people: { admin: DemoPerson; locum: DemoPerson }; clients: RegisteredClient[] }> {
  for (const s of DEMO_SITES) await ensureSite(deps, s.ods, s.name);
  const admin = await ensurePerson(deps, {
    name: 'Sam Taylor', email: 'sam.taylor@example.nhs.uk', role: 'site-admin', sites: ['FA123'], password: 'kettle orchard lantern',
  });
  const locum = await ensurePerson(deps, {
    name: 'Priya Shah', email: 'priya.shah@example.nhs.uk', role: 'member', sites: ['FA123', 'FX456'],
  });
  // The portals are registered again each run (their addresses may have changed).
  const names = new Set(portals.map((p) => p.name));
  for (const c of await listRegisteredClients(deps)) {
    if (names.has(c.name)) await removeClient(deps, demo, c.client_id);
  }
  const clients: RegisteredClient[] = [];
  for (const p of portals) {
    clients.push(await registerClient(deps, demo, {
      name: p.name,
      redirectUris: [p.redirectUri],
      postLogoutRedirectUris: [p.postLogoutRedirectUri],
      backchannelLogoutUri: p.backchannelLogoutUri,
      firstParty: true,
    }));
  }
  return { people: { admin, locum }, clients };
}
