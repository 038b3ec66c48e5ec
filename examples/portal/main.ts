import { startPortal } from './portal.js';

/**
 * One demo portal on its own, against a running pharmid:
 *   ISSUER=http://localhost:3000 CLIENT_ID=… CLIENT_SECRET=… PORTAL_NAME=PharmOutcomes PORT=3001 \
 *     node dist/examples/portal/main.js
 * Register it first with its redirect, post-logout and back-channel URIs:
 *   pharmid client add --name PharmOutcomes --redirect-uri http://localhost:3001/callback \
 *     --post-logout-redirect-uri http://localhost:3001/signed-out \
 *     --backchannel-logout-uri http://localhost:3001/backchannel-logout --first-party
 */
async function main() {
  const env = process.env;
  if (!env.CLIENT_ID) throw new Error('set ISSUER, CLIENT_ID, CLIENT_SECRET (none for a public client), PORTAL_NAME and PORT');
  const portal = await startPortal({ name: env.PORTAL_NAME ?? 'Demo portal', port: Number(env.PORT ?? 3001) });
  await portal.connect({ issuer: env.ISSUER ?? 'http://localhost:3000', clientId: env.CLIENT_ID, clientSecret: env.CLIENT_SECRET || undefined });
  process.stdout.write(`${portal.name} is at ${portal.url}\n`);
  const stop = () => { void portal.close().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`the portal could not start: ${err.message}\n`);
  process.exit(1);
});
