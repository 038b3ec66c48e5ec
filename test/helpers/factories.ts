import { randomBytes } from 'node:crypto';
import { addSite } from '../../src/domain/sites.js';
import { createUser, linkUser } from '../../src/domain/users.js';
import { registerClient, type ClientInput } from '../../src/domain/clients.js';
import type { Deps } from '../../src/domain/deps.js';
import type { Person } from './sign-in.js';

const cli = { kind: 'cli' } as const;

export function uniqueOds(): string {
  return `T${randomBytes(3).toString('hex').toUpperCase().slice(0, 5)}`;
}

export async function makeSite(deps: Deps, name = 'High Street Pharmacy') {
  return addSite(deps, cli, { ods: uniqueOds(), name });
}

/** A person with a site; with `activate: true` they get an activation code instead of a password. */
export async function makePerson(deps: Deps, opts: { site?: string; role?: string; activate?: boolean; name?: string } = {}): Promise<Person & { id: string; site: string }> {
  const site = opts.site ?? (await makeSite(deps)).ods_code;
  const email = `staff.${randomBytes(4).toString('hex')}@example.nhs.uk`;
  const password = `plum orchard ${randomBytes(3).toString('hex')}`;
  const { user, activationCode } = await createUser(deps, cli, {
    email, name: opts.name ?? 'Sam Patel', site, role: opts.role, password: opts.activate ? undefined : password,
  });
  return { id: user.id, email, password, activationCode, site };
}

export async function linkPerson(deps: Deps, email: string, site: string, role?: string) {
  return linkUser(deps, cli, { email, site, role });
}

export async function makeClient(deps: Deps, input: Partial<ClientInput> = {}) {
  return registerClient(deps, cli, {
    name: 'PharmOutcomes',
    redirectUris: ['http://localhost:8080/callback'],
    postLogoutRedirectUris: ['http://localhost:8080/signed-out'],
    firstParty: true,
    ...input,
  });
}
