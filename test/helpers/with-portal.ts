import { startTestPharmid, type TestPharmid } from './pharmid.js';
import { Portal } from './portal.js';
import { makeClient } from './factories.js';

/** A test's own pharmid, with one portal (PharmOutcomes) registered and connected to it. */
export async function startWithPortal(): Promise<{ p: TestPharmid; portal: Portal }> {
  const p = await startTestPharmid();
  return { p, portal: await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmOutcomes' })) };
}
