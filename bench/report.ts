import type { MachineInfo } from './cpu.js';
import type { CeilingRuns } from './phases.js';
import type { RunSummary } from './load.js';
import { PASSKEY_PREFIX, type StepCost } from './breakdown.js';
import { round } from './stats.js';

/** CPU milliseconds spent per operation, by process. */
export interface CpuPerOp {
  server?: number;
  /** The server's event-loop thread; the rest of `server` is libuv's pool (argon2, signing) and V8's helpers (GC). */
  serverMainThread?: number;
  loadGenerator: number; postgres: number; redis: number;
  /** Processes that are not the bench's (other work on the machine, other databases). */
  other?: number;
  machine?: number;
  serverCoresBusy?: number; otherCoresBusy?: number; machineCoresBusy?: number;
}

export interface Phase {
  runs: RunSummary[];
  /** Median over runs. */
  perSecond: number;
  /** Over every operation of every run. */
  p50Ms: number;
  p99Ms: number;
  failed: number;
  errors: Record<string, number>;
  cpuMsPerOp: CpuPerOp;
}

export interface BenchReport {
  machine: MachineInfo;
  argon2: { type: 'argon2id'; memoryKiB: number; timeCost: number; parallelism: number; serverMaxConcurrent: number };
  options: { env: string; breakdown: number; concurrency: number; seconds: number; runs: number; warmupSeconds: number; users: number };
  ceiling: CeilingRuns & {
    concurrency: number;
    /** Wall time of one verify alone. */
    singleMs: number;
    /** cores × 1000 / cpuMsPerVerify: the ceiling of an otherwise idle machine, from CPU cost alone. */
    idealPerSecond: number;
  };
  /** Cores other processes kept busy while the bench waited, before measuring. */
  foreignCoresBeforeStart?: number;
  signIns: Phase & {
    /** Median over the quiet runs (all runs when none was quiet) of sign-ins/s ÷ the ceiling measured just before. */
    shareOfCeiling: number;
    shareFrom: string;
    runShares: number[];
    /** Whether other processes left the machine alone during the run and its ceiling run. */
    quietRuns: boolean[];
    /** Median sign-ins/s ÷ median ceiling. */
    shareOfMedians: number;
    /**
     * The share the CPU spent allows, whatever else the machine was doing:
     * argon2id CPU per verify ÷ CPU per sign-in (server, Postgres, Redis, and
     * with or without the load generator).
     */
    cpuShareOfCeiling: { withLoadGenerator?: number; serverSide?: number };
    target: number;
    meetsTarget: boolean;
    /** Median ms per kind of request within one sign-in. */
    stepsMs: Record<string, number>;
    userStalls: number;
  };
  refreshGrants: Phase;
  /** Passkey-alone sign-ins (no password, so no argon2), with the median ms per kind of request. */
  passkeySignIns: Phase & { stepsMs: Record<string, number> };
  /** CPU per request of a sign-in (and of a refresh grant), one at a time. */
  stepCpuMs?: Record<string, StepCost>;
  server: {
    pid: number; rssMiB?: number; peakRssMiB?: number; profileDir?: string;
    /** When profiling: each phase's start and end on the monotonic clock, in µs, as the .cpuprofile's timestamps are. */
    profileWindowsUs?: Record<string, [number, number]>;
  };
}

const f = (n: number | undefined, d = 1) => (n === undefined || Number.isNaN(n) ? '-' : round(n, d).toFixed(d));

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

function phaseRows(name: string, p: Phase, shares?: number[], quiet?: boolean[]): string[][] {
  return [
    ...p.runs.map((r, i) => [
      `${name} run ${i + 1}`, f(r.perSecond), f(r.p50Ms), f(r.p99Ms), String(r.completed), String(r.failed), f(r.foreignCores, 2),
      shares ? `${f(shares[i]! * 100)} %${quiet?.[i] === false ? '*' : ' '}` : '',
    ]),
    [`${name} (median of runs)`, f(p.perSecond), f(p.p50Ms), f(p.p99Ms), String(p.runs.reduce((a, r) => a + r.completed, 0)), String(p.failed), '', ''],
  ];
}

/**
 * Operations per second one core could do, from the CPU they cost: server
 * (every thread), Postgres and Redis; the load generator is not counted.
 */
export function perCore(c: CpuPerOp): number | undefined {
  return c.server === undefined ? undefined : 1000 / (c.server + c.postgres + c.redis);
}

function cpuLine(c: CpuPerOp): string {
  return `server ${f(c.server)} (event loop ${f(c.serverMainThread)}, other threads ${f(c.server === undefined || c.serverMainThread === undefined ? undefined : c.server - c.serverMainThread)}) · load generator ${f(c.loadGenerator)} · postgres ${f(c.postgres)} · redis ${f(c.redis)} · not ours ${f(c.other)}`
    + ` · whole machine ${f(c.machine)} (cores busy: server ${f(c.serverCoresBusy, 2)}, not ours ${f(c.otherCoresBusy, 2)}, machine ${f(c.machineCoresBusy, 2)})`;
}

export function formatReport(r: BenchReport): string {
  const s = r.signIns;
  const lines = [
    `pharmid bench — ${r.machine.cores} cores, ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, node ${r.machine.node} (${r.machine.platform})`,
    `argon2id m=${r.argon2.memoryKiB} KiB t=${r.argon2.timeCost} p=${r.argon2.parallelism}; server allows ${r.argon2.serverMaxConcurrent} at once`,
    `NODE_ENV=${r.options.env}, concurrency ${r.options.concurrency}, ${r.options.runs} runs of ${r.options.seconds} s after ${r.options.warmupSeconds} s warm-up, ${r.options.users} people`,
    '',
    table([
      ['', 'per s', 'p50 ms', 'p99 ms', 'done', 'failed', "others' cores", 'of ceiling'],
      ...r.ceiling.runs.map((c, i) => [`argon2id verify ceiling run ${i + 1}`, f(c.perSecond), '', '', '', '', f(c.foreignCores, 2), '']),
      ['argon2id verify ceiling (median)', f(r.ceiling.perSecond), '', '', '', '', '', ''],
      ...phaseRows('MFA sign-in', s, s.runShares, s.quietRuns),
      ...phaseRows('refresh grant', r.refreshGrants),
      ...phaseRows('passkey sign-in', r.passkeySignIns),
    ]),
    '',
    ...(s.quietRuns.some((q) => !q) ? ['* other processes took CPU during this run or its ceiling run (≥ 0.1 cores)'] : []),
    `sign-ins/s as a share of the argon2id ceiling: ${f(s.shareOfCeiling * 100)} % (median of ${s.shareFrom}; target ≥ ${s.target * 100} %: ${s.meetsTarget ? 'met' : 'NOT met'}); `
      + `median sign-ins/s ÷ median ceiling: ${f(s.shareOfMedians * 100)} %`,
    `CPU-bound share (argon2 CPU a verify ÷ CPU a sign-in): ${f((s.cpuShareOfCeiling.withLoadGenerator ?? Number.NaN) * 100)} % with the load generator, `
      + `${f((s.cpuShareOfCeiling.serverSide ?? Number.NaN) * 100)} % server, Postgres and Redis alone`,
    `argon2id: ${f(r.ceiling.cpuMsPerVerify)} ms CPU a verify, ${f(r.ceiling.singleMs)} ms wall alone; ceiling measured with ${r.ceiling.concurrency} at once; `
      + `on an idle machine it would be ${f(r.ceiling.idealPerSecond)}/s`,
    `sign-in steps, median ms: ${Object.entries(s.stepsMs).map(([k, v]) => `${k} ${f(v)}`).join(' · ')}`,
    `CPU ms per sign-in: ${cpuLine(s.cpuMsPerOp)}`,
    `CPU ms per refresh grant: ${cpuLine(r.refreshGrants.cpuMsPerOp)}`,
    `passkey sign-in (no password) steps, median ms: ${Object.entries(r.passkeySignIns.stepsMs).map(([k, v]) => `${k} ${f(v)}`).join(' · ')}`,
    `CPU ms per passkey sign-in: ${cpuLine(r.passkeySignIns.cpuMsPerOp)}`,
    `one core's worth (server, Postgres and Redis CPU; load generator excluded): ${f(perCore(s.cpuMsPerOp))} password + code sign-ins/s, `
      + `${f(perCore(r.passkeySignIns.cpuMsPerOp))} passkey sign-ins/s`,
    `pharmid server RSS after the run: ${f(r.server.rssMiB)} MiB (peak ${f(r.server.peakRssMiB)} MiB)`,
  ];
  if (r.stepCpuMs) {
    const steps = Object.entries(r.stepCpuMs);
    const signInSteps = steps.filter(([k]) => k !== 'refresh grant' && !k.startsWith(PASSKEY_PREFIX));
    const passkeySteps = steps.filter(([k]) => k.startsWith(PASSKEY_PREFIX));
    const sumOf = (list: [string, StepCost][]) => (pick: (c: StepCost) => number) => list.reduce((a, [, c]) => a + pick(c), 0);
    const total = sumOf(signInSteps);
    const passkeyTotal = sumOf(passkeySteps);
    const row = (name: string, c: Pick<StepCost, 'serverEventLoop' | 'serverOtherThreads' | 'postgres' | 'redis'> & { wallMs?: number }) => [
      name, f(c.serverEventLoop, 2), f(c.serverOtherThreads, 2), f(c.postgres, 2), f(c.redis, 2),
      f(c.serverEventLoop + c.serverOtherThreads + c.postgres + c.redis, 2), f(c.wallMs),
    ];
    lines.push('', `CPU ms per request, one sign-in at a time (mean of ${r.options.breakdown}):`, table([
      ['', 'event loop', 'server threads', 'postgres', 'redis', 'total', 'wall ms'],
      ...signInSteps.map(([k, c]) => row(k, c)),
      row('whole sign-in', {
        serverEventLoop: total((c) => c.serverEventLoop), serverOtherThreads: total((c) => c.serverOtherThreads),
        postgres: total((c) => c.postgres), redis: total((c) => c.redis), wallMs: total((c) => c.wallMs),
      }),
      ...steps.filter(([k]) => k === 'refresh grant').map(([k, c]) => row(k, c)),
      ...passkeySteps.map(([k, c]) => row(k, c)),
      ...(passkeySteps.length ? [row('whole passkey sign-in', {
        serverEventLoop: passkeyTotal((c) => c.serverEventLoop), serverOtherThreads: passkeyTotal((c) => c.serverOtherThreads),
        postgres: passkeyTotal((c) => c.postgres), redis: passkeyTotal((c) => c.redis), wallMs: passkeyTotal((c) => c.wallMs),
      })] : []),
    ]));
    const cpuOf = (t: typeof total) => t((c) => c.serverEventLoop + c.serverOtherThreads + c.postgres + c.redis);
    if (passkeySteps.length) {
      lines.push(`one at a time, one core's worth: ${f(1000 / cpuOf(total))} password + code sign-ins/s, ${f(1000 / cpuOf(passkeyTotal))} passkey sign-ins/s`);
    }
  }
  const foreign = Math.max(r.foreignCoresBeforeStart ?? 0, s.cpuMsPerOp.otherCoresBusy ?? 0, r.refreshGrants.cpuMsPerOp.otherCoresBusy ?? 0, r.passkeySignIns.cpuMsPerOp.otherCoresBusy ?? 0);
  if (foreign > 0.05) lines.push(`warning: processes that are not the bench's kept up to ${f(foreign, 2)} cores busy; the figures are low by that much`);
  if (s.userStalls) lines.push(`warning: ${s.userStalls} waits for a person with an unused TOTP step; raise --users`);
  for (const [name, p] of [['sign-in', s], ['refresh', r.refreshGrants], ['passkey sign-in', r.passkeySignIns]] as const) {
    for (const [msg, n] of Object.entries(p.errors)) lines.push(`${name} errors ×${n}: ${msg}`);
  }
  if (r.server.profileDir) {
    const w = Object.entries(r.server.profileWindowsUs ?? {}).map(([k, [a, b]]) => `${k} ${a}..${b}`).join(', ');
    lines.push(`server CPU profile written to ${r.server.profileDir} (windows, monotonic µs: ${w}); summarise: node dist/bench/profile-summary.js FILE --window ${r.server.profileWindowsUs?.signIns?.join(':') ?? ''}`);
  }
  return lines.join('\n');
}
