import { listPolicies } from '../domain/rollout.js';
import { setPolicyAsAdmin } from '../domain/admin/rollout.js';
import { OPERATOR } from '../domain/authorization.js';
import { readiness, REASON_WORDS, type SiteReadiness } from '../domain/readiness.js';
import { sendDueNotices } from '../domain/notices.js';
import { servedIssuer } from '../domain/clients.js';
import type { Mailer } from '../mail/mailer.js';
import type { RolloutScope } from '../db/queries/rollout-policies.js';
import type { Command } from './commands.js';
import { many, one, opt, UsageError } from './flags.js';
import { InvalidInput } from '../domain/errors.js';

/** The rollout commands; `notices send` needs the deployment's mailer and issuer. */
export function rolloutCommands(mailing: () => { mailer: Mailer; reminderDays: number; issuer: string; issuerSet: boolean }): Command[] {
  return [...ROLLOUT_COMMANDS, {
    name: 'notices send',
    usage: 'notices send   (sends the rollout notices now due; every server also does this on a timer)',
    options: {},
    async run(deps) {
      const { mailer, reminderDays, issuer, issuerSet } = mailing();
      // Without ISSUER here, the address the server itself serves (not this shell's default).
      const served = issuerSet ? issuer : (await servedIssuer(deps)) ?? issuer;
      return { sent: await sendDueNotices(deps, mailer, { reminderDays, issuer: served }), via: mailer.kind, issuer: served };
    },
    say: (r) => `${r.sent} notices sent (${r.via}), naming ${r.issuer}`,
  }];
}

/** The domain names the field a message is about; on the command line that field is a flag. */
function withFlag(err: unknown): never {
  if (err instanceof InvalidInput && err.field) throw new InvalidInput(`${err.message} (--${err.field.replace(/_/g, '-')})`, err.field);
  throw err;
}

const ROLLOUT_COMMANDS: Command[] = [
  {
    name: 'rollout set',
    usage: 'rollout set --scope global|site|client [--site CODE] [--client-id ID] --state off|announced|grace|enforced [--enforce-on YYYY-MM-DD] [--max-skips N] [--require mfa|phr]',
    options: { scope: {}, site: {}, 'client-id': {}, state: {}, 'enforce-on': {}, 'max-skips': {}, require: {} },
    async run(deps, _actor, f) {
      const scope = one(f, 'scope');
      const maxSkips = opt(f, 'max-skips');
      if (maxSkips !== undefined && !/^\d+$/.test(maxSkips)) throw new UsageError('--max-skips takes a whole number');
      const p = await setPolicyAsAdmin(deps, { principal: OPERATOR }, {
        scope: scope as RolloutScope, site: opt(f, 'site'), clientId: opt(f, 'client-id'), state: one(f, 'state'),
        enforceOn: opt(f, 'enforce-on'), maxSkips: maxSkips === undefined ? undefined : Number(maxSkips), require: opt(f, 'require'),
      }).catch(withFlag);
      return { id: p.id, scope: p.scope, state: p.state, enforce_on: p.enforce_on?.toISOString() ?? null, max_skips: p.max_skips, require: p.require };
    },
    say: (r) => `rollout policy (${r.scope}) is now ${r.state}${r.enforce_on ? `, enforced from ${String(r.enforce_on).slice(0, 10)}` : ''}${r.require === 'phr' ? ', requiring a passkey or security key' : ''}`,
  },
  {
    name: 'rollout list',
    usage: 'rollout list',
    options: {},
    async run(deps) {
      const rows = await listPolicies(deps);
      return {
        policies: rows.map((p) => ({
          scope: p.scope, site: p.ods_code, client_id: p.client_id, portal: p.client_name, state: p.state,
          enforce_on: p.enforce_on?.toISOString() ?? null, max_skips: p.max_skips, require: p.require,
        })),
      };
    },
    say: (r) => {
      const list = r.policies as { scope: string; site: string | null; portal: string | null; state: string; enforce_on: string | null; require: string }[];
      if (!list.length) return 'no rollout policies: MFA is enforced everywhere';
      return list.map((p) => `${p.scope}${p.site ? ` ${p.site}` : ''}${p.portal ? ` ${p.portal}` : ''}: ${p.state}${p.enforce_on ? ` until ${p.enforce_on.slice(0, 10)}` : ''}${p.require === 'phr' ? ' (passkeys)' : ''}`).join('\n');
    },
  },
  {
    name: 'readiness',
    usage: 'readiness [--site CODE ...]',
    options: { site: { many: true } },
    async run(deps, _actor, f) {
      const sites = many(f, 'site');
      return { sites: await readiness(deps, sites.length ? sites : undefined) };
    },
    say: (r) => (r.sites as SiteReadiness[]).map((s) => [
      `${s.ods} ${s.name}: ${s.ready} of ${s.people} ready`,
      ...s.notReady.map((p) => `  ${p.email} (${p.name}): ${p.reasons.map((r) => REASON_WORDS[r]).join(', ')}`),
    ].join('\n')).join('\n') || 'no sites',
  },
];
