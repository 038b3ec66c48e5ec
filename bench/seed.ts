import { Secret, TOTP } from 'otpauth';
import type { Config } from '../src/config.js';
import { buildDeps } from '../src/backends.js';
import { createPool } from '../src/db/pool.js';
import { RedisStore } from '../src/store/redis-store.js';
import { PasswordHasher } from '../src/domain/passwords.js';
import { addSite } from '../src/domain/sites.js';
import { createUser } from '../src/domain/users.js';
import { beginEnrolment, confirmEnrolment } from '../src/domain/factors/authenticators.js';
import { registerClient } from '../src/domain/clients.js';
import * as totpCredentials from '../src/db/queries/totp-credentials.js';
import * as passkeys from '../src/db/queries/passkeys.js';
import type { Deps } from '../src/domain/deps.js';
import { BenchPasskey } from './passkey-key.js';

export const PERIOD_MS = 30_000;
export const stepAt = (ms: number) => Math.floor(ms / PERIOD_MS);

export interface BenchUser {
  email: string;
  password: string;
  totp: TOTP;
  /** The latest TOTP time step pharmid accepted from this person; the next code must be later. */
  lastStep: number;
  /** A passkey with user verification, on a security key (not synced): for passkey-alone sign-ins. */
  passkey: BenchPasskey;
}

export interface BenchClient { clientId: string; clientSecret: string; redirectUri: string }

/**
 * Seeding hashes each distinct password once: every person gets the same
 * password, so one argon2id hash (same parameters, own salt) serves all. The
 * server still verifies it in full at every sign-in; only the set-up is cheaper.
 */
class HashOnceHasher extends PasswordHasher {
  private readonly made = new Map<string, Promise<string>>();
  override hash(password: string, from: string | undefined): Promise<string> {
    let h = this.made.get(password);
    if (!h) {
      h = super.hash(password, from);
      this.made.set(password, h);
    }
    return h;
  }
}

const cli = { kind: 'cli' } as const;
const PASSWORD = 'plum orchard lantern benchmark';
/** Never visited: the bench reads the code from the redirect. https, so production accepts it too. */
const REDIRECT_URI = 'https://portal.bench.invalid/callback';

/**
 * A passkey for the person, as a registration would store it: a key for the
 * issuer's RP ID, its public key written straight to the table (the
 * registration ceremony is not what is measured, and would email the person).
 */
async function seedPasskey(deps: Deps, userId: string): Promise<BenchPasskey> {
  const issuer = new URL(deps.settings.issuer);
  const key = new BenchPasskey(issuer.hostname, issuer.origin);
  await passkeys.insertPasskey(deps.db, {
    userId, credentialId: key.credentialId.toString('base64url'), publicKey: key.cose, signCount: 0, transports: ['usb'],
    deviceType: 'singleDevice', backedUp: false, name: 'Bench key',
  });
  return key;
}

async function seedUser(deps: Deps, ods: string, n: number): Promise<BenchUser> {
  const email = `bench.${String(n).padStart(5, '0')}@example.nhs.uk`;
  const { user } = await createUser(deps, cli, { email, name: `Bench Person ${n}`, site: ods, password: PASSWORD });
  const passkey = await seedPasskey(deps, user.id);
  const credentialId = await beginEnrolment(deps, user.id);
  const row = await totpCredentials.findTotpCredential(deps.db, credentialId, user.id);
  const totp = new TOTP({ secret: Secret.fromBase32(deps.sealer.open(row!.secret_sealed)), digits: 6, period: 30, algorithm: 'SHA1' });
  // Confirm with the previous step's code (inside the ±1 window) so the person
  // can sign in with the current code at once.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const at = Date.now() - (attempt === 0 ? PERIOD_MS : 0);
    try {
      await confirmEnrolment(deps, user.id, credentialId, totp.generate({ timestamp: at }));
      return { email, password: PASSWORD, totp, lastStep: stepAt(at), passkey };
    } catch (err) {
      if (attempt === 2) throw err;
    }
  }
  throw new Error('unreachable');
}

/**
 * A site, `count` people with a password, a confirmed authenticator and a passkey, and one
 * first-party portal, made with pharmid's own domain functions against the
 * server's database, Redis prefix and secret key.
 */
export async function seed(config: Config, count: number, parallel = 8): Promise<{ users: BenchUser[]; client: BenchClient }> {
  const pool = createPool(config.databaseUrl!, parallel + 2);
  const store = await new RedisStore(config.redisUrl!, config.redisKeyPrefix).connect();
  try {
    const deps: Deps = { ...buildDeps(config, pool, store), passwords: new HashOnceHasher(config.argon2) };
    // A GP practice: pharmacies have a cap on active people by default.
    const site = await addSite(deps, cli, { ods: 'B99001', name: 'Bench Practice', kind: 'gp-practice' });
    const client = await registerClient(deps, cli, { name: 'Bench portal', redirectUris: [REDIRECT_URI], firstParty: true });
    const users: BenchUser[] = new Array(count);
    let next = 0;
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (next < count) {
        const n = next++;
        users[n] = await seedUser(deps, site.ods_code, n);
      }
    }));
    return { users, client: { clientId: client.client_id, clientSecret: client.client_secret!, redirectUri: REDIRECT_URI } };
  } finally {
    await store.close();
    await pool.end();
  }
}

/**
 * Hands out people whose last accepted TOTP step is before the current one,
 * least recently used first. When every person has signed in during this
 * step it waits for the next (and counts the stall): pharmid would rightly
 * refuse a second code from the same step.
 */
export class UserPool {
  private readonly queue: BenchUser[];
  stalls = 0;
  stalledMs = 0;

  constructor(users: BenchUser[]) { this.queue = [...users]; }

  async take(): Promise<BenchUser> {
    for (let i = 0; i < 10; i += 1) {
      const step = stepAt(Date.now());
      const idx = this.queue.findIndex((u) => u.lastStep < step);
      if (idx >= 0) return this.queue.splice(idx, 1)[0]!;
      this.stalls += 1;
      const wait = (step + 1) * PERIOD_MS - Date.now() + 5;
      const started = performance.now();
      await new Promise((r) => setTimeout(r, wait));
      this.stalledMs += performance.now() - started;
    }
    throw new Error('no person is free to sign in (too few users for this rate; raise --users)');
  }

  give(user: BenchUser): void { this.queue.push(user); }
}
