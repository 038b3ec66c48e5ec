import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';

const secretKey = randomBytes(32).toString('base64');
const full = { PHARMID_SECRET_KEY: secretKey, COOKIE_KEYS: 'one,two' };

let dataDir: string;
beforeEach(() => { dataDir = mkdtempSync(join(tmpdir(), 'pharmid-config-')); });
afterEach(() => { rmSync(dataDir, { recursive: true, force: true }); });

function failure(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected loadConfig to fail');
}

describe('production', () => {
  const prod = { NODE_ENV: 'production', ISSUER: 'https://id.example.nhs.uk', PHARMID_DATA_DIR: '' };

  test('without PHARMID_SECRET_KEY it fails, naming the setting and how to make one', () => {
    const e = failure({ NODE_ENV: 'production', ISSUER: 'https://id.example.nhs.uk', COOKIE_KEYS: 'k', PHARMID_DATA_DIR: dataDir });
    expect(e.message).toMatch(/PHARMID_SECRET_KEY/);
    expect(e.message).toMatch(/openssl rand -base64 32/);
    // No secret was generated into the data directory in production.
    expect(existsSync(join(dataDir, 'secrets.json'))).toBe(false);
  });

  test('without COOKIE_KEYS or ISSUER it fails naming each', () => {
    expect(failure({ ...prod, PHARMID_SECRET_KEY: secretKey, PHARMID_DATA_DIR: dataDir }).message).toMatch(/COOKIE_KEYS/);
    expect(failure({ NODE_ENV: 'production', ...full, PHARMID_DATA_DIR: dataDir }).message).toMatch(/ISSUER/);
  });

  test('a secret key that is not 32 bytes is refused', () => {
    const e = failure({ ...prod, ...full, PHARMID_SECRET_KEY: randomBytes(16).toString('base64'), PHARMID_DATA_DIR: dataDir });
    expect(e.message).toMatch(/PHARMID_SECRET_KEY must be 32 bytes/);
  });

  test('without TRUST_PROXY it fails, asking for the number of proxy hops', () => {
    const e = failure({ ...prod, ...full, PHARMID_DATA_DIR: dataDir });
    expect(e.message).toMatch(/TRUST_PROXY is required in production/);
    expect(e.message).toMatch(/number of proxy hops/);
  });

  test('with everything set: secure cookies, the proxy hops given, the given key', () => {
    const c = loadConfig({ ...prod, ...full, PHARMID_DATA_DIR: dataDir, TRUST_PROXY: '1' });
    expect(c.env).toBe('production');
    expect(c.secureCookies).toBe(true);
    expect(c.trustProxy).toBe(1);
    expect(loadConfig({ ...prod, ...full, PHARMID_DATA_DIR: dataDir, TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(c.secretKey.equals(Buffer.from(secretKey, 'base64'))).toBe(true);
    expect(c.cookieKeys).toEqual(['one', 'two']);
    expect(c.issuer).toBe('https://id.example.nhs.uk');
  });
});

describe('TRUST_PROXY is a number of hops', () => {
  test('unset is 0; a number is taken; "true" is refused with a message that asks for the hops', () => {
    expect(loadConfig({ ...full, PHARMID_DATA_DIR: dataDir }).trustProxy).toBe(0);
    expect(loadConfig({ ...full, PHARMID_DATA_DIR: dataDir, TRUST_PROXY: '2' }).trustProxy).toBe(2);
    const e = failure({ ...full, PHARMID_DATA_DIR: dataDir, TRUST_PROXY: 'true' });
    expect(e.message).toMatch(/TRUST_PROXY/);
    expect(e.message).toMatch(/number of proxy hops/);
    expect(failure({ ...full, PHARMID_DATA_DIR: dataDir, TRUST_PROXY: 'yes' }).message).toMatch(/TRUST_PROXY/);
  });
});

describe('bad values fail with the setting named', () => {
  test.each(['abc', '70000', '-1', '3.5'])('PORT=%s', (port) => {
    const e = failure({ ...full, PORT: port, PHARMID_DATA_DIR: dataDir });
    expect(e.message).toMatch(/PORT/);
    expect(e.message).toMatch(/cannot start/);
  });

  test('DATABASE_URL that is not postgres://', () => {
    expect(failure({ ...full, DATABASE_URL: 'mysql://x', PHARMID_DATA_DIR: dataDir }).message).toMatch(/DATABASE_URL: must start with postgres:\/\//);
  });

  test('REDIS_URL, NODE_ENV and ISSUER', () => {
    expect(failure({ ...full, REDIS_URL: 'http://x' }).message).toMatch(/REDIS_URL/);
    expect(failure({ ...full, NODE_ENV: 'staging' }).message).toMatch(/NODE_ENV/);
    expect(failure({ ...full, ISSUER: 'ftp://x' }).message).toMatch(/ISSUER/);
  });

  test('COOKIE_KEYS with no secret in it', () => {
    expect(failure({ PHARMID_SECRET_KEY: secretKey, COOKIE_KEYS: ' , ', PHARMID_DATA_DIR: dataDir }).message).toMatch(/COOKIE_KEYS/);
  });
});

describe('defaults', () => {
  test('development: port 3000, issuer from the port, prefix, TTLs, TOTP', () => {
    const c = loadConfig({ ...full, PHARMID_DATA_DIR: dataDir });
    expect(c.env).toBe('development');
    expect(c.port).toBe(3000);
    expect(c.issuer).toBe('http://localhost:3000');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.redisKeyPrefix).toBe('pharmid:');
    expect(c.secureCookies).toBe(false);
    expect(c.totp).toEqual({ issuer: 'pharmid', digits: 6, period: 30, window: 1 });
    expect(c.ttl.refreshToken).toBe(12 * 3600);
    expect(c.dataDir).toBe(dataDir);
  });

  test('the default data directory is .data', () => {
    const c = loadConfig({ ...full });
    expect(c.dataDir).toBe(join(process.cwd(), '.data'));
  });

  test('PORT sets the issuer; ISSUER loses a trailing slash', () => {
    expect(loadConfig({ ...full, PORT: '4123' }).issuer).toBe('http://localhost:4123');
    expect(loadConfig({ ...full, PORT: '4123' }).port).toBe(4123);
    expect(loadConfig({ ...full, ISSUER: 'https://id.example.nhs.uk/' }).issuer).toBe('https://id.example.nhs.uk');
  });

  test('the environment overrides settings', () => {
    const c = loadConfig({ ...full, REFRESH_TOKEN_TTL: '86400', TOTP_ISSUER: 'Pharm ID', LOG_LEVEL: 'warn' });
    expect(c.ttl.refreshToken).toBe(86400);
    expect(c.ttl.grant).toBe(86400);
    expect(c.totp.issuer).toBe('Pharm ID');
    expect(c.logLevel).toBe('warn');
  });

  test('the config is frozen', () => {
    const c = loadConfig({ ...full });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('development without secrets generates them once into the data directory, shared by later loads', () => {
    const a = loadConfig({ PHARMID_DATA_DIR: dataDir });
    const file = join(dataDir, 'secrets.json');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(a.secretKey).toHaveLength(32);
    expect(a.cookieKeys.length).toBeGreaterThan(0);
    const b = loadConfig({ PHARMID_DATA_DIR: dataDir });
    expect(b.secretKey.equals(a.secretKey)).toBe(true);
    expect(b.cookieKeys).toEqual(a.cookieKeys);
    expect(JSON.parse(readFileSync(file, 'utf8')).secretKey).toBe(a.secretKey.toString('base64'));
  });
});
