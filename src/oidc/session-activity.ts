import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Deps } from '../domain/deps.js';

/** The two limits on a pharmid session, in seconds. */
export interface SessionLimits {
  /** Absolute: counted from the sign-in, whatever happens. */
  session: number;
  /** Idle: counted from the last use. */
  sessionIdle: number;
}

/** What pharmid keeps beside a session, for its owner's account page. */
export interface SessionMeta { userAgent?: string; lastActiveAt: number }

export const sessionIndexKey = (accountId: string) => `session-index:${accountId}`;
export const sessionMetaKey = (uid: string) => `session-meta:${uid}`;

const epoch = () => Math.floor(Date.now() / 1000);

/**
 * How long a session lives from now: the idle timeout, cut short so it
 * never outlives its sign-in by more than the absolute lifetime.
 * oidc-provider saves the session (with this TTL) on every request that uses
 * it, so each use starts the idle timeout again.
 */
export function sessionTtl(limits: SessionLimits, now: () => number = epoch) {
  return (_ctx: unknown, session: { loginTs?: number }): number => {
    const idle = Math.min(limits.sessionIdle, limits.session);
    if (!session.loginTs) return idle;
    return Math.max(1, Math.min(idle, session.loginTs + limits.session - now()));
  };
}

type LiveSession = NonNullable<Awaited<ReturnType<Provider['Session']['findByUid']>>>;

async function remember(deps: Deps, limits: SessionLimits, session: LiveSession, userAgent: string | undefined): Promise<void> {
  const meta: SessionMeta = { userAgent: userAgent?.slice(0, 300), lastActiveAt: epoch() };
  await Promise.all([
    deps.store.addToSet(sessionIndexKey(session.accountId!), session.uid, limits.session),
    deps.store.set(sessionMetaKey(session.uid), JSON.stringify(meta), limits.session),
  ]);
}

/**
 * A portal refreshing its tokens is the person at work: the session they
 * signed in with lives on (idle timeout starts again). Skipped when the
 * session was saved moments ago (within a minute, or a quarter of the idle
 * timeout), so a burst of refreshes from several portals writes once.
 * The session is saved whole, as read; a portal's sign-in saving it in the
 * same instant keeps its authorization because the store merges sessions'
 * authorizations (src/store/oidc-adapter.ts).
 */
export async function extendSession(provider: Provider, deps: Deps, limits: SessionLimits, sessionUid: string): Promise<void> {
  const session = await provider.Session.findByUid(sessionUid);
  if (!session?.accountId) return;
  const ttl = sessionTtl(limits)(undefined, session);
  if (epoch() + ttl - session.exp < Math.min(60, limits.sessionIdle / 4)) return;
  await session.save(ttl);
  const raw = await deps.store.get(sessionMetaKey(session.uid));
  const meta: SessionMeta = raw ? { ...(JSON.parse(raw) as SessionMeta), lastActiveAt: epoch() } : { lastActiveAt: epoch() };
  await deps.store.set(sessionMetaKey(session.uid), JSON.stringify(meta), limits.session);
}

/**
 * oidc-provider dates the session cookie to the session's expiry at this
 * response, that is one idle timeout away. A portal's refresh extends the
 * session in the store but cannot reach the browser's cookie, so the cookie
 * is dated to the absolute end instead: the store decides when the session
 * is over (the cookie only names it, and names nothing once it has gone).
 */
function dateSessionCookie(ctx: Koa.Context, cookieName: string, session: { loginTs?: number; transient?: boolean }, limits: SessionLimits): void {
  let cookies = ctx.response.get('set-cookie') as string | string[];
  if (!cookies || !session.loginTs || session.transient) return;
  if (typeof cookies === 'string') cookies = [cookies];
  const end = new Date((session.loginTs + limits.session) * 1000).toUTCString();
  const named = new RegExp(`^${cookieName}(?:\\.sig)?=`);
  ctx.set('set-cookie', cookies.map((c) => (named.test(c) && !c.includes('expires=Thu, 01 Jan 1970')
    ? `${c.replace(/;\s*expires=[^;]*/gi, '')}; expires=${end}`
    : c)));
}

/**
 * Runs after oidc-provider has answered (its session is saved by then):
 *  - a sign-in or SSO answered a portal: the session is indexed under its
 *    person, with the browser and the time, for the account page;
 *  - a refresh grant succeeded: its session's idle timeout starts again;
 *  - the session cookie, if set, lasts until the absolute end.
 */
export function trackSessions(provider: Provider, deps: Deps, limits: SessionLimits): void {
  provider.use(async (ctx, next) => {
    await next();
    const { oidc } = ctx as KoaContextWithOIDC;
    if (!oidc) return;
    const current = oidc.session as LiveSession | undefined;
    if (current) dateSessionCookie(ctx, provider.cookieName('session'), current, limits);
    if (ctx.status >= 400) return;
    // Bookkeeping: if the store fails here, the answer already made (a sign-in, new tokens) still stands.
    if (oidc.route === 'authorization' || oidc.route === 'resume') {
      const session = oidc.session as LiveSession | undefined;
      if (session?.accountId && !(session as { destroyed?: boolean }).destroyed) {
        await remember(deps, limits, session, ctx.get('user-agent') || undefined).catch(() => {});
      }
    } else if (oidc.route === 'token' && oidc.params?.grant_type === 'refresh_token') {
      const sessionUid = (oidc.entities.RefreshToken as { sessionUid?: string } | undefined)?.sessionUid;
      if (sessionUid) await extendSession(provider, deps, limits, sessionUid).catch(() => {});
    }
  });
}
