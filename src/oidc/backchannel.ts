import { setTimeout as delay } from 'node:timers/promises';
import type Provider from 'oidc-provider';
import type { Config } from '../config.js';
import type { Deps } from '../domain/deps.js';
import { audit } from '../domain/audit.js';

type Delivery = Config['backchannelLogout'];

/** What oidc-provider's Client offers for back-channel logout (not in its type definitions). */
interface LogoutCapableClient {
  clientId: string;
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid?: string): Promise<void>;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

type FetchOptions = RequestInit & { dispatcher?: unknown };

/**
 * oidc-provider's outgoing requests (back-channel logout, a portal's
 * jwks_uri). A logout token gets its own timeout. oidc-provider refuses
 * loopback and private addresses (SSRF protection); outside production a
 * portal on this machine (`localhost`, as registration allows there) is let
 * through, and nothing else is.
 */
export function outgoingFetch(opts: { allowLoopback: boolean; logoutTimeoutMs: number }) {
  return (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const options: FetchOptions = { ...(init as FetchOptions) };
    const url = new URL(input instanceof Request ? input.url : input);
    if (opts.allowLoopback && LOOPBACK.has(url.hostname)) delete options.dispatcher;
    if (options.body instanceof URLSearchParams && options.body.has('logout_token')) {
      options.signal = AbortSignal.timeout(opts.logoutTimeoutMs);
    }
    return fetch(input, options);
  };
}

/** The portal answered 4xx: it refused the token, and another copy would be refused too. */
function refusedByPortal(err: unknown): boolean {
  const status = (err as { response?: { status?: number } }).response?.status;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  return (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)).slice(0, 200);
}

/**
 * Every back-channel logout this provider sends (RP-initiated logout, and
 * sessions ended from the account page) is tried up to `attempts` times,
 * each with a fresh logout token, waiting a little longer each time. When
 * the last try fails the failure is audited, then reported to oidc-provider
 * (which emits `backchannel.error`).
 */
export function retryBackchannelLogout(provider: Provider, deps: Deps, delivery: Delivery, sleep: (ms: number) => Promise<unknown> = delay): void {
  const proto = (provider.Client as unknown as { prototype: LogoutCapableClient }).prototype;
  const deliverOnce = proto.backchannelLogout;
  proto.backchannelLogout = async function deliver(this: LogoutCapableClient, sub: string, sid?: string) {
    let attempt = 0;
    for (;;) {
      attempt += 1;
      try {
        await deliverOnce.call(this, sub, sid);
        return;
      } catch (err) {
        if (attempt >= delivery.attempts || refusedByPortal(err)) {
          await audit(deps.db, { kind: 'user', id: sub }, {
            action: 'logout.backchannel', outcome: 'failure', targetUser: sub,
            details: { client_id: this.clientId, sid: sid ?? null, attempts: attempt, reason: reason(err) },
          }).catch(() => {});
          throw err;
        }
        await sleep(delivery.backoffMs * 2 ** (attempt - 1));
      }
    }
  };
}

/** Tells one portal that the person signed out of this session (with retries; failures audited). */
export function sendBackchannelLogout(client: unknown, accountId: string, sid: string | undefined): Promise<void> {
  const c = client as LogoutCapableClient;
  return c.backchannelLogoutUri ? c.backchannelLogout(accountId, sid) : Promise.resolve();
}
