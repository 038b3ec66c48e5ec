import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Sign-ins (and refresh chains) in flight at once. */
  concurrency: number;
  /** Length of one measured run. */
  seconds: number;
  runs: number;
  /** Unmeasured sign-ins first, so JIT, pools and caches are warm. */
  warmupSeconds: number;
  /** Length of one argon2 ceiling run. */
  ceilingSeconds: number;
  /** People to seed; by default enough that none signs in twice in one 30 s TOTP step. */
  users?: number;
  json: boolean;
  /** Sequential sign-ins (and refresh grants) whose CPU is read around every request; 0 for none. */
  breakdown: number;
  /**
   * Run the server with NODE_ENV=production (cached templates, secure
   * cookies, trusted proxy headers): the bench then plays the TLS-terminating
   * proxy, sending X-Forwarded-Proto: https to an https issuer.
   */
  production: boolean;
  /** When set, the server runs with --cpu-prof and writes its profile here. */
  profileDir?: string;
  /** Length of the flood from one address (0: none), and its wrong passwords in flight. */
  floodSeconds: number;
  floodConcurrency: number;
  /** Only the flood: skip the throughput runs. */
  floodOnly: boolean;
}

export const USAGE = `npm run bench -- [--concurrency 4] [--seconds 10] [--runs 3] [--warmup 3]
                    [--ceiling-seconds 5] [--users N] [--breakdown 50] [--json] [--production] [--profile DIR]
                    [--flood-seconds 10] [--flood-concurrency 200] [--flood-only]`;

function positive(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`--${name} must be a number from 1 to ${max}`);
  return n;
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      concurrency: { type: 'string' },
      seconds: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      'ceiling-seconds': { type: 'string' },
      users: { type: 'string' },
      breakdown: { type: 'string' },
      json: { type: 'boolean', default: false },
      production: { type: 'boolean', default: false },
      profile: { type: 'string' },
      'flood-seconds': { type: 'string' },
      'flood-concurrency': { type: 'string' },
      'flood-only': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  return {
    concurrency: Math.floor(positive('concurrency', values.concurrency, 4, 256)),
    seconds: positive('seconds', values.seconds, 10, 600),
    runs: Math.floor(positive('runs', values.runs, 3, 20)),
    warmupSeconds: values.warmup === '0' ? 0 : positive('warmup', values.warmup, 3, 120),
    ceilingSeconds: positive('ceiling-seconds', values['ceiling-seconds'], 5, 120),
    users: values.users === undefined ? undefined : Math.floor(positive('users', values.users, 0, 100_000)),
    json: values.json ?? false,
    breakdown: values.breakdown === '0' ? 0 : Math.floor(positive('breakdown', values.breakdown, 50, 10_000)),
    production: values.production ?? false,
    profileDir: values.profile,
    floodSeconds: values['flood-seconds'] === '0' ? 0 : positive('flood-seconds', values['flood-seconds'], 10, 120),
    floodConcurrency: Math.floor(positive('flood-concurrency', values['flood-concurrency'], 200, 2_000)),
    floodOnly: values['flood-only'] ?? false,
  };
}
