import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/db/embedded.js';

export interface ServerProcess {
  pid: number;
  url: string;
  /** The last lines the server wrote to stderr (for failure messages). */
  stderrTail(): string;
  /** How the server ended, or undefined while it runs. */
  exitStatus(): string | undefined;
  /** SIGTERM (the server finishes requests in flight), SIGKILL after 15 s; safe to call twice. */
  stop(): Promise<void>;
}

export { freePort };

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * pharmid as its own process (`node dist/src/main.js`), so the load
 * generator never runs on the server's event loop. Resolves once /readyz
 * answers 200.
 */
export async function startServerProcess(env: NodeJS.ProcessEnv, port: number, nodeFlags: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeFlags, MAIN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => { tail = (tail + chunk).slice(-4000); });
  let stopping: Promise<void> | undefined;
  const url = `http://127.0.0.1:${port}`;
  const server: ServerProcess = {
    pid: child.pid!,
    url,
    stderrTail: () => tail.trim(),
    exitStatus: () => (child.exitCode !== null ? `exit code ${child.exitCode}` : child.signalCode ?? undefined),
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited(child);
        clearTimeout(timer);
      })();
      return stopping;
    },
  };

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pharmid exited before it was ready (${child.exitCode ?? child.signalCode}): ${server.stderrTail()}`);
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return server;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await server.stop();
  throw new Error(`pharmid was not ready within 60 s: ${server.stderrTail()}`);
}
