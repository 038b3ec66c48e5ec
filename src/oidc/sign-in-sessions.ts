import type Provider from 'oidc-provider';
import type { Deps } from '../domain/deps.js';
import type { Actor } from '../domain/audit.js';
import { audit } from '../domain/audit.js';
import { findUser } from '../domain/accounts.js';
import { signInStillValid } from '../domain/sign-in.js';
import { OWN_PORTAL_ID } from '../domain/clients.js';
import { refuseEarlierSignIns, type CookieReader, type SessionSummary, type SignInSessions } from '../domain/sessions.js';
import { sendBackchannelLogout } from './backchannel.js';
import { extendSession, sessionIndexKey, sessionMetaKey, type SessionLimits, type SessionMeta } from './session-activity.js';

type LiveSession = NonNullable<Awaited<ReturnType<Provider['Session']['findByUid']>>>;
type TokenModel = { revokeByGrantId(grantId: string): Promise<void> };

async function findClient(provider: Provider, clientId: string) {
  try {
    return await provider.Client.find(clientId);
  } catch {
    return undefined;
  }
}

/** A grant and every token made under it, as oidc-provider revokes them at sign-out. */
async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
  const models = [provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode] as unknown as TokenModel[];
  const grantAdapter = (provider.Grant as unknown as { adapter: { destroy(id: string): Promise<void> } }).adapter;
  await Promise.all([...models.map((m) => m.revokeByGrantId(grantId)), grantAdapter.destroy(grantId)]);
}

/**
 * Ends one session as RP-initiated logout would: every portal that took part
 * is told by back-channel logout (failures are audited by the delivery, and
 * do not stop the sign-out), their grants and tokens are revoked, and the
 * session is destroyed.
 */
async function endSession(provider: Provider, deps: Deps, session: LiveSession): Promise<void> {
  const accountId = session.accountId!;
  await Promise.all(Object.entries(session.authorizations ?? {}).map(async ([clientId, auth]) => {
    const client = await findClient(provider, clientId);
    if (client) await sendBackchannelLogout(client, accountId, auth.sid).catch(() => {});
    if (auth.grantId && !auth.persistsLogout) await revokeGrant(provider, auth.grantId);
  }));
  await session.destroy();
  await deps.store.del(sessionMetaKey(session.uid));
}

/** The person's sessions that still count: live, theirs, and not older than an administrative reset. */
async function liveSessions(provider: Provider, deps: Deps, userId: string): Promise<LiveSession[]> {
  const user = await findUser(deps, userId);
  if (!user) return [];
  const uids = await deps.store.members(sessionIndexKey(userId));
  const found = await Promise.all(uids.map((uid) => provider.Session.findByUid(uid)));
  return found.filter((s): s is LiveSession => !!s && s.accountId === userId && signInStillValid(user, s.loginTs));
}

export function signInSessions(opts: { provider(): Provider; deps: Deps; limits: SessionLimits }): SignInSessions {
  const { deps } = opts;

  async function portalName(provider: Provider, clientId: string): Promise<string> {
    if (clientId === OWN_PORTAL_ID) return 'pharmid account pages';
    const client = await findClient(provider, clientId);
    return client?.clientName ?? 'A portal that has been removed';
  }

  return {
    async list(userId) {
      const provider = opts.provider();
      const sessions = await liveSessions(provider, deps, userId);
      const metas = sessions.length ? await deps.store.getMany(sessions.map((s) => sessionMetaKey(s.uid))) : [];
      const out: SessionSummary[] = await Promise.all(sessions.map(async (s, i) => {
        const meta = metas[i] ? (JSON.parse(metas[i]!) as SessionMeta) : undefined;
        const clientIds = Object.keys(s.authorizations ?? {});
        return {
          id: s.uid,
          signedInAt: new Date((s.loginTs ?? s.iat) * 1000),
          lastActiveAt: meta ? new Date(meta.lastActiveAt * 1000) : undefined,
          expiresAt: new Date(s.exp * 1000),
          userAgent: meta?.userAgent,
          acr: s.acr,
          portals: await Promise.all(clientIds.map(async (clientId) => ({ clientId, name: await portalName(provider, clientId) }))),
        };
      }));
      return out.sort((a, b) => (b.lastActiveAt ?? b.signedInAt).getTime() - (a.lastActiveAt ?? a.signedInAt).getTime());
    },

    async touch(sessionId: string) {
      await extendSession(opts.provider(), deps, opts.limits, sessionId).catch(() => {});
    },

    async currentId(cookies: CookieReader) {
      const provider = opts.provider();
      const id = cookies.get(provider.cookieName('session'), { signed: true });
      if (!id) return undefined;
      const session = await provider.Session.find<LiveSession>(id);
      return session?.accountId ? session.uid : undefined;
    },

    async end(actor: Actor, userId: string, sessionId: string) {
      const provider = opts.provider();
      const session = await provider.Session.findByUid(sessionId);
      if (!session || session.accountId !== userId) return false;
      await endSession(provider, deps, session);
      await audit(deps.db, actor, {
        action: 'session.end', outcome: 'success', targetUser: userId,
        details: { portals: Object.keys(session.authorizations ?? {}) },
      });
      return true;
    },

    async endOthers(actor: Actor, userId: string, keep: string, reason: string) {
      const provider = opts.provider();
      const others = (await liveSessions(provider, deps, userId)).filter((s) => s.uid !== keep);
      await Promise.all(others.map((s) => endSession(provider, deps, s)));
      await audit(deps.db, actor, {
        action: 'session.end-others', outcome: 'success', targetUser: userId, details: { reason, sessions: others.length },
      });
      return others.length;
    },

    async endAll(actor: Actor, userId: string) {
      const provider = opts.provider();
      const sessions = await liveSessions(provider, deps, userId);
      await Promise.all(sessions.map((s) => endSession(provider, deps, s)));
      await deps.store.del(sessionIndexKey(userId));
      await refuseEarlierSignIns(deps, actor, userId, { sessions: sessions.length });
      return sessions.length;
    },
  };
}
