import { addSite } from '../domain/sites.js';
import { unlockAddress } from '../domain/address-waits.js';
import { createUser, disableUser, linkUser, resetMfa, resetPassword, unlockUser } from '../domain/users.js';
import { changeRoleIfLinked } from '../domain/people.js';
import { listRegisteredClients, registerClient, removeClient } from '../domain/clients.js';
import type { Actor } from '../domain/audit.js';
import { rekeySecrets } from '../domain/rekey.js';
import { rotateSigningKeys } from '../domain/signing-keys.js';
import type { Deps } from '../domain/deps.js';
import { many, one, opt, UsageError, type Flags } from './flags.js';
import { ADMIN_COMMANDS } from './admin-commands.js';

export { UsageError, type Flags };

export interface Command {
  /** `group verb`, as typed. */
  name: string;
  usage: string;
  /** Flags that take a value; `many` may be repeated. */
  options: Record<string, { many?: boolean; switch?: boolean }>;
  run(deps: Deps, actor: Actor, f: Flags): Promise<Record<string, unknown>>;
  /** One line (or a few) for people; --json prints the object itself. */
  say(result: Record<string, unknown>): string;
  /** True when the result reports problems (a dry run that found some): the command then exits 1. */
  found?(result: Record<string, unknown>): boolean;
}

export const COMMANDS: Command[] = [
  {
    name: 'site add',
    usage: 'site add --ods CODE --name NAME [--kind pharmacy|gp-practice|other]',
    options: { ods: {}, name: {}, kind: {} },
    async run(deps, actor, f) {
      const s = await addSite(deps, actor, { ods: one(f, 'ods'), name: one(f, 'name'), kind: opt(f, 'kind') });
      return { id: s.id, ods: s.ods_code, name: s.name, kind: s.kind };
    },
    say: (r) => `added site ${r.ods} (${r.name})`,
  },
  {
    name: 'user add',
    usage: 'user add --email E --name N --site CODE [--role member|site-admin] [--password P]',
    options: { email: {}, name: {}, site: {}, role: {}, password: {} },
    async run(deps, actor, f) {
      const { user, activationCode } = await createUser(deps, actor, {
        email: one(f, 'email'), name: one(f, 'name'), site: one(f, 'site'), role: opt(f, 'role'), password: opt(f, 'password'),
      });
      return {
        id: user.id, email: user.email, name: user.name, status: user.status, site: one(f, 'site').trim().toUpperCase(),
        role: opt(f, 'role') ?? 'member', ...(activationCode ? { activation_code: activationCode } : {}),
      };
    },
    say: (r) => r.activation_code
      ? `added ${r.email}; activation code (give it to them once): ${r.activation_code}`
      : `added ${r.email}`,
  },
  {
    name: 'user link',
    usage: 'user link --email E --site CODE [--role member|site-admin]',
    options: { email: {}, site: {}, role: {} },
    async run(deps, actor, f) {
      const input = { email: one(f, 'email'), site: one(f, 'site'), role: opt(f, 'role') };
      // Someone who already works at the site and is given another role: an explicit role change (audited as one,
      // and never leaving the site without an administrator), not a link that silently changes it.
      const changed = await changeRoleIfLinked(deps, actor, input);
      if (changed) return { id: changed.user.id, email: changed.user.email, site: changed.site, role: changed.role, role_changed: true };
      const r = await linkUser(deps, actor, input);
      return { id: r.user.id, email: r.user.email, site: r.site, role: r.role, ...(r.waiting ? { waiting_for_person: true } : {}) };
    },
    say: (r) => (r.waiting_for_person
      ? `${r.email} was emailed a code to confirm ${r.site} at their next sign-in`
      : `${r.email} now works at ${r.site} as ${r.role}`),
  },
  {
    name: 'user reset-mfa',
    usage: 'user reset-mfa --email E',
    options: { email: {} },
    async run(deps, actor, f) {
      const { user, activationCode, passkeysRemoved } = await resetMfa(deps, actor, one(f, 'email'));
      return { id: user.id, email: user.email, mfa: 'reset', activation_code: activationCode, passkeys_removed: passkeysRemoved ?? [] };
    },
    say: (r) => `${r.email} signs in with their password and the one-time code ${r.activation_code}, then sets up a new authenticator; their sessions have ended`
      + ((r.passkeys_removed as string[]).length ? `; passkeys and security keys removed: ${(r.passkeys_removed as string[]).join(', ')}` : ''),
  },
  {
    name: 'user reset-password',
    usage: 'user reset-password --email E',
    options: { email: {} },
    async run(deps, actor, f) {
      const { user, activationCode } = await resetPassword(deps, actor, one(f, 'email'));
      return { id: user.id, email: user.email, activation_code: activationCode };
    },
    say: (r) => `${r.email} chooses a new password with activation code ${r.activation_code}; their sessions have ended`,
  },
  {
    name: 'user disable',
    usage: 'user disable --email E',
    options: { email: {} },
    async run(deps, actor, f) {
      const u = await disableUser(deps, actor, one(f, 'email'));
      return { id: u.id, email: u.email, status: u.status };
    },
    say: (r) => `${r.email} is disabled; their sessions have ended`,
  },
  {
    name: 'user unlock',
    usage: 'user unlock --email E',
    options: { email: {} },
    async run(deps, actor, f) {
      const u = await unlockUser(deps, actor, one(f, 'email'));
      return { id: u.id, email: u.email, unlocked: true, addresses_lifted: u.addressesLifted };
    },
    say: (r) => {
      const lifted = r.addresses_lifted as string[];
      return `${r.email} may try their password and codes again${lifted.length ? `; lifted the wait on ${lifted.join(', ')}, where their tries were refused` : ''}`;
    },
  },
  {
    name: 'address unlock',
    usage: 'address unlock --ip ADDRESS',
    options: { ip: {} },
    async run(deps, actor, f) {
      const { address } = await unlockAddress(deps, actor, one(f, 'ip'));
      return { address, unlocked: true };
    },
    say: (r) => `the wait on ${r.address} is lifted: tries from it are counted afresh`,
  },
  {
    name: 'client add',
    usage: 'client add --name N --redirect-uri U [--redirect-uri U2] [--post-logout-redirect-uri U] [--backchannel-logout-uri U] [--first-party] [--public] [--require-mfa]',
    options: {
      name: {}, 'redirect-uri': { many: true }, 'post-logout-redirect-uri': { many: true }, 'backchannel-logout-uri': {},
      'first-party': { switch: true }, public: { switch: true }, 'require-mfa': { switch: true },
    },
    async run(deps, actor, f) {
      const c = await registerClient(deps, actor, {
        name: one(f, 'name'),
        redirectUris: many(f, 'redirect-uri'),
        postLogoutRedirectUris: many(f, 'post-logout-redirect-uri'),
        backchannelLogoutUri: opt(f, 'backchannel-logout-uri'),
        firstParty: f['first-party'] === true,
        public: f.public === true,
        requireMfa: f['require-mfa'] === true,
      });
      return { ...c };
    },
    say: (r) => [
      `registered ${r.name}`,
      `client_id:     ${r.client_id}`,
      r.client_secret ? `client_secret: ${r.client_secret}  (shown once: keep it in the portal's secret store)` : 'public client: no secret; the portal must use PKCE',
    ].join('\n'),
  },
  {
    name: 'client list',
    usage: 'client list',
    options: {},
    async run(deps) {
      return { clients: await listRegisteredClients(deps) };
    },
    say: (r) => {
      const list = r.clients as { client_id: string; name: string; redirect_uris: string[]; first_party: boolean }[];
      if (!list.length) return 'no portals registered';
      return list.map((c) => `${c.client_id}  ${c.name}${c.first_party ? ' (first-party)' : ''}  ${c.redirect_uris.join(' ')}`).join('\n');
    },
  },
  {
    name: 'client remove',
    usage: 'client remove --client-id ID',
    options: { 'client-id': {} },
    async run(deps, actor, f) {
      await removeClient(deps, actor, one(f, 'client-id'));
      return { client_id: one(f, 'client-id'), removed: true };
    },
    say: (r) => `removed portal ${r.client_id}`,
  },
  {
    name: 'keys rotate',
    usage: 'keys rotate',
    options: {},
    async run(deps, actor) {
      const r = await rotateSigningKeys(deps, actor);
      return { retired: r.retired, created: r.created };
    },
    say: (r) => `new signing keys ${(r.created as string[]).join(', ')} sign from now (each process picks them up within KEYS_REFRESH_SECONDS); ${r.retired} retired keys stay published until their tokens expire`,
  },
  {
    name: 'secrets rekey',
    usage: 'secrets rekey   (with PHARMID_SECRET_KEY=new and PHARMID_PREVIOUS_SECRET_KEYS=old)',
    options: {},
    async run(deps, actor) {
      return { key_id: deps.sealer.keyId, resealed: await rekeySecrets(deps, actor) };
    },
    say: (r) => `re-sealed under key ${r.key_id}: ${Object.entries(r.resealed as Record<string, number>).map(([k, n]) => `${n} ${k}`).join(', ')}`,
  },
  ...ADMIN_COMMANDS,
];
