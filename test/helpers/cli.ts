import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout (or, on failure, stderr) parsed as the one JSON object --json prints. */
  json: any;
}

/** A writable stream that keeps what was written, as text. */
export class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void) {
    this.text += chunk.toString();
    done();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Runs the CLI in this process, as `pharmid ARGV...` would, with the
 * environment the test set in process.env.
 */
export async function cli(...argv: string[]): Promise<CliResult> {
  const out = new Collector();
  const err = new Collector();
  // runCli is typed for process.stdout; it only ever calls write().
  const code = await runCli(argv, out as unknown as typeof process.stdout, err as unknown as typeof process.stderr);
  return { code, stdout: out.text, stderr: err.text, json: parseJson(out.text || err.text) };
}

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs the built `pharmid` binary (bin/pharmid.js; `npm test` builds first) with extra environment. */
export function runBinary(argv: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/pharmid.js', ...argv], { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, json: parseJson(stdout || stderr) });
      });
  });
}

/**
 * Sets environment variables for the CLI (which reads process.env), with REDIS_URL
 * unset; returns the function that puts the environment back as it was.
 */
export function setCliEnvironment(vars: Record<string, string>): () => void {
  const keys = [...new Set([...Object.keys(vars), 'REDIS_URL'])];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  delete process.env.REDIS_URL;
  Object.assign(process.env, vars);
  return () => {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
}
