import { randomBytes } from 'node:crypto';
import { startTestPharmid, STORE_MODES } from '../helpers/pharmid.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { createTestBackends } from '../helpers/backends.js';
import { CHEAP_ARGON2, openForm, tally } from './support.js';

const nobody = () => `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`;

describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  test('held: a burst split across two processes sharing one store gets no more than one process would', async () => {
    const backends = await createTestBackends();
    const shared = { backends, secretKey: randomBytes(32).toString('base64'), cookieKey: randomBytes(24).toString('base64url') };
    const env = { ...modeEnv, ...CHEAP_ARGON2, PASSWORD_FREE_FAILURES: '3', ADDRESS_MAX_FAILURES: '12', ARGON2_PER_ADDRESS: '1000', ARGON2_MAX_QUEUE: '1000' };
    const a = await startTestPharmid(env, shared);
    const b = await startTestPharmid(env, shared);
    try {
      const client = await makeClient(a.deps);
      const person = await makePerson(a.deps);
      const fa = await openForm(a, await Portal.connect(a.config.issuer, client));
      const fb = await openForm(b, await Portal.connect(b.config.issuer, client));
      // One account: the free tries and one more, over both processes together.
      const one = tally(await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? fa : fb).post({ email: person.email, password: `wrong ${i}` }).then((r) => r.status))));
      expect(one[401] ?? 0).toBeLessThanOrEqual(4);
      // Many accounts from one address: the address limit, over both processes together.
      const many = tally(await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? fa : fb).post({ email: nobody(), password: `wrong ${i}` }).then((r) => r.status))));
      expect((one[401] ?? 0) + (many[401] ?? 0)).toBeLessThanOrEqual(12);
    } finally {
      await a.stop();
      await b.stop();
      await backends.drop();
    }
  }, 60_000);

  test('held: tries whose caller hangs up mid-flight still count (no points given back)', async () => {
    const p = await startTestPharmid({ ...modeEnv, ARGON2_MEMORY_KIB: '65536', ARGON2_TIME_COST: '3', ADDRESS_MAX_FAILURES: '4', ARGON2_PER_ADDRESS: '1000', ARGON2_MAX_QUEUE: '1000' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const form = await openForm(p, portal);
      // The script hangs up 20 ms in, while the hash is running.
      const hungUp = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => form.post({ email: nobody(), password: `wrong ${i}` }).timeout(20).then((r) => r.status)));
      expect(hungUp.every((r) => r.status === 'rejected')).toBe(true);
      await new Promise((r) => setTimeout(r, 3000));
      expect((await form.post({ email: nobody(), password: 'wrong again' })).status).toBe(429);
    } finally {
      await p.stop();
    }
  }, 60_000);
});
