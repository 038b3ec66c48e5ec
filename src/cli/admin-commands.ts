import { readFile, stat } from 'node:fs/promises';
import type { Command } from './commands.js';
import { many, one, opt, type Flags } from './flags.js';
import { OPERATOR, loadPrincipal, type Principal } from '../domain/authorization.js';
import type { Actor } from '../domain/audit.js';
import { InvalidInput } from '../domain/errors.js';
import { grantOrgRole, listOrgRoleHolders, revokeOrgRole } from '../domain/org-roles.js';
import { importUsers, type ImportReport } from '../domain/user-import.js';
import { enablePerson, unlinkPerson, type AdminRequest } from '../domain/admin/people.js';
import { updateSiteAsAdmin } from '../domain/admin/sites.js';
import { siteAuditCsv } from '../domain/admin/audit-trail.js';
import { requireUser } from '../domain/users.js';
import type { Deps } from '../domain/deps.js';

/**
 * Administration from the command line. The operator ({kind: 'cli'}) goes
 * through the same authorization module as the console and the API (and is
 * allowed everything); every act is audited.
 */
async function asking(deps: Deps, actor: Actor): Promise<AdminRequest> {
  const principal: Principal = actor.kind === 'user' ? await loadPrincipal(deps, actor.id) : OPERATOR;
  return { principal };
}

function capFlag(v: string | undefined): number | null | undefined {
  if (v === undefined) return undefined;
  if (v.trim().toLowerCase() === 'none') return null;
  if (!/^\d{1,6}$/.test(v.trim())) throw new InvalidInput('--cap is a whole number of people, or none');
  return Number(v);
}

const MAX_IMPORT_BYTES = 5 * 1024 * 1024;

function sayImport(r: ImportReport): string {
  const lines = r.problems.map((p) => `  line ${p.line}: ${p.kind}: ${p.message}`);
  if (r.dry_run) {
    return [
      `dry run: ${r.rows} rows; ${r.people.filter((p) => !p.existing).length} new people, ${r.people.filter((p) => p.existing).length} new sites for existing people; nothing was written`,
      ...(lines.length ? [`${lines.length} problems (a real run would write nothing):`, ...lines] : ['no problems: a real run would write every row']),
    ].join('\n');
  }
  return [
    `imported ${r.rows} rows in one transaction; activation codes (give each to its person once):`,
    ...r.people.map((p) => `  ${p.email}  ${p.site}  ${p.role}  ${p.activation_code ?? '(existing account: linked)'}`),
  ].join('\n');
}

export const ADMIN_COMMANDS: Command[] = [
  {
    name: 'admin grant',
    usage: 'admin grant --email E --role helpdesk|commissioner|superadmin [--site CODE ...]',
    options: { email: {}, role: {}, site: { many: true } },
    async run(deps, actor, f) {
      const r = await grantOrgRole(deps, await asking(deps, actor), { email: one(f, 'email'), role: one(f, 'role'), sites: many(f, 'site') });
      return { id: r.user.id, email: r.user.email, role: r.role, sites: r.sites };
    },
    say: (r) => `${r.email} is now ${r.role}${(r.sites as string[]).length ? ` for ${(r.sites as string[]).join(', ')}` : ''}`,
  },
  {
    name: 'admin revoke',
    usage: 'admin revoke --email E --role helpdesk|commissioner|superadmin [--site CODE ...]',
    options: { email: {}, role: {}, site: { many: true } },
    async run(deps, actor, f) {
      const r = await revokeOrgRole(deps, await asking(deps, actor), { email: one(f, 'email'), role: one(f, 'role'), sites: many(f, 'site') });
      return { id: r.user.id, email: r.user.email, role: r.role, revoked: true };
    },
    say: (r) => `${r.email} is no longer ${r.role}${r.role === 'commissioner' ? ' (for the sites given)' : ''}`,
  },
  {
    name: 'admin list',
    usage: 'admin list',
    options: {},
    async run(deps, actor) {
      return { roles: await listOrgRoleHolders(deps, await asking(deps, actor)) };
    },
    say: (r) => {
      const list = r.roles as { email: string; role: string; sites: string[] }[];
      return list.length ? list.map((h) => `${h.role.padEnd(12)} ${h.email}${h.sites.length ? `  ${h.sites.join(' ')}` : ''}`).join('\n') : 'no organisation-wide roles granted';
    },
  },
  {
    name: 'user import',
    usage: 'user import FILE.csv [--dry-run]   (columns: email,name,site[,role])',
    options: { _: {}, 'dry-run': { switch: true } },
    async run(deps, actor, f) {
      const files = many(f, '_');
      if (files.length !== 1) throw new InvalidInput('Give one CSV file: pharmid user import FILE.csv [--dry-run]');
      const size = await stat(files[0]!).then((s) => s.size, () => { throw new InvalidInput(`Cannot read ${files[0]}`); });
      if (size > MAX_IMPORT_BYTES) throw new InvalidInput('The file is larger than 5 MB: split it');
      const report = await importUsers(deps, await asking(deps, actor), await readFile(files[0]!), { dryRun: f['dry-run'] === true });
      if (!report.dry_run && !report.written) {
        const first = report.problems.slice(0, 5).map((p) => `line ${p.line}: ${p.message}`).join('; ');
        throw new InvalidInput(`nothing was imported: ${report.problems.length} problems (${first}${report.problems.length > 5 ? '; …' : ''}); try --dry-run for the full list`);
      }
      return { ...report };
    },
    say: (r) => sayImport(r as unknown as ImportReport),
    found: (r) => (r as unknown as ImportReport).problems.length > 0,
  },
  {
    name: 'user enable',
    usage: 'user enable --email E',
    options: { email: {} },
    async run(deps, actor, f) {
      const user = await requireUser(deps, one(f, 'email'));
      const u = await enablePerson(deps, await asking(deps, actor), user.id);
      return { id: u.id, email: u.email, status: u.status };
    },
    say: (r) => `${r.email} may sign in again (${r.status})`,
  },
  {
    name: 'user unlink',
    usage: 'user unlink --email E --site CODE',
    options: { email: {}, site: {} },
    async run(deps, actor, f) {
      const user = await requireUser(deps, one(f, 'email'));
      await unlinkPerson(deps, await asking(deps, actor), user.id, one(f, 'site'));
      return { id: user.id, email: user.email, site: one(f, 'site').trim().toUpperCase(), removed: true };
    },
    say: (r) => `${r.email} no longer works at ${r.site}`,
  },
  {
    name: 'site update',
    usage: 'site update --ods CODE [--name NAME] [--address ADDRESS] [--cap N|none]',
    options: { ods: {}, name: {}, address: {}, cap: {} },
    async run(deps, actor, f) {
      const s = await updateSiteAsAdmin(deps, await asking(deps, actor), one(f, 'ods'), {
        name: opt(f, 'name'), address: opt(f, 'address'), userCap: capFlag(opt(f, 'cap')),
      });
      return { ods: s.ods, name: s.name, address: s.address, user_cap: s.userCap, active_people: s.activePeople };
    },
    say: (r) => `${r.ods} (${r.name}): ${r.active_people} active people, limit ${r.user_cap ?? 'none'}`,
  },
  {
    name: 'audit export',
    usage: 'audit export --site CODE [--action A] [--outcome success|failure|denied] [--email E] [--from YYYY-MM-DD] [--to YYYY-MM-DD]',
    options: { site: {}, action: {}, outcome: {}, email: {}, from: {}, to: {} },
    async run(deps, actor, f) {
      const { csv } = await siteAuditCsv(deps, await asking(deps, actor), one(f, 'site'), {
        action: opt(f, 'action'), outcome: opt(f, 'outcome'), email: opt(f, 'email'), from: opt(f, 'from'), to: opt(f, 'to'),
      });
      return { csv };
    },
    say: (r) => String(r.csv).trimEnd(),
  },
];
