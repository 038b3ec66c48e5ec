import { randomBytes } from 'node:crypto';
import { mannWhitneyZ, median } from '../helpers/stats.js';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { openForm } from './support.js';


let p: TestPharmid;
let portal: Portal;
beforeAll(async () => {
  p = await startTestPharmid({ ADDRESS_MAX_FAILURES: '100000' });
  portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
});
afterAll(() => p.stop());

test('"Activate your account": an unknown email and an invited person\'s, with a wrong code, take indistinguishable time', async () => {
  const rounds = 40;
  const invited = await Promise.all(Array.from({ length: rounds }, () => makePerson(p.deps, { activate: true })));
  const times = { known: [] as number[], unknown: [] as number[] };
  const answers = new Set<string>();
  for (let i = 0; i < rounds; i += 1) {
    const pair = [['unknown', `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`], ['known', invited[i]!.email]] as const;
    // Which goes first changes every round, so a burst of load from a neighbouring test file falls on both kinds alike.
    for (const [kind, email] of i % 2 === 0 ? pair : [...pair].reverse()) {
      const form = await openForm(p, portal, 'activate');
      const started = performance.now();
      const res = await form.post({ email, activation_code: 'WRONG-CODE-00', new_password: 'a long enough passphrase' });
      times[kind].push(performance.now() - started);
      answers.add(`${res.status}`);
    }
  }
  expect([...answers]).toEqual(['400']);
  const z = mannWhitneyZ(times.known, times.unknown);
  // eslint-disable-next-line no-console
  console.log(`activation timing: median known ${median(times.known).toFixed(1)} ms, unknown ${median(times.unknown).toFixed(1)} ms, z ${z.toFixed(2)}`);
  expect(z).toBeLessThan(3.29);
}, 120_000);
