import { randomBytes } from 'node:crypto';
import { mannWhitneyZ, median } from '../helpers/stats.js';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { disableUser } from '../../src/domain/users.js';

let p: TestPharmid;
let portal: Portal;

beforeAll(async () => {
  // Lockouts would answer early; this test is about the answer without them.
  p = await startTestPharmid({ PASSWORD_FREE_FAILURES: '100000', ADDRESS_MAX_FAILURES: '100000' });
  portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
});
afterAll(() => p.stop());

async function timedAttempt(email: string, password: string): Promise<{ ms: number; status: number; message: string }> {
  const browser = new Browser(p.url);
  const page = await browser.open((await portal.authorizationRequest()).url);
  const action = formAction(page.text, '/interaction/')!;
  const started = performance.now();
  const res = await browser.submit(action, { email, password });
  const ms = performance.now() - started;
  const message = /nhsuk-error-summary__list[\s\S]*?<a[^>]*>([^<]+)</.exec(res.text)?.[1]?.trim() ?? '';
  return { ms, status: res.status, message };
}

test('unknown email, disabled person and wrong password: same answer, indistinguishable time', async () => {
  const rounds = 25;
  const known = await Promise.all(Array.from({ length: rounds }, () => makePerson(p.deps)));
  const disabled = await Promise.all(Array.from({ length: rounds }, () => makePerson(p.deps)));
  for (const person of disabled) await disableUser(p.deps, { kind: 'cli' }, person.email);

  const times = { unknown: [] as number[], wrong: [] as number[], disabled: [] as number[] };
  const answers = new Set<string>();
  // Interleaved, so that load on the machine falls on all three alike.
  for (let i = 0; i < rounds; i += 1) {
    const tries = [
      ['unknown', `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`, 'some password here'],
      ['wrong', known[i]!.email, 'some password here'],
      ['disabled', disabled[i]!.email, disabled[i]!.password],
    ] as const;
    for (const [kind, email, password] of tries) {
      const r = await timedAttempt(email, password);
      times[kind].push(r.ms);
      answers.add(`${r.status} ${r.message}`);
    }
  }
  expect([...answers]).toHaveLength(1);
  expect([...answers][0]).toMatch(/^401 The email address or password is not right/);

  const m = { unknown: median(times.unknown), wrong: median(times.wrong), disabled: median(times.disabled) };
  // Each check costs an argon2 verification (tens of ms); skipping it would show as a gap of that size.
  expect(Math.abs(m.unknown - m.wrong)).toBeLessThan(0.25 * m.wrong);
  expect(Math.abs(m.disabled - m.wrong)).toBeLessThan(0.25 * m.wrong);
  // And the distributions are not told apart at the 0.1 % level.
  expect(mannWhitneyZ(times.unknown, times.wrong)).toBeLessThan(3.29);
  expect(mannWhitneyZ(times.disabled, times.wrong)).toBeLessThan(3.29);
}, 120_000);
