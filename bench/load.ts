import { median, percentile } from './stats.js';

const stopping = new AbortController();

/** Ends every load loop at its next operation (on a signal, or when the bench gives up). */
export function stopLoad(): void { stopping.abort(); }

export function loadStopped(): boolean { return stopping.signal.aborted; }

export interface RunResult {
  /** Operations that finished inside the measured window. */
  completed: number;
  /** Operations that finished at all (the window's, and those drained after it). */
  finished: number;
  /** Until the last operation drained. */
  elapsedMs: number;
  failed: number;
  seconds: number;
  perSecond: number;
  latencyMs: number[];
  errors: Record<string, number>;
}

/**
 * Closed-loop load: `concurrency` workers each run `op` back to back until
 * `seconds` have passed; operations still in flight then finish but are not
 * counted. Gives up when more than a quarter of operations (and at least 20)
 * fail, so a broken server does not keep the bench busy.
 */
export async function runFor(seconds: number, concurrency: number, op: (worker: number) => Promise<void>): Promise<RunResult> {
  const latencyMs: number[] = [];
  const errors: Record<string, number> = {};
  let completed = 0;
  let finished = 0;
  let failed = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  let abort: Error | undefined;

  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (performance.now() < end && !abort && !stopping.signal.aborted) {
      const t0 = performance.now();
      try {
        await op(worker);
        const t1 = performance.now();
        finished += 1;
        if (t1 <= end) {
          completed += 1;
          latencyMs.push(t1 - t0);
        }
      } catch (err) {
        failed += 1;
        const msg = (err as Error).message.slice(0, 160);
        errors[msg] = (errors[msg] ?? 0) + 1;
        if (failed >= 20 && failed > (completed + failed) / 4) abort = new Error(`too many failures; first: ${Object.keys(errors)[0]}`);
      }
    }
  }));
  if (abort) throw abort;
  if (stopping.signal.aborted) throw new Error('stopped');
  return { completed, finished, elapsedMs: performance.now() - started, failed, seconds, perSecond: completed / seconds, latencyMs, errors };
}

export interface RunSummary {
  perSecond: number; p50Ms: number; p99Ms: number; completed: number; failed: number;
  /** Cores kept busy by processes that are not the bench's during the run. */
  foreignCores?: number;
}

export function summarise(r: RunResult): RunSummary {
  return {
    perSecond: r.perSecond,
    p50Ms: median(r.latencyMs),
    p99Ms: percentile(r.latencyMs, 99),
    completed: r.completed,
    failed: r.failed,
  };
}
