import type { Principal } from '../domain/authorization.js';

/**
 * The roles of whoever is signed in to the console, in the words of the
 * people who hold them: "Site administrator at Riverside Pharmacy".
 */
export function rolesInWords(p: Principal, adminSites: string[]): string[] {
  const roles: string[] = [];
  if (p.superadmin) roles.push('Superadmin (every site and portal)');
  if (p.helpdesk) roles.push('Helpdesk (every site)');
  if (p.commissionerOf.size) roles.push(`Commissioner of ${p.commissionerOf.size} site${p.commissionerOf.size === 1 ? '' : 's'}`);
  if (adminSites.length) {
    roles.push(adminSites.length <= 2 ? `Site administrator at ${adminSites.join(' and ')}` : `Site administrator at ${adminSites.length} sites`);
  }
  return roles.length ? roles : ['No administration role'];
}
