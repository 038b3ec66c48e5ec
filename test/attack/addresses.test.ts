import { randomBytes } from 'node:crypto';
import { startTestPharmid, STORE_MODES } from '../helpers/pharmid.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { CHEAP_ARGON2, openForm, tally } from './support.js';

const nobody = () => `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`;

/**
 * The per-address limits (failures, argon2 places) are keyed by the address
 * string exactly as Koa reads it. These tests play the trusted load balancer
 * (TRUST_PROXY=1): the last X-Forwarded-For entry is what it wrote.
 */
describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  const start = (env: Record<string, string>) => startTestPharmid({ ...modeEnv, ...CHEAP_ARGON2, ...env });

  test('one IPv6 host, rotating its interface id inside its own /64, is held to the address limit', async () => {
    const p = await start({ TRUST_PROXY: '1', ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const form = await openForm(p, portal);
      const statuses: number[] = [];
      for (let i = 1; i <= 12; i += 1) {
        // A host is normally given a whole /64: 2^64 addresses to choose from, at no cost.
        statuses.push((await form.post({ email: nobody(), password: `wrong ${i}` }, { 'X-Forwarded-For': `2001:db8:1:2::${i.toString(16)}` })).status);
      }
      const t = tally(statuses);
      expect(t[401] ?? 0).toBeLessThanOrEqual(3);
    } finally {
      await p.stop();
    }
  });

  test('spellings of one address (IPv4-mapped, upper case, zeros written out, a port) share one count', async () => {
    const p = await start({ TRUST_PROXY: '1', ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const form = await openForm(p, portal);
      // How a dual-stack or port-adding proxy (Azure Application Gateway writes ip:port) may write one client.
      const spellings = ['203.0.113.5', '::ffff:203.0.113.5', '::FFFF:cb00:7105', '203.0.113.5:40001', '203.0.113.5:40002', '[::ffff:203.0.113.5]:40003', '0:0:0:0:0:ffff:203.0.113.5'];
      const statuses: number[] = [];
      for (const [i, xff] of spellings.entries()) {
        statuses.push((await form.post({ email: nobody(), password: `wrong ${i}` }, { 'X-Forwarded-For': xff })).status);
      }
      expect(tally(statuses)[401] ?? 0).toBeLessThanOrEqual(3);
    } finally {
      await p.stop();
    }
  });

  test('one IPv6 host cannot fill the argon2 line and make everyone else wait (503)', async () => {
    const p = await startTestPharmid({
      ...modeEnv, TRUST_PROXY: '1', ARGON2_MAX_CONCURRENT: '1', ARGON2_MAX_QUEUE: '6', ARGON2_PER_ADDRESS: '2',
      ARGON2_MEMORY_KIB: '65536', ARGON2_TIME_COST: '3', ADDRESS_MAX_FAILURES: '100000', PASSWORD_FREE_FAILURES: '100000',
    });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await makePerson(p.deps);
      const form = await openForm(p, portal);
      let answered = 0;
      const flood = Array.from({ length: 24 }, (_, i) => form.post({ email: nobody(), password: `wrong ${i}` }, { 'X-Forwarded-For': `2001:db8:1:2::${(i + 1).toString(16)}` }).then((r) => { answered += 1; return r; }));
      // Once the line is full of the flood's hashes (as it was while each address counted
      // alone), or the flood has been answered but for the places its /64 may hold, someone
      // at another address signs in.
      for (let i = 0; i < 400 && p.deps.passwords.queueDepth < 6 && answered < 24 - 2; i += 1) await new Promise((r) => setTimeout(r, 5));
      const someoneElse = await form.post({ email: person.email, password: person.password }, { 'X-Forwarded-For': '198.51.100.7' });
      const t = tally((await Promise.all(flood)).map((r) => r.status));
      expect(someoneElse.status).not.toBe(503);
      // The /64 held at most its two places: every other try of the flood was refused at once.
      expect(t[503]).toBeGreaterThanOrEqual(24 - 2);
    } finally {
      await p.stop();
    }
  });

  test('held: forged, empty and many X-Forwarded-For entries before the balancer\'s own never change the counted address', async () => {
    const p = await start({ TRUST_PROXY: '1', ADDRESS_MAX_FAILURES: '3' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const form = await openForm(p, portal);
      const forged = ['', ',', ' , ,', 'unknown', '::1', Array.from({ length: 500 }, (_, i) => `10.${i >> 8}.${i & 255}.1`).join(', '), '203.0.113.77,'];
      const statuses: number[] = [];
      for (const [i, f] of forged.entries()) {
        statuses.push((await form.post({ email: nobody(), password: `wrong ${i}` }, { 'X-Forwarded-For': `${f}, 203.0.113.9` })).status);
      }
      // Two X-Forwarded-For header lines: Node joins them, the balancer's still last.
      const twoLines = await form.browser.agent.post(form.path).type('form').set('X-Forwarded-For', '10.1.1.1')
        .send({ email: nobody(), password: 'wrong again' }).redirects(0);
      const t = tally(statuses);
      expect(t[401]).toBe(3);
      expect(t[429]).toBe(forged.length - 3);
      expect(twoLines.status).not.toBe(500);
    } finally {
      await p.stop();
    }
  });
});
