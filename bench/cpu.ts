import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem, availableParallelism } from 'node:os';

/** Linux accounts CPU in clock ticks of 1/100 s (CLK_TCK) on every platform we run on. */
const TICK_MS = 10;

/**
 * User + system CPU of one process (all its threads), in ms; with `tid`, of
 * that one thread (the main thread's id is the process id). Undefined once
 * it has gone.
 */
export function processCpuMs(pid: number, tid?: number): number | undefined {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/**
 * CPU of this database's Postgres backends (their process title names the
 * database) and of redis-server, in ms. Other Postgres processes (other
 * databases, background writers) are left to "other".
 */
export function serviceCpuMs(database: string): { postgres: number; redis: number } {
  const out = { postgres: 0, redis: 0 };
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const kind = comm === 'postgres' ? 'postgres' : comm.startsWith('redis-server') ? 'redis' : undefined;
      if (!kind) continue;
      if (kind === 'postgres' && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${database} `)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[kind] += (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** Busy CPU of the whole machine (all cores), in ms. */
export function machineBusyMs(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu  user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** Resident memory of a process now and at its peak, in MiB (from /proc/PID/status). */
export function processMemoryMiB(pid: number): { rss?: number; peak?: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return m ? Number(m[1]) / 1024 : undefined;
    };
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return {};
  }
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machineInfo(): MachineInfo {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** CPU spent by everything during a stretch of time, split by who spent it. */
export interface CpuSnapshot { server?: number; serverMain?: number; bench: number; machine?: number; postgres: number; redis: number; at: number }

export function snapshotCpu(serverPid: number, database: string): CpuSnapshot {
  const u = process.cpuUsage();
  return {
    server: processCpuMs(serverPid),
    serverMain: processCpuMs(serverPid, serverPid),
    bench: (u.user + u.system) / 1000,
    machine: machineBusyMs(),
    ...serviceCpuMs(database),
    at: performance.now(),
  };
}

export interface CpuSpent { wallMs: number; serverMs?: number; serverMainMs?: number; benchMs: number; machineMs?: number; postgresMs: number; redisMs: number; otherMs?: number }

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuSpent {
  const diff = (x?: number, y?: number) => (x === undefined || y === undefined ? undefined : y - x);
  const spent: CpuSpent = {
    wallMs: b.at - a.at,
    serverMs: diff(a.server, b.server),
    serverMainMs: diff(a.serverMain, b.serverMain),
    benchMs: b.bench - a.bench,
    machineMs: diff(a.machine, b.machine),
    postgresMs: b.postgres - a.postgres,
    redisMs: b.redis - a.redis,
  };
  if (spent.machineMs !== undefined && spent.serverMs !== undefined) {
    spent.otherMs = Math.max(0, spent.machineMs - spent.serverMs - spent.benchMs - spent.postgresMs - spent.redisMs);
  }
  return spent;
}

/** Cores kept busy by processes other than the bench's during `ms` of quiet (no load from us). */
export async function foreignLoad(serverPid: number, database: string, ms = 2000): Promise<number | undefined> {
  const a = snapshotCpu(serverPid, database);
  await new Promise((r) => setTimeout(r, ms));
  const spent = cpuBetween(a, snapshotCpu(serverPid, database));
  return spent.otherMs === undefined ? undefined : spent.otherMs / spent.wallMs;
}
