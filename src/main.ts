import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { startPharmid } from './server.js';
import { countUsers } from './db/queries/users.js';
import { countClients } from './db/queries/clients.js';
import { OWN_PORTAL_ID } from './domain/clients.js';
import { firstSteps } from './first-steps.js';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const running = await startPharmid(config, log);
  const { mode } = running.backends;
  log.info({ issuer: config.issuer, port: config.port, postgres: mode.postgres, store: mode.store, dataDir: config.dataDir }, 'pharmid is listening');
  if (config.metrics.port) log.info({ port: config.metrics.port }, '/metrics is served on its own port');
  else if (!config.metrics.token && !config.metrics.open) {
    log.warn('/metrics is not served: set METRICS_PORT (its own port, for the private network) or METRICS_TOKEN (a bearer token on the public port)');
  }
  if (mode.postgres === 'embedded' || mode.store === 'postgres') {
    log.warn(
      `embedded mode: ${mode.postgres === 'embedded' ? `Postgres runs embedded with its files in ${config.dataDir}/postgres` : 'Postgres is external'}; `
      + `${mode.store === 'postgres' ? 'with no REDIS_URL, sessions, tokens and brute-force counters are kept in that Postgres (they survive a restart and every process and the CLI share them)' : 'Redis is external'}. `
      + 'For production set DATABASE_URL, REDIS_URL, PHARMID_SECRET_KEY, COOKIE_KEYS and ISSUER.',
    );
  }
  if ((await countUsers(running.deps.db)) === 0 || (await countClients(running.deps.db, OWN_PORTAL_ID)) === 0) {
    process.stdout.write([
      '',
      'pharmid has no people or portals yet. In another terminal (user add prints an activation code;',
      'client add prints the client_id and client_secret the last line needs):',
      ...firstSteps(config.issuer, config.port).map((line) => `  ${line}`),
      `Then open http://localhost:${config.port + 1} and choose "Sign in with pharmid".`,
      `Discovery: ${config.issuer}/.well-known/openid-configuration`,
      '',
    ].join('\n'));
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing requests in flight');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await running.close();
    log.info('stopped');
    process.exit(0);
  };
  // The embedded Postgres package stops its engine on these signals at once; pharmid stops it itself,
  // after the requests in flight have finished.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.removeAllListeners(signal);
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`pharmid could not start: ${err.message}\n`);
  process.exit(1);
});
