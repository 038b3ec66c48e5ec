import { readFileSync, readdirSync } from 'node:fs';
import { median } from './stats.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
import { refresh, signIn, type SignInTarget } from './sign-in.js';
import type { UserPool } from './seed.js';
import { loadStopped } from './load.js';
import { passkeySignIn } from './passkey-sign-in.js';
import type { BenchPasskey } from './passkey-key.js';

/** How the breakdown names the requests of a passkey sign-in. */
export const PASSKEY_PREFIX = 'passkey: ';

/** CPU (ms, mean over the sample) one kind of request costs, by where it was spent; wall time is the median. */
export interface StepCost { serverEventLoop: number; serverOtherThreads: number; postgres: number; redis: number; wallMs: number }

function onCpuNs(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').split(' ')[0]);
  } catch {
    return 0;
  }
}

/**
 * Precise CPU clocks (schedstat, in ns) of the server's threads, of this
 * database's Postgres backends and of redis-server.
 */
class Clocks {
  private threads: number[] = [];
  private services: { pid: number; kind: 'postgres' | 'redis' }[] = [];

  constructor(private readonly serverPid: number, private readonly database: string) { this.rescan(); }

  rescan(): void {
    try {
      this.threads = readdirSync(`/proc/${this.serverPid}/task`).map(Number);
    } catch {
      this.threads = [];
    }
    this.services = [];
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const comm = readFileSync(`/proc/${e}/comm`, 'utf8').trim();
        if (comm.startsWith('redis-server')) this.services.push({ pid: Number(e), kind: 'redis' });
        else if (comm === 'postgres' && readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(` ${this.database} `)) this.services.push({ pid: Number(e), kind: 'postgres' });
      } catch {
        // Gone while we looked.
      }
    }
  }

  read(): { main: number; all: number; postgres: number; redis: number } {
    let all = 0;
    let main = 0;
    for (const tid of this.threads) {
      const ns = onCpuNs(`/proc/${this.serverPid}/task/${tid}/schedstat`);
      all += ns;
      if (tid === this.serverPid) main = ns;
    }
    const out = { main, all, postgres: 0, redis: 0 };
    for (const s of this.services) {
      try {
        for (const tid of readdirSync(`/proc/${s.pid}/task`)) out[s.kind] += onCpuNs(`/proc/${s.pid}/task/${tid}/schedstat`);
      } catch {
        // Gone.
      }
    }
    return out;
  }
}

/**
 * Sign-ins and refresh grants one at a time, reading every process's CPU
 * clock around each request: what each step costs, undisturbed by
 * concurrency (and, CPU being counted rather than time, little disturbed by
 * other work on the machine).
 */
export async function breakdown(target: SignInTarget, pool: UserPool, serverPid: number, database: string, count: number, key?: BenchPasskey): Promise<Record<string, StepCost>> {
  const clocks = new Clocks(serverPid, database);
  const samples: Record<string, StepCost[]> = {};
  let before = clocks.read();
  let started = 0;
  const probe = {
    before() { before = clocks.read(); started = performance.now(); },
    after(label: string) {
      const wallMs = performance.now() - started;
      const now = clocks.read();
      (samples[label] ??= []).push({
        serverEventLoop: (now.main - before.main) / 1e6,
        serverOtherThreads: (now.all - now.main - (before.all - before.main)) / 1e6,
        postgres: (now.postgres - before.postgres) / 1e6,
        redis: (now.redis - before.redis) / 1e6,
        wallMs,
      });
    },
  };
  const probed: SignInTarget = { ...target, probe };
  let token: string | undefined;
  for (let i = 0; i < count && !loadStopped(); i += 1) {
    clocks.rescan();
    const user = await pool.take();
    try {
      token = await signIn(probed, user, {});
    } finally {
      pool.give(user);
    }
  }
  for (let i = 0; i < count && token && !loadStopped(); i += 1) {
    probe.before();
    token = await refresh(target, token);
    probe.after('refresh grant');
  }
  // Passkey-alone sign-ins, their requests named apart ("passkey: token").
  const keyed: SignInTarget = { ...target, probe: { before: probe.before, after: (label: string) => probe.after(`${PASSKEY_PREFIX}${label}`) } };
  for (let i = 0; key && i < count && !loadStopped(); i += 1) {
    clocks.rescan();
    await passkeySignIn(keyed, key, {});
  }
  const out: Record<string, StepCost> = {};
  for (const [label, list] of Object.entries(samples)) {
    out[label] = {
      serverEventLoop: mean(list.map((s) => s.serverEventLoop)),
      serverOtherThreads: mean(list.map((s) => s.serverOtherThreads)),
      postgres: mean(list.map((s) => s.postgres)),
      redis: mean(list.map((s) => s.redis)),
      wallMs: median(list.map((s) => s.wallMs)),
    };
  }
  return out;
}
