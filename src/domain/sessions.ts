import { withTransaction } from '../db/pool.js';
import * as users from '../db/queries/users.js';
import { audit, type Actor } from './audit.js';
import type { Deps } from './deps.js';

/** One pharmid sign-in session (one browser), as its owner sees it on the account page. */
export interface SessionSummary {
  /** The session's stable id (not its cookie value, which is a secret). */
  id: string;
  signedInAt: Date;
  lastActiveAt?: Date;
  /** When it ends unless used again (the idle timeout), never after the absolute lifetime. */
  expiresAt: Date;
  /** The User-Agent header of the browser that signed in. */
  userAgent?: string;
  acr?: string;
  /** The portals this session signed in to. */
  portals: { clientId: string; name: string }[];
}

/** Enough of a cookie jar to read one signed cookie (Koa's ctx.cookies fits). */
export interface CookieReader {
  get(name: string, opts?: { signed?: boolean }): string | undefined;
}

/**
 * A person's sign-in sessions: listed, and ended one at a time or all at
 * once. Ending one tells every portal that took part (back-channel logout)
 * and revokes their tokens. Implemented over oidc-provider in
 * src/oidc/sign-in-sessions.ts; the account and admin pages use this contract.
 */
export interface SignInSessions {
  list(userId: string): Promise<SessionSummary[]>;
  /** Using pharmid's own pages counts as using the session: its idle timeout starts again. */
  touch(sessionId: string): Promise<void>;
  /** The session of the browser that sent these cookies, when it is live. */
  currentId(cookies: CookieReader): Promise<string | undefined>;
  /** False when there is no such live session of this person. */
  end(actor: Actor, userId: string, sessionId: string): Promise<boolean>;
  /** Ends every session (this browser's too) and refuses every token issued before now; returns how many sessions were live. */
  endAll(actor: Actor, userId: string): Promise<number>;
  /**
   * Ends every session of the person but `keep` (after a credential change
   * made in it): their portals are told and their grants revoked. Returns
   * how many were ended. Tokens are refused by the change itself
   * (users.tokens_revoked_at), those of offline grants included.
   */
  endOthers(actor: Actor, userId: string, keep: string, reason: string): Promise<number>;
}

/**
 * From now on no earlier sign-in of this person counts: sessions, page
 * sessions and refresh tokens from before are refused (the revocation time
 * checked on every use).
 */
export async function refuseEarlierSignIns(deps: Deps, actor: Actor, userId: string, details: Record<string, unknown> = {}): Promise<void> {
  await withTransaction(deps.db, async (tx) => {
    await users.revokeUserSessions(tx, userId);
    await audit(tx, actor, { action: 'session.end-all', outcome: 'success', targetUser: userId, details });
  });
}
