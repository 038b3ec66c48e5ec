import type { TestPharmid } from '../../helpers/pharmid.js';
import { startWithPortal } from '../../helpers/with-portal.js';
import { Browser } from '../../helpers/browser.js';
import type { Portal } from '../../helpers/portal.js';
import { makePerson } from '../../helpers/factories.js';
import { enrolmentOf, recoveryCodesOf, totpCode } from '../../helpers/sign-in.js';
import { answer, expectPage, looksLikeStackTrace, textOf, withAuthenticator } from '../../helpers/pages.js';
import { mailTo } from '../../helpers/mail.js';
import { sleep } from '../../helpers/portals.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf } from '../../helpers/webauthn.js';
import { listAuditEventsForUser } from '../../../src/db/queries/audit-events.js';
import { listPasskeys } from '../../../src/domain/factors/passkeys.js';
import { hasAuthenticator } from '../../../src/domain/factors/authenticators.js';
import { checkPassword } from '../../../src/domain/sign-in.js';
import { disableUser, resetMfa, resetPassword } from '../../../src/domain/users.js';
import { raceBehindRow } from '../../helpers/row-race.js';
import { afterPassword, enrolPage, originOf } from './support.js';

/**
 * An administrator's reset or disable landing in the moment between a
 * proof and the write it allows: the forgotten-password link's new password,
 * and a first passkey or authenticator app at sign-in, are never written
 * after it. Each race is forced: a test transaction holds the person's row
 * lock, the administrator's act is queued behind it, then the racing request
 * is posted and queued too; the act gets the row first.
 */

let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;
beforeAll(async () => { ({ p, portal } = await startWithPortal()); });
afterAll(() => p.stop());

const race = <T>(userId: string, act: () => Promise<unknown>, racer: () => Promise<T>) => raceBehindRow(p.deps.db, userId, act, racer);

const NEW = 'a brand new long phrase';
const passwordIs = async (email: string, password: string) => (await checkPassword(p.deps, email, password, '127.0.0.9')).ok;
const forgottenDone = async (userId: string) => (await listAuditEventsForUser(p.deps.db, userId)).filter((e) => e.action === 'account.forgotten-password');

async function forgottenLink(email: string): Promise<string> {
  const browser = new Browser(p.url);
  await browser.open('/password/forgotten');
  await browser.submit('/password/forgotten', { email });
  for (let i = 0; i < 100; i += 1) {
    const mail = mailTo(p, email).find((m) => m.subject === 'Choose a new pharmid password');
    if (mail) return /(http\S+\/password\/reset\?\S+)/.exec(mail.body)![1]!;
    await sleep(50);
  }
  throw new Error('no link mailed');
}

describe('the forgotten-password link, its code proved, racing an administrator', () => {
  const acts = {
    'an MFA reset': (email: string) => resetMfa(p.deps, cli, email),
    'a password reset': (email: string) => resetPassword(p.deps, cli, email),
    'a disable': (email: string) => disableUser(p.deps, cli, email),
  };
  for (const [name, act] of Object.entries(acts)) {
    test(`${name}: no new password after it, no audit event, a plain answer (never a 500)`, async () => {
      const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
      const b = new Browser(p.url);
      const page = await b.open(await forgottenLink(person.email));
      expect(page.status).toBe(200);
      const res = await race(person.id, () => act(person.email), () => b.submit('/password/reset', { code: totpCode(person.totpSecret, p.clock.now()), new_password: NEW }));
      expect(textOf(res.text)).not.toMatch(/Your password has been changed/);
      expect(res.status).toBeLessThan(500);
      expect(looksLikeStackTrace(res.text)).toBe(false);
      expect(await passwordIs(person.email, NEW)).toBe(false);
      expect(await forgottenDone(person.id)).toEqual([]);
      // Nothing written, so the link still stands after a reset and asks for what is there now; after a disable it is gone.
      if (name === 'a password reset') {
        // The link still stands, and still asks for the app's code (the reset left the app).
        expect(res.status).toBe(409);
        expect(textOf(res.text)).toMatch(/Your account changed while you were choosing a password/);
        expect(res.text).toMatch(/name="code"/);
      } else if (name === 'an MFA reset') {
        expect(res.status).toBe(409);
        expect(textOf(res.text)).toMatch(/Your account changed while you were choosing a password/);
        // The page shown again asks for no app code now (the reset removed the app), and the password is set from it.
        expect(res.text).not.toMatch(/name="code"/);
        expect(textOf((await b.submit('/password/reset', { new_password: NEW })).text)).toMatch(/Your password has been changed/);
        expect(await passwordIs(person.email, NEW)).toBe(true);
      } else {
        expect(res.status).toBe(410);
      }
    });
  }
});

describe('a first factor at sign-in racing an administrator', () => {
  test('a first passkey, racing an MFA reset: no key, no recovery codes; the sign-in starts again', async () => {
    const { person, browser, passkeyPage } = await enrolPage(p, portal);
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text));
    const answered = await race(person.id, () => resetMfa(p.deps, cli, person.email),
      () => browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Late key', credential: response }));
    expectPage(answered, 'password');
    expect(recoveryCodesOf(answered.text)).toEqual([]);
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    const { rows } = await p.deps.db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [person.id]);
    expect(rows).toEqual([]);
  });

  test('a first passkey, racing a disable: no key', async () => {
    const { person, browser, passkeyPage } = await enrolPage(p, portal);
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text));
    const answered = await race(person.id, () => disableUser(p.deps, cli, person.email),
      () => browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Late key', credential: response }));
    expect(answered.status).toBeLessThan(500);
    expect(recoveryCodesOf(answered.text)).toEqual([]);
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
  });

  test('a first authenticator app, racing a disable: not confirmed, no recovery codes', async () => {
    const person = await makePerson(p.deps);
    const { browser, page } = await afterPassword(p, portal, person);
    const enrol = expectPage(page, 'enrol');
    const { secret } = enrolmentOf(enrol.text);
    const answered = await race(person.id, () => disableUser(p.deps, cli, person.email),
      () => answer(browser, enrol, { code: totpCode(secret, p.clock.now()) }));
    expect(answered.status).toBeLessThan(500);
    expect(recoveryCodesOf(answered.text)).toEqual([]);
    expect(await hasAuthenticator(p.deps, person.id)).toBe(false);
    const { rows } = await p.deps.db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [person.id]);
    expect(rows).toEqual([]);
  });
});
