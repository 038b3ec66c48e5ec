import { startTestPharmid, type TestPharmid } from './pharmid.js';
import { Portal } from './portal.js';
import { makeClient } from './factories.js';

export interface PharmidWithPortal { pharmid: TestPharmid; portal: Portal }

/**
 * A pharmid of the test file's own (database, Redis prefix, port) with one
 * first-party portal, started before the enclosing tests and stopped after.
 * Read its fields inside tests: they are set by beforeAll.
 */
export function usePharmidWithPortal(env: Record<string, string> = {}): PharmidWithPortal {
  const t = {} as PharmidWithPortal;
  beforeAll(async () => {
    t.pharmid = await startTestPharmid(env);
    t.portal = await Portal.connect(t.pharmid.config.issuer, await makeClient(t.pharmid.deps));
  });
  afterAll(async () => { await t.pharmid?.stop(); });
  return t;
}
