import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { defaults, environments, type Settings } from '../config/settings.js';

/** Thrown when the configuration cannot work; the message says what to set. */
export class ConfigError extends Error {}

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres://').optional(),
  REDIS_URL: z.string().regex(/^(rediss?|redis\+sentinel):\/\//, 'must start with redis://, rediss:// or redis+sentinel://').optional(),
  REDIS_KEY_PREFIX: z.string().min(1).optional(),
  PHARMID_DATA_DIR: z.string().min(1).optional(),
  PHARMID_SECRET_KEY: z.string().optional(),
  COOKIE_KEYS: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  TRUST_PROXY: z.string().optional(),
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(8_192).max(1_048_576).optional(),
  ARGON2_TIME_COST: z.coerce.number().int().min(1).max(20).optional(),
  ARGON2_PARALLELISM: z.coerce.number().int().min(1).max(16).optional(),
  ARGON2_MAX_CONCURRENT: z.coerce.number().int().min(1).max(256).optional(),
  ARGON2_MAX_QUEUE: z.coerce.number().int().min(0).max(100_000).optional(),
  ARGON2_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).optional(),
  TOTP_ISSUER: z.string().min(1).max(64).regex(/^[^:]+$/, 'must not contain ":"').optional(),
  SESSION_TTL: z.coerce.number().int().min(60).optional(),
  SESSION_IDLE_TTL: z.coerce.number().int().min(1).optional(),
  CONSOLE_IDLE_TTL: z.coerce.number().int().min(1).optional(),
  BACKCHANNEL_LOGOUT_ATTEMPTS: z.coerce.number().int().min(1).max(10).optional(),
  BACKCHANNEL_LOGOUT_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).optional(),
  REFRESH_TOKEN_TTL: z.coerce.number().int().min(60).optional(),
  ACCESS_TOKEN_TTL: z.coerce.number().int().min(30).optional(),
  INTERACTION_TTL: z.coerce.number().int().min(1).optional(),
  KEYS_REFRESH_SECONDS: z.coerce.number().int().min(1).optional(),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
  MAIL_FROM: z.string().min(3).max(200).optional(),
  NOTICE_REMINDER_DAYS: z.coerce.number().int().min(1).max(90).optional(),
  NOTICES_INTERVAL_SECONDS: z.coerce.number().int().min(1).optional(),
  PHARMID_PREVIOUS_SECRET_KEYS: z.string().optional(),
  OTP_MAX_FAILURES: z.coerce.number().int().min(1).max(100).optional(),
  OTP_LOCK_SECONDS: z.coerce.number().int().min(1).optional(),
  OTP_HARD_LIMIT: z.coerce.number().int().min(1).max(100).optional(),
  PASSWORD_FREE_FAILURES: z.coerce.number().int().min(1).optional(),
  ADDRESS_MAX_FAILURES: z.coerce.number().int().min(1).optional(),
  ATTEMPT_IN_FLIGHT_SECONDS: z.coerce.number().int().min(2).max(600).optional(),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 24)').optional(),
});

export type Environment = z.infer<typeof envSchema>['NODE_ENV'];

export interface Config {
  env: Environment;
  port: number;
  /**
   * Where /metrics is served: on its own port (METRICS_PORT, and never on the
   * public one), or on the public port behind a bearer token (METRICS_TOKEN).
   * With neither, production serves it nowhere and development openly.
   */
  metrics: { port?: number; token?: string; open: boolean };
  issuer: string;
  databaseUrl?: string;
  redisUrl?: string;
  redisKeyPrefix: string;
  dataDir: string;
  /** AES-256-GCM key that encrypts secrets at rest. */
  secretKey: Buffer;
  /** Earlier keys, still able to open what they sealed until `pharmid secrets rekey` has run. */
  previousSecretKeys: Buffer[];
  cookieKeys: string[];
  logLevel: string;
  /**
   * Proxy hops in front of pharmid that add X-Forwarded-For (0: none; the
   * socket's address counts). With N, the address counted and audited is the
   * one the outermost of those N proxies saw: the Nth entry from the right.
   */
  trustProxy: number;
  secureCookies: boolean;
  argon2: Settings['argon2'] & { maxConcurrent: number };
  totp: Settings['totp'];
  recoveryCodes: Settings['recoveryCodes'];
  activationCodeTtl: number;
  ttl: Settings['ttl'];
  throttle: Settings['throttle'];
  keysRefresh: number;
  /** SMTP when set; otherwise notices are written to an outbox folder in the data directory. */
  smtpUrl?: string;
  notices: Settings['notices'];
  backchannelLogout: Settings['backchannelLogout'];
}

function merge(base: Settings, over: object): Settings {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = (base as Record<string, unknown>)[k];
    out[k] = b && typeof b === 'object' && v && typeof v === 'object' ? { ...b, ...v } : v;
  }
  return out as Settings;
}

function parseSecretKey(value: string, name: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== 32) throw new ConfigError(`${name} must be 32 bytes, base64-encoded (try: openssl rand -base64 32)`);
  return key;
}

interface DevSecrets { secretKey: string; cookieKeys: string[] }

/** Development and test only: secrets kept in the data directory so processes sharing it agree. */
function loadDevSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, 'secrets.json');
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  if (!existsSync(file)) {
    const fresh: DevSecrets = {
      secretKey: randomBytes(32).toString('base64'),
      cookieKeys: [randomBytes(32).toString('base64url')],
    };
    try {
      writeFileSync(file, JSON.stringify(fresh, null, 2), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
}

/**
 * TRUST_PROXY is a number of hops. "true" once meant "believe whatever
 * X-Forwarded-For says", which let any caller choose the address its
 * failures are counted against; it is refused so that nobody keeps it by accident.
 */
function parseTrustProxy(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (value === 'false') return 0;
  if (/^\d+$/.test(value) && Number(value) <= 10) return Number(value);
  if (value === 'true') {
    throw new ConfigError('pharmid cannot start: TRUST_PROXY=true is no longer accepted; give the number of proxy hops in front of pharmid (TRUST_PROXY=1 behind one load balancer, 0 or unset when clients connect directly)');
  }
  throw new ConfigError('pharmid cannot start: TRUST_PROXY must be the number of proxy hops in front of pharmid, 0 to 10 (1 behind one load balancer)');
}

/** Reads settings and the environment once; the only reader of process.env. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`pharmid cannot start; fix these settings:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const s = merge(defaults, environments[e.NODE_ENV]);
  const port = e.PORT ?? s.port;
  const dataDir = resolve(e.PHARMID_DATA_DIR ?? s.dataDir);

  let secretKey: Buffer;
  let cookieKeys: string[];
  if (e.NODE_ENV === 'production') {
    if (!e.PHARMID_SECRET_KEY) throw new ConfigError('PHARMID_SECRET_KEY is required in production (32 bytes, base64: openssl rand -base64 32)');
    if (!e.COOKIE_KEYS) throw new ConfigError('COOKIE_KEYS is required in production (comma-separated random secrets; the first signs)');
    if (!e.ISSUER) throw new ConfigError('ISSUER is required in production (the public https URL of pharmid)');
  }
  const needDev = !e.PHARMID_SECRET_KEY || !e.COOKIE_KEYS;
  const dev = needDev ? loadDevSecrets(dataDir) : undefined;
  secretKey = parseSecretKey(e.PHARMID_SECRET_KEY ?? dev!.secretKey, 'PHARMID_SECRET_KEY');
  cookieKeys = (e.COOKIE_KEYS ?? dev!.cookieKeys.join(',')).split(',').map((k) => k.trim()).filter(Boolean);
  if (cookieKeys.length === 0) throw new ConfigError('COOKIE_KEYS must list at least one secret');
  // pharmid serves plain HTTP: in production a TLS-terminating proxy is in front, and without
  // trusting its X-Forwarded-Proto no cookie could be marked Secure (every sign-in would fail).
  if (e.NODE_ENV === 'production' && !parseTrustProxy(e.TRUST_PROXY, 0)) {
    throw new ConfigError('TRUST_PROXY is required in production: the number of proxy hops in front of pharmid (1 behind one TLS-terminating load balancer)');
  }

  const config: Config = {
    env: e.NODE_ENV,
    port,
    metrics: { port: e.METRICS_PORT, token: e.METRICS_TOKEN, open: e.NODE_ENV !== 'production' && !e.METRICS_TOKEN },
    issuer: (e.ISSUER ?? `http://localhost:${port}`).replace(/\/$/, ''),
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX ?? s.redisKeyPrefix,
    dataDir,
    secretKey,
    previousSecretKeys: (e.PHARMID_PREVIOUS_SECRET_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean)
      .map((k) => parseSecretKey(k, 'PHARMID_PREVIOUS_SECRET_KEYS')),
    cookieKeys,
    logLevel: e.LOG_LEVEL ?? s.logLevel,
    trustProxy: parseTrustProxy(e.TRUST_PROXY, s.trustProxy),
    secureCookies: s.secureCookies,
    argon2: {
      memoryKiB: e.ARGON2_MEMORY_KIB ?? s.argon2.memoryKiB,
      timeCost: e.ARGON2_TIME_COST ?? s.argon2.timeCost,
      parallelism: e.ARGON2_PARALLELISM ?? s.argon2.parallelism,
      maxConcurrent: e.ARGON2_MAX_CONCURRENT ?? availableParallelism(),
      maxQueue: e.ARGON2_MAX_QUEUE ?? s.argon2.maxQueue,
      perAddress: e.ARGON2_PER_ADDRESS ?? s.argon2.perAddress,
    },
    totp: { ...s.totp, issuer: e.TOTP_ISSUER ?? s.totp.issuer },
    recoveryCodes: s.recoveryCodes,
    activationCodeTtl: s.activationCodeTtl,
    keysRefresh: e.KEYS_REFRESH_SECONDS ?? s.keysRefresh,
    smtpUrl: e.SMTP_URL,
    notices: {
      reminderDays: e.NOTICE_REMINDER_DAYS ?? s.notices.reminderDays,
      interval: e.NOTICES_INTERVAL_SECONDS ?? s.notices.interval,
      from: e.MAIL_FROM ?? s.notices.from,
    },
    backchannelLogout: {
      ...s.backchannelLogout,
      attempts: e.BACKCHANNEL_LOGOUT_ATTEMPTS ?? s.backchannelLogout.attempts,
      timeoutMs: e.BACKCHANNEL_LOGOUT_TIMEOUT_MS ?? s.backchannelLogout.timeoutMs,
    },
    throttle: {
      ...s.throttle,
      secondFactorFailures: e.OTP_MAX_FAILURES ?? s.throttle.secondFactorFailures,
      secondFactorLock: e.OTP_LOCK_SECONDS ?? s.throttle.secondFactorLock,
      secondFactorHardLimit: e.OTP_HARD_LIMIT ?? s.throttle.secondFactorHardLimit,
      passwordFreeFailures: e.PASSWORD_FREE_FAILURES ?? s.throttle.passwordFreeFailures,
      addressFailures: e.ADDRESS_MAX_FAILURES ?? s.throttle.addressFailures,
      inFlightSeconds: e.ATTEMPT_IN_FLIGHT_SECONDS ?? s.throttle.inFlightSeconds,
    },
    ttl: {
      ...s.ttl,
      session: e.SESSION_TTL ?? s.ttl.session,
      sessionIdle: e.SESSION_IDLE_TTL ?? s.ttl.sessionIdle,
      consoleIdle: e.CONSOLE_IDLE_TTL ?? s.ttl.consoleIdle,
      refreshToken: e.REFRESH_TOKEN_TTL ?? s.ttl.refreshToken,
      grant: Math.max(s.ttl.grant, e.REFRESH_TOKEN_TTL ?? 0),
      accessToken: e.ACCESS_TOKEN_TTL ?? s.ttl.accessToken,
      interaction: e.INTERACTION_TTL ?? s.ttl.interaction,
    },
  };
  return Object.freeze(config);
}
