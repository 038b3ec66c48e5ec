import type { Pool } from '../db/pool.js';
import type { KeyValueStore } from '../store/key-value-store.js';
import type { Counters } from '../store/counters.js';
import type { Config } from '../config.js';
import type { Sealer } from './secrets.js';
import type { PasswordHasher } from './passwords.js';
import type { Mailer } from '../mail/mailer.js';

/** What the domain services need, built once by the composition root. */
export interface Deps {
  db: Pool;
  store: KeyValueStore;
  counters: Counters;
  sealer: Sealer;
  passwords: PasswordHasher;
  /** Notices to people (SMTP, or the outbox folder). */
  mailer: Mailer;
  settings: Pick<Config, 'env' | 'issuer' | 'totp' | 'recoveryCodes' | 'activationCodeTtl' | 'throttle'>;
  /** The clock: tests move it; everything that depends on time asks it. */
  now: () => Date;
}
