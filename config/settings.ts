/**
 * pharmid's settings, per environment. `src/config.ts` starts from `defaults`,
 * lays the environment's overrides on top, then the process environment.
 * Durations are in seconds unless the name says otherwise.
 */
export const defaults = {
  port: 3000,
  dataDir: '.data',
  logLevel: 'info',
  /** Proxy hops in front of pharmid (TRUST_PROXY): 0, the socket's address is the caller's. */
  trustProxy: 0,
  redisKeyPrefix: 'pharmid:',
  /**
   * OWASP's minimum for argon2id (19 MiB, t=2, p=1): about 36 ms of CPU a hash.
   * At most `maxQueue` hashes wait behind the running ones (64 is about a second
   * of work on two cores) and one address holds at most `perAddress` places;
   * beyond either, a sign-in is answered 503 with Retry-After at once.
   */
  argon2: { memoryKiB: 19_456, timeCost: 2, parallelism: 1, maxQueue: 64, perAddress: 2 },
  totp: { issuer: 'pharmid', digits: 6, period: 30, window: 1 },
  recoveryCodes: { count: 10 },
  activationCodeTtl: 72 * 3600,
  ttl: {
    /** Absolute lifetime of a pharmid sign-in session. */
    session: 12 * 3600,
    /**
     * A session nobody has used for this long ends (a computer left signed in).
     * Use is any pharmid page or portal sign-in, and any refresh of a portal's tokens.
     */
    sessionIdle: 2 * 3600,
    /**
     * The admin console asks for the password and code again after this long
     * without a console page: it can reset colleagues, and dispensary PCs are shared.
     */
    consoleIdle: 15 * 60,
    interaction: 3600,
    authorizationCode: 60,
    accessToken: 15 * 60,
    idToken: 3600,
    refreshToken: 12 * 3600,
    grant: 12 * 3600,
  },
  secureCookies: false,
  /** How often a process looks for rotated signing keys. */
  keysRefresh: 60,
  /** MFA rollout notices: a reminder this many days before enforcement; each process looks this often. */
  notices: { reminderDays: 7, interval: 300, from: 'pharmid <no-reply@pharmid.localhost>' },
  /**
   * Back-channel logout delivery to each portal: tries, each with a timeout,
   * waiting `backoffMs`, then twice that, between them. The person's sign-out
   * waits for delivery, so the worst case (a portal that hangs) is bounded:
   * attempts × timeout plus the waits (about 7 s with these).
   */
  backchannelLogout: { attempts: 3, timeoutMs: 2000, backoffMs: 250 },
  /** Brute-force protection. Per-address limits count failures only, never successful sign-ins. */
  throttle: {
    /** Wrong passwords for one email before delays start; each further one doubles the delay. */
    passwordFreeFailures: 5,
    passwordMaxDelay: 15 * 60,
    /** Consecutive wrong codes (authenticator or recovery) before the code step locks. */
    secondFactorFailures: 5,
    secondFactorLock: 15 * 60,
    /**
     * Wrong codes within `secondFactorHardLimitPeriod` (a rolling period; the person's
     * right codes do not reset it) before only an administrator can unlock.
     */
    secondFactorHardLimit: 100,
    secondFactorHardLimitPeriod: 30 * 24 * 3600,
    activationFailures: 5,
    activationLock: 15 * 60,
    /** Failures of any kind from one address in the window before that address waits for the window to end. */
    addressFailures: 100,
    addressWindow: 15 * 60,
    /**
     * How long a try counts as being checked: longer than any request. A try
     * whose process died before settling stops holding its account after this.
     */
    inFlightSeconds: 60,
  },
};

export type Settings = typeof defaults;

type Overrides = { [K in keyof Settings]?: Partial<Settings[K]> | Settings[K] };

export const environments: Record<'development' | 'test' | 'production', Overrides> = {
  development: {},
  test: { logLevel: 'silent' },
  // Behind a load balancer, set TRUST_PROXY to the number of hops (1 for one balancer).
  production: { secureCookies: true },
};
