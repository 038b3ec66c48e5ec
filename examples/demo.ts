import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startPharmid } from '../src/server.js';
import { startPortal, type RunningPortal } from './portal/portal.js';
import { DEMO_PORTALS, DEMO_SITES, seedDemo, type DemoPerson } from './demo-seed.js';

/**
 * `npm run demo`: pharmid on the embedded default (its own data directory,
 * `.data/demo`, wiped at each start so the walk-through starts afresh) plus
 * three demo portals registered as its clients, and people to sign in with.
 * With DATABASE_URL / REDIS_URL set it uses those instead, and resets the
 * demo people rather than wiping anything.
 */
const DEMO_DATA_DIR = '.data/demo';

function describe(p: DemoPerson, sites: string): string {
  const secret = p.password
    ? `password        ${p.password}`
    : `activation code ${p.activationCode}   (on the sign-in page choose "Activate your account")`;
  return `  ${p.name}, ${p.role === 'site-admin' ? 'site administrator' : 'locum'} at ${sites}\n    email           ${p.email}\n    ${secret}`;
}

async function main() {
  const env = { NODE_ENV: 'development', LOG_LEVEL: 'warn', PHARMID_DATA_DIR: DEMO_DATA_DIR, ...process.env };
  const config = loadConfig(env);
  if (!config.databaseUrl && resolve(config.dataDir) === resolve(DEMO_DATA_DIR)) {
    await rm(config.dataDir, { recursive: true, force: true });
  }
  const log = createLogger(config.logLevel);
  const pharmid = await startPharmid(config, log);

  const portals: RunningPortal[] = [];
  for (const [i, p] of DEMO_PORTALS.entries()) {
    portals.push(await startPortal({ name: p.name, colour: p.colour, port: config.port + 1 + i }));
  }
  const { people, clients } = await seedDemo(pharmid.deps, portals);
  for (const [i, portal] of portals.entries()) {
    await portal.connect({ issuer: config.issuer, clientId: clients[i]!.client_id, clientSecret: clients[i]!.client_secret });
    portal.setOthers(portals.filter((o) => o !== portal).map((o) => ({ name: o.name, url: o.url })));
  }

  const siteNames = (codes: string[]) => codes.map((c) => `${DEMO_SITES.find((s) => s.ods === c)?.name} (${c})`).join(' and ');
  const [outcomes, refer, o4h] = portals as [RunningPortal, RunningPortal, RunningPortal];
  process.stdout.write([
    '',
    'pharmid demo',
    `  pharmid          ${config.issuer}   (your account page: ${config.issuer}/account)`,
    ...portals.map((p) => `  ${p.name.padEnd(16)} ${p.url}`),
    '',
    'People to sign in as (fresh each run):',
    describe(people.admin, siteNames(people.admin.sites)),
    describe(people.locum, siteNames(people.locum.sites)),
    '',
    'Try this:',
    `  1. Open ${outcomes.url} (${outcomes.name}) and choose "Sign in with pharmid". Sign in as ${people.admin.name},`,
    '     set up an authenticator app (scan the QR code, or type the key into a desktop app), save the recovery codes.',
    `  2. Open ${refer.url} (${refer.name}) and ${o4h.url} (${o4h.name}) and sign in: no second sign-in.`,
    '  3. Sign out in any one of them: pharmid asks you to confirm, and all three are signed out (back-channel logout).',
    `  4. ${people.locum.name} works at two pharmacies: the first portal asks which one, the others start from it;`,
    '     "Choose another site" in a portal asks again.',
    `  5. ${config.issuer}/account: where you are signed in, change password or authenticator, new recovery codes.`,
    '',
    'Ctrl+C stops everything.',
    '',
  ].join('\n'));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(portals.map((p) => p.close()));
    await pharmid.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: Error) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `the demo could not start: ${err.message}`}\n`);
  process.exit(1);
});
