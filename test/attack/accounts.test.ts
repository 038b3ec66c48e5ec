import { randomBytes, randomInt } from 'node:crypto';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../helpers/pharmid.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo, stepOf } from '../helpers/sign-in.js';
import { Browser } from '../helpers/browser.js';
import { CHEAP_ARGON2, openForm, tally } from './support.js';

const nobody = () => `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  let p: TestPharmid;
  let portal: Portal;
  beforeAll(async () => {
    p = await startTestPharmid({ ...modeEnv, ...CHEAP_ARGON2, PASSWORD_FREE_FAILURES: '2', ADDRESS_MAX_FAILURES: '100000', ARGON2_PER_ADDRESS: '1000', ARGON2_MAX_QUEUE: '1000' });
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  });
  afterAll(() => p.stop());

  test('held: spellings of one email (case, spaces, NBSP, Kelvin sign, NFD) share one count; look-alikes reach no account', async () => {
    const person = await makePerson(p.deps);
    const [local, domain] = person.email.split('@') as [string, string];
    const form = await openForm(p, portal);
    // Spellings that reach the same account must meet the same counter.
    const spellings = [person.email.toUpperCase(), `  ${person.email}  `, `\u00a0${person.email}\u00a0`, `${local}@${domain.replace('e', 'E')}`, `\ufeff${person.email}`];
    for (const email of spellings.slice(0, 2)) expect((await form.post({ email, password: 'not the password' })).status).toBe(401);
    const after = await Promise.all(spellings.slice(2).map((email) => form.post({ email, password: person.password }).then((r) => r.status)));
    expect(after).toEqual([429, 429, 429]);

    // Different mailboxes by pharmid's rule: each its own count, but none of them is the person's account.
    const other = await makePerson(p.deps);
    const [ol, od] = other.email.split('@') as [string, string];
    for (const email of [`${ol}+x@${od}`, `${other.email}.`, `${ol}@${od.replace('e', '\u0435')}`, `${ol.replace('s', 'ｓ')}@${od}`]) {
      const res = await form.post({ email, password: other.password });
      expect([res.status, stepOf(res.text) ?? '']).toEqual([401, 'password']);
    }
  });

  test('held: one success from the attacker\'s own account gives back only its own point at the address', async () => {
    const q = await startTestPharmid({ ...modeEnv, ...CHEAP_ARGON2, ADDRESS_MAX_FAILURES: '4' });
    try {
      const qPortal = await Portal.connect(q.config.issuer, await makeClient(q.deps));
      const own = await makePerson(q.deps);
      const form = await openForm(q, qPortal);
      for (let i = 0; i < 3; i += 1) expect((await form.post({ email: nobody(), password: 'wrong' })).status).toBe(401);
      const fresh = await openForm(q, qPortal);
      expect((await fresh.post({ email: own.email, password: own.password })).status).toBe(303);
      expect((await form.post({ email: nobody(), password: 'wrong' })).status).toBe(401);
      expect((await form.post({ email: nobody(), password: 'wrong' })).status).toBe(429);
    } finally {
      await q.stop();
    }
  });

  test('held: a parallel burst mixing passwords and activation codes, known and unknown emails, gets at most the address limit of real answers', async () => {
    const q = await startTestPharmid({ ...modeEnv, ...CHEAP_ARGON2, ADDRESS_MAX_FAILURES: '10', ARGON2_PER_ADDRESS: '1000', ARGON2_MAX_QUEUE: '1000' });
    try {
      const qPortal = await Portal.connect(q.config.issuer, await makeClient(q.deps));
      const known = await makePerson(q.deps);
      const invited = await makePerson(q.deps, { activate: true });
      const pw = await openForm(q, qPortal);
      const act = await openForm(q, qPortal, 'activate');
      const tries = Array.from({ length: 80 }, (_, i) => (i % 2
        ? pw.post({ email: i % 4 === 1 ? known.email : nobody(), password: `wrong ${i}` })
        : act.post({ email: i % 4 === 0 ? invited.email : nobody(), activation_code: `WRONG${i}`, new_password: 'a long enough passphrase' })
      ).then((r) => r.status));
      const t = tally(await Promise.all(tries));
      expect((t[401] ?? 0) + (t[400] ?? 0)).toBeLessThanOrEqual(10);
      expect(t[500]).toBeUndefined();
    } finally {
      await q.stop();
    }
  });

  test('an attacker spending one request per lock period cannot keep a person out with their right password', async () => {
    const person = await makePerson(p.deps);
    // The person's own browser, where they signed in before (it holds pharmid's device cookie for them).
    const own = new Browser(p.url);
    await signInTo(portal, own, person, p.clock);
    const attacker = await openForm(p, portal);
    const locks = p.deps.counters.locks('password:account');
    // The free tries first (two here), then one more to start the waits.
    for (let i = 0; i < 3; i += 1) {
      while (await locks.remaining(person.email)) await sleep(100);
      await attacker.post({ email: person.email, password: `wrong start ${i}` });
    }
    const refused: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      // The attacker waits for the current wait to end, then spends one wrong password.
      while (await locks.remaining(person.email)) await sleep(100);
      await attacker.post({ email: person.email, password: `wrong ${round}` });
      const victim = await openForm(p, portal, 'password', { browser: own, params: { prompt: 'login' } });
      refused.push((await victim.post({ email: person.email, password: person.password })).status);
    }
    // Held: the person gets in from their own browser every time. Seen before: 429 every time (the wait was per email, whoever asked).
    expect(refused).toEqual([303, 303, 303]);
    // Strangers still wait: a browser that never signed in is held by the account's wait.
    const stranger = await openForm(p, portal);
    expect((await stranger.post({ email: person.email, password: person.password })).status).toBe(429);
  }, 60_000);

  test('an email of long, varied text is refused with a 4xx, never a 500', async () => {
    const form = await openForm(p, portal);
    // 1,300 random CJK characters (3,900 bytes of UTF-8, incompressible): under the 4,000-character field limit.
    const email = Array.from({ length: 1300 }, () => String.fromCodePoint(0x4e00 + randomInt(0x5000))).join('');
    const res = await form.post({ email, password: 'whatever it is' });
    expect(res.status).toBeLessThan(500);
  });
});
