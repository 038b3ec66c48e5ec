import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, hiddenFields } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { afterPasswordStep, signInTo, stepOf, totpCode, type Person } from '../helpers/sign-in.js';
import { resetMfa } from '../../src/domain/users.js';
import { openForm, tally } from './support.js';

function wrongCode(right: string): string {
  return String((Number(right) + 500_000) % 1_000_000).padStart(6, '0');
}

async function enrolled(p: TestPharmid, portal: Portal): Promise<Person & { id: string }> {
  const person = await makePerson(p.deps);
  await signInTo(portal, new Browser(p.url), person, p.clock);
  p.clock.advance(30);
  return person;
}

/** Posts many answers at once to one step page of one browser. */
function burst(p: TestPharmid, browser: Browser, action: string, forms: Record<string, string>[]) {
  const hidden = hiddenFields(browser.lastPage, action);
  const path = new URL(action, p.url).pathname;
  return Promise.all(forms.map((f) => browser.agent.post(path).type('form').send({ ...hidden, ...f }).redirects(0).then((r) => r.status)));
}

const errorOf = (html: string) => /nhsuk-error-summary__list[\s\S]*?<a[^>]*>([^<]+)</.exec(html)?.[1]?.trim();

describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  test('the hard limit on wrong authenticator codes counts over any period: the person\'s own right codes do not reset it', async () => {
    const p = await startTestPharmid({ ...modeEnv, OTP_MAX_FAILURES: '100', OTP_HARD_LIMIT: '6' });
    try {
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const person = await enrolled(p, portal);
      // Someone holding the password guesses codes; the person signs in normally in between.
      for (let round = 0; round < 3; round += 1) {
        const a = await afterPasswordStep(p.url, portal, person);
        for (let i = 0; i < 2; i += 1) expect((await a.browser.submit(a.action!, { code: wrongCode(totpCode(person.totpSecret!, p.clock.now())) })).status).toBe(401);
        p.clock.advance(30);
        if (round < 2) await signInTo(portal, new Browser(p.url), person, p.clock);
        p.clock.advance(30);
      }
      // Six wrong codes in all, each pair followed by a right one, reach a limit of six within the period: locked until unlocked.
      const { rows } = await p.deps.db.query('SELECT locked_at FROM users WHERE id = $1', [person.id]);
      expect(rows[0].locked_at).not.toBeNull();
      const after = await afterPasswordStep(p.url, portal, person);
      expect((await after.browser.submit(after.action!, { code: totpCode(person.totpSecret!, p.clock.now()) })).status).toBe(429);
      // The person is told that someone who knows their password typed wrong codes.
      const outbox = join(p.config.dataDir, 'outbox');
      const mails = readdirSync(outbox).map((f) => readFileSync(join(outbox, f), 'utf8').replace(/=\r?\n/g, '')).filter((m) => m.includes(person.email));
      expect(mails.join('\n')).toContain('Wrong codes were typed after your pharmid password');
      expect(mails.join('\n')).toContain('until an administrator unlocks it');
    } finally {
      await p.stop();
    }
  }, 60_000);

  describe('parallel bursts', () => {
    let p: TestPharmid;
    let portal: Portal;
    beforeAll(async () => {
      p = await startTestPharmid({ ...modeEnv, ADDRESS_MAX_FAILURES: '100000', ARGON2_PER_ADDRESS: '1000', ARGON2_MAX_QUEUE: '1000', ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
      portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
    });
    afterAll(() => p.stop());

    test('held: authenticator and recovery codes mixed in one burst: five and one more are checked', async () => {
      const person = await enrolled(p, portal);
      const a = await afterPasswordStep(p.url, portal, person);
      const otp = a.action!;
      const recovery = otp.replace(/otp$/, 'recovery');
      const wrong = wrongCode(totpCode(person.totpSecret!, p.clock.now()));
      const otpPage = a.browser.lastPage;
      await a.browser.open(recovery);
      const both = await Promise.all([
        burst(p, a.browser, recovery, Array.from({ length: 20 }, () => ({ recovery_code: 'AAAA-BBBB-CCCC' }))),
        (async () => { a.browser.lastPage = otpPage; return burst(p, a.browser, otp, Array.from({ length: 20 }, () => ({ code: wrong }))); })(),
      ]);
      const t = tally(both.flat());
      expect(t[401] ?? 0).toBeLessThanOrEqual(6);
      expect((t[401] ?? 0) + (t[429] ?? 0)).toBe(40);
    });

    test('held: a burst of wrong MFA-reset codes: five and one more are checked, then the right one waits', async () => {
      const person = await enrolled(p, portal);
      const { activationCode } = await resetMfa(p.deps, { kind: 'cli' }, person.email);
      const a = await afterPasswordStep(p.url, portal, person);
      expect(stepOf(a.res.text)).toBe('reset-code');
      const t = tally(await burst(p, a.browser, a.action!, Array.from({ length: 30 }, (_, i) => ({ activation_code: `WRONG${i}` }))));
      expect(t[401] ?? 0).toBeLessThanOrEqual(6);
      expect((await a.browser.submit(a.action!, { activation_code: activationCode })).status).toBe(429);
    });

    test('held: a burst of wrong activation codes for one email: five and one more are checked, then the right one waits', async () => {
      const invited = await makePerson(p.deps, { activate: true });
      const form = await openForm(p, portal, 'activate');
      const t = tally(await Promise.all(Array.from({ length: 30 }, (_, i) => form.post({ email: invited.email, activation_code: `WRONG${i}`, new_password: 'a long enough passphrase' }).then((r) => r.status))));
      expect(t[400] ?? 0).toBeLessThanOrEqual(6);
      expect((await form.post({ email: invited.email, activation_code: invited.activationCode!, new_password: 'a long enough passphrase' })).status).toBe(429);
    });

    test('held: "Activate your account" answers an unknown email and an invited one alike, try by try (status, text, Retry-After)', async () => {
      const invited = await makePerson(p.deps, { activate: true });
      const unknown = `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`;
      const seen: Record<string, string[]> = { known: [], unknown: [] };
      for (let i = 0; i < 8; i += 1) {
        for (const [name, email] of [['known', invited.email], ['unknown', unknown]] as const) {
          const form = await openForm(p, portal, 'activate');
          const res = await form.post({ email, activation_code: 'WRONG-CODE', new_password: 'a long enough passphrase' });
          seen[name]!.push(`${res.status} ${errorOf(res.text)} ${res.headers['retry-after'] ?? '-'}`);
        }
      }
      expect(seen.unknown).toEqual(seen.known);
    });
  });
});
