import { ceilingRun, type Argon2Probe } from './ceiling.js';
import { cpuBetween, snapshotCpu, type CpuSpent } from './cpu.js';
import { runFor, summarise, type RunResult } from './load.js';
import type { CpuPerOp, Phase } from './report.js';
import { median, percentile } from './stats.js';

const say = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

export interface Watched { pid: number; database: string }

function cpuPerOp(spent: CpuSpent[], ops: number): CpuPerOp {
  const sum = (pick: (c: CpuSpent) => number | undefined) => {
    const values = spent.map(pick);
    return values.some((v) => v === undefined) ? undefined : values.reduce<number>((a, v) => a + v!, 0);
  };
  const per = (v: number | undefined, d: number) => (v === undefined ? undefined : v / d);
  const wall = sum((c) => c.wallMs)!;
  return {
    server: per(sum((c) => c.serverMs), ops),
    serverMainThread: per(sum((c) => c.serverMainMs), ops),
    loadGenerator: sum((c) => c.benchMs)! / ops,
    postgres: sum((c) => c.postgresMs)! / ops,
    redis: sum((c) => c.redisMs)! / ops,
    other: per(sum((c) => c.otherMs), ops),
    machine: per(sum((c) => c.machineMs), ops),
    serverCoresBusy: per(sum((c) => c.serverMs), wall),
    otherCoresBusy: per(sum((c) => c.otherMs), wall),
    machineCoresBusy: per(sum((c) => c.machineMs), wall),
  };
}

/** A run is quiet when other processes took less than this many cores during it. */
export const QUIET_CORES = 0.1;

/** Cores that processes which are not the bench's kept busy during one stretch. */
const foreignCores = (c: CpuSpent) => (c.otherMs === undefined ? undefined : c.otherMs / c.wallMs);

async function measured(w: Watched, work: () => Promise<RunResult>) {
  const before = snapshotCpu(w.pid, w.database);
  const result = await work();
  const spent = cpuBetween(before, snapshotCpu(w.pid, w.database));
  return { result, spent };
}

function summarisePhase(results: RunResult[], spent: CpuSpent[]): Phase {
  const all = results.flatMap((r) => r.latencyMs);
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    runs: results.map((r, i) => ({ ...summarise(r), foreignCores: foreignCores(spent[i]!) })),
    perSecond: median(results.map((r) => r.perSecond)),
    p50Ms: median(all),
    p99Ms: percentile(all, 99),
    failed: results.reduce((a, r) => a + r.failed, 0),
    errors,
    cpuMsPerOp: cpuPerOp(spent, results.reduce((a, r) => a + r.finished, 0)),
  };
}

const line = (name: string, r: RunResult, c: CpuSpent) => `${name}: ${r.perSecond.toFixed(1)}/s, p50 ${median(r.latencyMs).toFixed(1)} ms, `
  + `p99 ${percentile(r.latencyMs, 99).toFixed(1)} ms${r.failed ? `, ${r.failed} failed` : ''}, others kept ${(foreignCores(c) ?? Number.NaN).toFixed(2)} cores busy`;

/** Runs of one operation (refresh grants), with the CPU every process spent on them. */
export async function phase(name: string, runs: number, seconds: number, concurrency: number, w: Watched, op: (worker: number) => Promise<void>): Promise<Phase> {
  const results: RunResult[] = [];
  const spent: CpuSpent[] = [];
  for (let i = 0; i < runs; i += 1) {
    const m = await measured(w, () => runFor(seconds, concurrency, op));
    results.push(m.result);
    spent.push(m.spent);
    say(line(`${name} run ${i + 1}/${runs}`, m.result, m.spent));
  }
  return summarisePhase(results, spent);
}

export interface CeilingRuns {
  runs: { perSecond: number; foreignCores?: number }[];
  perSecond: number;
  /** CPU of one verify, `concurrency` at once (this process's CPU over the runs ÷ verifies). */
  cpuMsPerVerify: number;
}

/**
 * Sign-in runs, each right after a ceiling run (argon2id alone, the server
 * idle), so that every pair sees the machine in the same state: on a machine
 * shared with other work, the per-run share is the figure to trust.
 */
export async function pairedSignIns(
  argon2: Argon2Probe, ceilingSeconds: number, runs: number, seconds: number, concurrency: number, w: Watched, op: (worker: number) => Promise<void>,
): Promise<{ ceiling: CeilingRuns; signIns: Phase; shares: number[]; quiet: boolean[] }> {
  const ceiling: CeilingRuns['runs'] = [];
  const results: RunResult[] = [];
  const spent: CpuSpent[] = [];
  const shares: number[] = [];
  const quiet: boolean[] = [];
  let verifies = 0;
  let verifyCpuMs = 0;
  for (let i = 0; i < runs; i += 1) {
    const before = snapshotCpu(w.pid, w.database);
    const c = await ceilingRun(argon2, ceilingSeconds);
    const cSpent = cpuBetween(before, snapshotCpu(w.pid, w.database));
    // The ceiling's own CPU is the bench's; whatever else ran was not ours.
    ceiling.push({ perSecond: c.perSecond, foreignCores: foreignCores(cSpent) });
    verifies += c.verifies;
    verifyCpuMs += c.cpuMs;
    const m = await measured(w, () => runFor(seconds, concurrency, op));
    results.push(m.result);
    spent.push(m.spent);
    shares.push(m.result.perSecond / c.perSecond);
    quiet.push([foreignCores(cSpent), foreignCores(m.spent)].every((f) => f === undefined || f < QUIET_CORES));
    say(`ceiling run ${i + 1}/${runs}: ${c.perSecond.toFixed(1)} verifies/s, others kept ${(foreignCores(cSpent) ?? Number.NaN).toFixed(2)} cores busy`);
    say(line(`sign-in run ${i + 1}/${runs}`, m.result, m.spent) + `; ${(100 * shares[i]!).toFixed(1)} % of the ceiling`);
  }
  return {
    ceiling: { runs: ceiling, perSecond: median(ceiling.map((c) => c.perSecond)), cpuMsPerVerify: verifyCpuMs / verifies },
    signIns: summarisePhase(results, spent),
    shares,
    quiet,
  };
}
