import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/** The event a back-channel logout token carries (OpenID Connect Back-Channel Logout 1.0, section 2.4). */
export const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** The token is not a valid logout token for this portal: answer 400 (section 2.8). */
export class LogoutTokenRejected extends Error {}

/** Remembers the jti of each accepted logout token until it expires, so none is accepted twice. */
export class ReplayCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** True when this jti was new (and is now remembered). */
  claim(jti: string, until: number): boolean {
    const t = this.now();
    for (const [id, exp] of this.seen) if (exp <= t) this.seen.delete(id);
    if (this.seen.has(jti)) return false;
    this.seen.set(jti, until);
    return true;
  }
}

export interface LogoutTokenCheck {
  /** pharmid's published keys (createRemoteJWKSet of its jwks_uri). */
  keys: JWTVerifyGetKey;
  issuer: string;
  clientId: string;
  replay: ReplayCache;
  /** How old (by iat) a logout token may be. */
  maxAgeSeconds?: number;
  clockToleranceSeconds?: number;
}

export interface LogoutClaims { sub?: string; sid?: string; jti: string }

/**
 * Validates a logout token as section 2.6 of the specification asks: the
 * signature against pharmid's JWKS, `iss`, `aud`, `iat` (and `exp` if
 * present), the `events` claim, `sid` or `sub`, no `nonce`, and a `jti` not
 * seen before. Throws LogoutTokenRejected with the reason.
 */
export async function validateLogoutToken(token: string, check: LogoutTokenCheck): Promise<LogoutClaims> {
  const maxAge = check.maxAgeSeconds ?? 120;
  let payload: JWTPayload;
  let typ: string | undefined;
  try {
    const verified = await jwtVerify(token, check.keys, {
      issuer: check.issuer,
      audience: check.clientId,
      algorithms: ['RS256', 'PS256', 'ES256'],
      maxTokenAge: maxAge,
      clockTolerance: check.clockToleranceSeconds ?? 30,
      requiredClaims: ['iat', 'jti'],
    });
    payload = verified.payload;
    typ = verified.protectedHeader.typ;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // The keys could not be fetched: not the token's fault, and worth a retry.
    if (e.code === 'ERR_JWKS_TIMEOUT' || /fetch failed|ECONNREFUSED/.test(e.message ?? '')) throw err;
    throw new LogoutTokenRejected(`logout token rejected: ${e.code ?? 'invalid'}: ${(e.message ?? '').slice(0, 120)}`);
  }
  if (typ !== undefined && typ.toLowerCase() !== 'logout+jwt' && typ.toLowerCase() !== 'application/logout+jwt') {
    throw new LogoutTokenRejected('logout token rejected: wrong typ');
  }
  const events = payload.events as Record<string, unknown> | undefined;
  const event = events && typeof events === 'object' ? events[LOGOUT_EVENT] : undefined;
  if (!event || typeof event !== 'object' || Array.isArray(event)) throw new LogoutTokenRejected('logout token rejected: no back-channel logout event');
  if ('nonce' in payload) throw new LogoutTokenRejected('logout token rejected: a logout token has no nonce');
  const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
  const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
  if (!sid && !sub) throw new LogoutTokenRejected('logout token rejected: neither sid nor sub');
  const jti = String(payload.jti);
  const until = (payload.exp ?? payload.iat! + maxAge) * 1000 + 60_000;
  if (!check.replay.claim(jti, until)) throw new LogoutTokenRejected('logout token rejected: already used (jti replayed)');
  return { sub, sid, jti };
}
