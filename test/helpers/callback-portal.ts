import { createServer, type Server } from 'node:http';
import { freePort } from './pharmid.js';
import { makeClient } from './factories.js';
import { Portal } from './portal.js';
import type { Deps } from '../../src/domain/deps.js';

/**
 * A portal (PharmOutcomes) whose redirect URI is a real page on localhost, for
 * a browser to land on with the code (the test then exchanges it). Close
 * `callbackServer` after the tests.
 */
export async function portalWithCallback(issuer: string, deps: Deps): Promise<{ portal: Portal; callbackUrl: string; callbackServer: Server }> {
  const callbackServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html lang="en"><title>PharmOutcomes</title><main><h1>PharmOutcomes</h1></main></html>');
  });
  const callbackPort = await freePort();
  await new Promise<void>((resolve) => { callbackServer.listen(callbackPort, 'localhost', resolve); });
  const callbackUrl = `http://localhost:${callbackPort}/callback`;
  const portal = await Portal.connect(issuer, await makeClient(deps, { name: 'PharmOutcomes', redirectUris: [callbackUrl] }), callbackUrl);
  return { portal, callbackUrl, callbackServer };
}
