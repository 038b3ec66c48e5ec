import { randomBytes } from 'node:crypto';
import * as clients from '../db/queries/clients.js';
import type { ClientRow } from '../db/queries/clients.js';
import { Conflict, InvalidInput, NotFound } from './errors.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';

export interface ClientInput {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  backchannelLogoutUri?: string;
  firstParty?: boolean;
  public?: boolean;
  requireMfa?: boolean;
  /** For private_key_jwt: the portal's public keys, by URL or inline (a JWK Set). */
  jwksUri?: string;
  jwks?: { keys: Record<string, unknown>[] };
}

export interface RegisteredClient {
  client_id: string;
  client_secret?: string;
  name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  backchannel_logout_uri?: string;
  first_party: boolean;
  public: boolean;
  require_mfa: boolean;
  token_endpoint_auth_method: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Exact redirect URIs: absolute, no fragment; https, or http on loopback outside production. */
function checkUri(raw: string, field: string, production: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidInput(`${field}: "${raw.slice(0, 100)}" is not an absolute URL`, field);
  }
  if (url.hash) throw new InvalidInput(`${field}: a redirect URI must not have a #fragment`, field);
  const loopback = LOOPBACK.has(url.hostname);
  if (url.protocol === 'https:') return raw;
  if (url.protocol === 'http:' && loopback && !production) return raw;
  throw new InvalidInput(
    production ? `${field}: must use https in production` : `${field}: must use https (http is allowed only on localhost)`,
    field,
  );
}

function present(row: ClientRow, secret?: string): RegisteredClient {
  const m = row.metadata as { redirect_uris: string[]; post_logout_redirect_uris?: string[]; backchannel_logout_uri?: string; token_endpoint_auth_method: string };
  return {
    client_id: row.client_id,
    ...(secret ? { client_secret: secret } : {}),
    name: row.name,
    redirect_uris: m.redirect_uris,
    post_logout_redirect_uris: m.post_logout_redirect_uris ?? [],
    ...(m.backchannel_logout_uri ? { backchannel_logout_uri: m.backchannel_logout_uri } : {}),
    first_party: row.first_party,
    public: m.token_endpoint_auth_method === 'none',
    require_mfa: row.require_mfa,
    token_endpoint_auth_method: m.token_endpoint_auth_method,
  };
}

/**
 * A random client_id that starts with a letter or digit: one starting with "-"
 * (one base64url id in 64) is read as a flag by `pharmid client remove --client-id ID`.
 */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(12).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

export async function registerClient(deps: Deps, actor: Actor, input: ClientInput, context: { ip?: string } = {}): Promise<RegisteredClient> {
  const production = deps.settings.env === 'production';
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200) throw new InvalidInput('Enter a portal name of 1 to 200 characters', 'name');
  if (input.redirectUris.length === 0) throw new InvalidInput('Give at least one redirect URI', 'redirect_uri');
  const redirectUris = input.redirectUris.map((u) => checkUri(u, 'redirect_uri', production));
  const postLogout = (input.postLogoutRedirectUris ?? []).map((u) => checkUri(u, 'post_logout_redirect_uri', production));
  const backchannel = input.backchannelLogoutUri ? checkUri(input.backchannelLogoutUri, 'backchannel_logout_uri', production) : undefined;
  const isPublic = input.public ?? false;
  const keyAuth = Boolean(input.jwksUri || input.jwks);
  if (isPublic && keyAuth) throw new InvalidInput('A public portal has no keys: give either --public or a JWKS', 'jwks');
  if (input.jwks && (!Array.isArray(input.jwks.keys) || input.jwks.keys.length === 0)) throw new InvalidInput('jwks must be a JWK Set with keys', 'jwks');
  const jwksUri = input.jwksUri ? checkUri(input.jwksUri, 'jwks_uri', production) : undefined;
  const clientId = newClientId();
  const secret = isPublic || keyAuth ? undefined : randomBytes(32).toString('base64url');
  const authMethod = isPublic ? 'none' : keyAuth ? 'private_key_jwt' : 'client_secret_basic';
  const metadata = {
    client_name: name,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogout,
    ...(backchannel ? { backchannel_logout_uri: backchannel, backchannel_logout_session_required: true } : {}),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: authMethod,
    ...(jwksUri ? { jwks_uri: jwksUri } : {}),
    ...(input.jwks ? { jwks: input.jwks } : {}),
  };
  const row = await clients.insertClient(deps.db, {
    client_id: clientId,
    name,
    metadata,
    secret_sealed: secret ? deps.sealer.seal(secret) : null,
    first_party: input.firstParty ?? false,
    require_mfa: input.requireMfa ?? false,
  });
  await audit(deps.db, actor, { action: 'client.add', outcome: 'success', ip: context.ip, details: { client_id: clientId, name } });
  return present(row, secret);
}

export async function listRegisteredClients(deps: Deps): Promise<RegisteredClient[]> {
  return (await clients.listClients(deps.db)).map((r) => present(r));
}

export async function removeClient(deps: Deps, actor: Actor, clientId: string): Promise<void> {
  if (!(await clients.deleteClient(deps.db, clientId))) throw new NotFound(`No portal has client_id ${clientId}`);
  await audit(deps.db, actor, { action: 'client.remove', outcome: 'success', details: { client_id: clientId } });
}

/**
 * The metadata oidc-provider needs for a portal, secret included; undefined
 * for an unknown or disabled portal. `client_secret_post` is accepted as well
 * as basic, as the contract's relying parties use either.
 */
export async function clientMetadata(deps: Deps, clientId: string): Promise<Record<string, unknown> | undefined> {
  const row = await clients.findActiveClient(deps.db, clientId);
  if (!row) return undefined;
  return {
    ...row.metadata,
    client_id: row.client_id,
    ...(row.secret_sealed ? { client_secret: deps.sealer.open(row.secret_sealed) } : {}),
    'urn:pharmid:first_party': row.first_party,
    'urn:pharmid:require_mfa': row.require_mfa,
  };
}

/** pharmid's own pages (account, admin) sign people in as a first-party portal of pharmid. */
export const OWN_PORTAL_ID = 'pharmid';

/**
 * Registers (or updates, when the issuer changed) pharmid's own portal and
 * returns its secret. Every process shares the one registration.
 */
const OWN_CALLBACK = '/portal/callback';

export async function ensureOwnPortal(deps: Deps, issuer: string): Promise<string> {
  const metadata = {
    client_name: 'pharmid',
    redirect_uris: [`${issuer}${OWN_CALLBACK}`],
    post_logout_redirect_uris: [`${issuer}/portal/signed-out`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  const row = await clients.upsertBuiltInClient(deps.db, {
    client_id: OWN_PORTAL_ID,
    name: 'pharmid',
    metadata,
    secret_sealed: deps.sealer.seal(randomBytes(32).toString('base64url')),
    first_party: true,
    require_mfa: true,
  });
  return deps.sealer.open(row.secret_sealed!);
}

/**
 * The issuer the server last started with, read from its own portal's
 * registration: a CLI command run in another shell (`notices send`) may not
 * have the server's ISSUER in its environment, and must not put
 * http://localhost:3000 into a notice for lack of it.
 */
export async function servedIssuer(deps: Deps): Promise<string | undefined> {
  const row = await clients.findClient(deps.db, OWN_PORTAL_ID);
  const uri = (row?.metadata.redirect_uris as string[] | undefined)?.[0];
  return uri?.endsWith(OWN_CALLBACK) ? uri.slice(0, -OWN_CALLBACK.length) : undefined;
}

/** A portal as the admin console lists it: whether it is disabled, and when it was registered. */
export interface PortalListing extends RegisteredClient { disabled: boolean; created_at: Date; built_in: boolean }

export async function listPortals(deps: Deps): Promise<PortalListing[]> {
  return (await clients.listClients(deps.db)).map((r) => ({
    ...present(r), disabled: r.disabled_at !== null, created_at: r.created_at, built_in: r.client_id === OWN_PORTAL_ID,
  }));
}

async function requireChangeablePortal(deps: Deps, clientId: string): Promise<ClientRow> {
  const row = typeof clientId === 'string' && clientId.length <= 100 ? await clients.findClient(deps.db, clientId) : undefined;
  if (!row) throw new NotFound(`No portal has client_id ${String(clientId).slice(0, 100)}`);
  // Every process holds pharmid's own portal secret from its start: it is changed only by restarting.
  if (row.client_id === OWN_PORTAL_ID) throw new Conflict('pharmid\'s own portal (the account and admin pages) cannot be changed here');
  return row;
}

/** A new secret for a portal, shown once; the old one stops working at once. */
export async function rotateClientSecret(deps: Deps, actor: Actor, clientId: string, context: { ip?: string } = {}): Promise<RegisteredClient> {
  const row = await requireChangeablePortal(deps, clientId);
  const secret = randomBytes(32).toString('base64url');
  if (!(await clients.replaceClientSecret(deps.db, row.client_id, deps.sealer.seal(secret)))) {
    throw new Conflict(`${row.name} has no client secret (it is public or signs with its own keys)`);
  }
  await audit(deps.db, actor, { action: 'client.rotate-secret', outcome: 'success', ip: context.ip, details: { client_id: row.client_id, name: row.name } });
  return present(row, secret);
}

/** A disabled portal cannot start sign-ins, exchange codes, refresh, or have its tokens accepted. */
export async function setPortalDisabled(deps: Deps, actor: Actor, clientId: string, disabled: boolean, context: { ip?: string } = {}): Promise<void> {
  const row = await requireChangeablePortal(deps, clientId);
  if (!(await clients.setClientDisabled(deps.db, row.client_id, disabled))) {
    throw new Conflict(`${row.name} is already ${disabled ? 'disabled' : 'enabled'}`);
  }
  await audit(deps.db, actor, { action: disabled ? 'client.disable' : 'client.enable', outcome: 'success', ip: context.ip, details: { client_id: row.client_id, name: row.name } });
}
