import * as sites from '../db/queries/sites.js';
import type { SiteKind, SiteRow } from '../db/queries/sites.js';
import { Conflict, InvalidInput, NotFound } from './errors.js';
import { normaliseOds } from './ods.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';

export const SITE_KINDS: readonly SiteKind[] = ['pharmacy', 'gp-practice', 'other'];

export async function addSite(deps: Deps, actor: Actor, input: { ods: string; name: string; kind?: string }): Promise<SiteRow> {
  const odsCode = normaliseOds(input.ods);
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200) throw new InvalidInput('Enter a site name of 1 to 200 characters', 'name');
  const kind = (input.kind ?? 'pharmacy') as SiteKind;
  if (!SITE_KINDS.includes(kind)) throw new InvalidInput(`kind must be one of ${SITE_KINDS.join(', ')}`, 'kind');
  const site = await sites.insertSite(deps.db, { odsCode, name, kind });
  if (!site) throw new Conflict(`A site with ODS code ${odsCode} already exists`, 'ods');
  await audit(deps.db, actor, { action: 'site.add', outcome: 'success', siteId: site.id, details: { ods: odsCode } });
  return site;
}

export async function requireSite(deps: Deps, ods: string): Promise<SiteRow> {
  const odsCode = normaliseOds(ods);
  const site = await sites.findSiteByOds(deps.db, odsCode);
  if (!site) throw new NotFound(`No site has ODS code ${odsCode}`);
  return site;
}
