import { createServer, type Server } from 'node:http';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { migrate } from './db/migrate.js';
import { loadSigningKeys } from './domain/signing-keys.js';
import type { Deps } from './domain/deps.js';
import { buildApp } from './app.js';
import { ensureOwnPortal } from './domain/clients.js';
import type { PageRoutes } from './http/pages.js';
import { accountPages } from './account/routes.js';
import { forgottenPasswordPages } from './account/forgotten-password.js';
import { ADMIN_AREAS } from './admin/areas.js';

/** Page areas (for signed-in people, and the forgotten-password pages for people who cannot sign in), each in its own folder. */
const PAGE_AREAS: PageRoutes[] = [accountPages, forgottenPasswordPages, ...ADMIN_AREAS];
import { buildDeps, buildMailer, openBackends, type Backends } from './backends.js';
import { sendDueNotices } from './domain/notices.js';
import { startMetricsServer } from './http/ops.js';

export interface Running {
  server: Server;
  url: string;
  deps: Deps;
  backends: Backends;
  /** Looks for rotated signing keys now (every process also looks on a timer); true when they changed. */
  refreshKeys(): Promise<boolean>;
  /** Stops taking connections, lets in-flight requests finish, then closes the pools. */
  close(): Promise<void>;
}

/** Starts one pharmid process: backends, migrations, signing keys, HTTP. */
export async function startPharmid(config: Config, log: Logger, opts: { now?: () => Date; host?: string } = {}): Promise<Running> {
  const backends = await openBackends(config, log);
  await migrate(backends.pool);
  const mailer = buildMailer(config);
  const deps = buildDeps(config, backends.pool, backends.store, opts.now, mailer);
  // Retired keys stay published while ID tokens they signed may still be checked.
  const grace = config.ttl.idToken + config.keysRefresh;
  let keys = await loadSigningKeys(deps, grace);
  const ownPortalSecret = await ensureOwnPortal(deps, config.issuer);
  const built = buildApp({ config, deps, keys, log, ownPortalSecret: () => ownPortalSecret, extraPages: PAGE_AREAS, mailer });
  const { app } = built;
  const kids = (k: { kid: string }[]) => k.map((j) => j.kid).join(' ');
  const refreshKeys = async () => {
    const latest = await loadSigningKeys(deps, grace);
    if (kids(latest) === kids(keys)) return false;
    keys = latest;
    built.useKeys(latest);
    log.info({ kids: kids(latest) }, 'signing keys changed');
    return true;
  };
  const timer = setInterval(() => { refreshKeys().catch(() => {}); }, config.keysRefresh * 1000);
  timer.unref();
  // MFA rollout notices: every process looks; a claim in Postgres makes each go once.
  const noticeTimer = setInterval(() => {
    sendDueNotices(deps, mailer, { reminderDays: config.notices.reminderDays, issuer: config.issuer })
      .then((n) => { if (n) log.info({ notices: n, via: mailer.kind }, 'rollout notices sent'); })
      .catch((err: Error) => log.warn({ err: { message: err.message } }, 'rollout notices could not be sent'));
  }, config.notices.interval * 1000);
  noticeTimer.unref();
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, opts.host, () => resolve());
  });
  const metricsServer = config.metrics.port ? await startMetricsServer(config.metrics.port, built.metrics, opts.host) : undefined;
  const address = server.address() as { port: number };
  return {
    server,
    url: `http://localhost:${address.port}`,
    deps,
    backends,
    refreshKeys,
    async close() {
      clearInterval(timer);
      clearInterval(noticeTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      metricsServer?.close();
      await backends.close();
    },
  };
}
