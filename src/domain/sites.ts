import * as sites from '../db/queries/sites.js';
import type { SiteKind, SiteRow } from '../db/queries/sites.js';
import type { Db } from '../db/pool.js';
import { Conflict, InvalidInput, NotFound } from './errors.js';
import { normaliseOds } from './ods.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';

export const SITE_KINDS: readonly SiteKind[] = ['pharmacy', 'gp-practice', 'other'];

/** Active people a new site may have, by kind, until someone changes it (null: no limit). */
export const DEFAULT_USER_CAP: Record<SiteKind, number | null> = { pharmacy: 10, 'gp-practice': null, other: null };

function checkSiteName(input: string): string {
  const name = input.normalize('NFC').trim();
  if (name.length < 1 || name.length > 200) throw new InvalidInput('Enter a site name of 1 to 200 characters', 'name');
  return name;
}

function checkAddress(input: string | null | undefined): string | null {
  const address = (input ?? '').normalize('NFC').trim().replace(/\r\n/g, '\n');
  if (address.length > 500) throw new InvalidInput('Enter an address of at most 500 characters', 'address');
  return address || null;
}

function checkCap(input: number | null | undefined): number | null {
  if (input === null || input === undefined) return null;
  if (!Number.isInteger(input) || input < 1 || input > 100_000) throw new InvalidInput('The limit of active people is a whole number from 1 to 100000, or none', 'user_cap');
  return input;
}

export interface SiteInput { ods: string; name: string; kind?: string; address?: string | null; userCap?: number | null }

export async function addSite(deps: Deps, actor: Actor, input: SiteInput, context: { ip?: string } = {}): Promise<SiteRow> {
  const odsCode = normaliseOds(input.ods);
  const name = checkSiteName(input.name);
  const kind = (input.kind ?? 'pharmacy') as SiteKind;
  if (!SITE_KINDS.includes(kind)) throw new InvalidInput(`kind must be one of ${SITE_KINDS.join(', ')}`, 'kind');
  const address = checkAddress(input.address);
  const userCap = input.userCap === undefined ? DEFAULT_USER_CAP[kind] : checkCap(input.userCap);
  const site = await sites.insertSite(deps.db, { odsCode, name, kind, address, userCap });
  if (!site) throw new Conflict(`A site with ODS code ${odsCode} already exists`, 'ods');
  await audit(deps.db, actor, { action: 'site.add', outcome: 'success', siteId: site.id, ip: context.ip, details: { ods: odsCode, user_cap: userCap } });
  return site;
}

/** Changes a site's name, address or cap (the ODS code and kind stay). */
export async function updateSite(
  deps: Deps, actor: Actor, site: SiteRow,
  input: { name?: string; address?: string | null; userCap?: number | null }, context: { ip?: string } = {},
): Promise<SiteRow> {
  const name = input.name === undefined ? site.name : checkSiteName(input.name);
  const address = input.address === undefined ? site.address : checkAddress(input.address);
  const userCap = input.userCap === undefined ? site.user_cap : checkCap(input.userCap);
  const updated = await sites.updateSite(deps.db, site.id, { name, address, userCap });
  if (!updated) throw new NotFound(`No site has ODS code ${site.ods_code}`);
  await audit(deps.db, actor, {
    action: 'site.update', outcome: 'success', siteId: site.id, ip: context.ip,
    details: { name, address_changed: address !== site.address, user_cap: userCap },
  });
  return updated;
}

export async function requireSite(deps: Deps, ods: string): Promise<SiteRow> {
  const odsCode = normaliseOds(ods);
  const site = await sites.findSiteByOds(deps.db, odsCode);
  if (!site) throw new NotFound(`No site has ODS code ${odsCode}`);
  return site;
}

/**
 * Inside a transaction: locks the site and refuses when one more active
 * person would pass its cap. Later writes to the site wait for this one.
 */
export async function assertRoomAt(tx: Db, site: SiteRow, extra = 1): Promise<void> {
  const counted = await sites.lockSiteAndCount(tx, site.id);
  if (!counted) throw new NotFound(`No site has ODS code ${site.ods_code}`);
  if (counted.user_cap !== null && counted.active_people + extra > counted.user_cap) {
    throw new Conflict(
      `${site.name} (${site.ods_code}) already has ${counted.active_people} active ${counted.active_people === 1 ? 'person' : 'people'}, its limit is ${counted.user_cap}. `
      + 'Disable someone who has left, or ask a superadmin to raise the limit.',
      'site',
    );
  }
}
