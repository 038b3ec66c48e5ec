import { randomBytes } from 'node:crypto';
import { mannWhitneyZ } from '../helpers/stats.js';
import * as oidc from 'openid-client';
import type { Response } from 'supertest';
import { usePharmidWithPortal } from '../helpers/setup.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makePerson } from '../helpers/factories.js';
import { mailTo } from '../helpers/mail.js';
import { errorMessages, inputValue, textOf, withAuthenticator } from '../helpers/pages.js';
import { driveSignIn, signInTo, totpCode, type Person } from '../helpers/sign-in.js';
import { sleep } from '../helpers/portals.js';
import type { TestPharmid } from '../helpers/pharmid.js';
import { addressKey } from '../../src/domain/addresses.js';

/**
 * "Forgotten your password?" (DESIGN.md, "Codes and who may use them"): one
 * answer for every email; a link by email that works once, for 60 minutes,
 * and only after the person's authenticator (or a recovery code) where they
 * have one; every session and token of the person ends; the person is told.
 */
const t = usePharmidWithPortal();
/** Every test asks from 127.0.0.1: each starts with that address's count of asks at nought. */
const freshAddress = () => t.pharmid.deps.counters.failures('forgotten-password:address', 3600).clear(addressKey('127.0.0.1'));
beforeEach(freshAddress);
const LINK_SUBJECT = 'Choose a new pharmid password';
const CHANGED_SUBJECT = 'Your pharmid password was changed';

/** The link in the latest forgotten-password mail to `email`, waited for (it is sent after the answer). */
async function mailedLink(p: TestPharmid, email: string, count = 1): Promise<string> {
  for (let i = 0; i < 100; i += 1) {
    const mails = mailTo(p, email).filter((m) => m.subject === LINK_SUBJECT);
    if (mails.length >= count) return /(http\S+\/password\/reset\?\S+)/.exec(mails.at(-1)!.body)![1]!;
    await sleep(50);
  }
  throw new Error(`no link mailed to ${email}`);
}

async function askForLink(browser: Browser, email: string, from?: string): Promise<Response> {
  await browser.open(`/password/forgotten${from ? `?from=${from}` : ''}`);
  return browser.submit('/password/forgotten', { email });
}

const answerOf = (res: Response) => textOf(/<main[\s\S]*<\/main>/.exec(res.text)?.[0] ?? res.text);

async function signsInWith(person: Person, password: string): Promise<string[]> {
  const browser = new Browser(t.pharmid.url);
  const req = await t.portal.authorizationRequest();
  const result = await driveSignIn(browser, req.url, { ...person, password }, t.pharmid.clock);
  return result.steps;
}

test('the sign-in page links to "Forgotten your password?", which asks for the email', async () => {
  const browser = new Browser(t.pharmid.url);
  const page = await browser.open((await t.portal.authorizationRequest()).url);
  const href = /<a href="([^"]+)" id="forgotten-password">Forgotten your password\?<\/a>/.exec(page.text)?.[1];
  expect(href).toMatch(/^\/password\/forgotten\?from=/);
  const ask = await browser.open(href!.replace(/&amp;/g, '&'));
  expect(ask.status).toBe(200);
  expect(ask.text).toContain('name="email"');
});

test('a link never changes the password without the authenticator code; with it, once; the authenticator is untouched', async () => {
  const { pharmid: p } = t;
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  // Signed in elsewhere before: that session and its refresh token must end.
  const before = await signInTo(t.portal, new Browser(p.url), person, p.clock, { scope: 'openid email profile sites offline_access', prompt: 'consent' });
  p.clock.advance(30);

  const browser = new Browser(p.url);
  await askForLink(browser, person.email);
  const link = await mailedLink(p, person.email);
  const page = await browser.open(link);
  expect(page.status).toBe(200);
  expect(page.text).toContain('name="code"');

  // The link alone: refused, and the old password still works.
  const newPassword = `quince harbour ${randomBytes(3).toString('hex')}`;
  const without = await browser.submit('/password/reset', { new_password: newPassword });
  expect(without.status).toBe(400);
  expect(errorMessages(without.text).join(' ')).toMatch(/6-digit code/);
  const wrong = await browser.submit('/password/reset', { code: '000000', new_password: newPassword });
  expect(wrong.status).toBe(401);
  // A recovery code field sent to the authenticator page is not a way around it either: an empty one is refused.
  const emptyRecovery = await browser.submit('/password/reset', { recovery_code: '', new_password: newPassword });
  expect(emptyRecovery.status).toBe(400);
  expect(await signsInWith(person, person.password)).toContain('otp');
  p.clock.advance(30);

  const done = await browser.submit('/password/reset', { code: totpCode(person.totpSecret, p.clock.now()), new_password: newPassword });
  expect(done.status).toBe(200);
  expect(done.text).toContain('id="password-changed"');
  p.clock.advance(30);

  // Works once.
  const again = await browser.open(link);
  expect(again.status).toBe(410);
  expect(answerOf(again)).toMatch(/does not work any more/);

  // Everything from before ends.
  await expect(t.portal.refresh(before.tokens.refresh_token!)).rejects.toBeInstanceOf(oidc.ResponseBodyError);
  // The new password signs in, and still asks the same authenticator (untouched).
  const steps = await signsInWith(person, newPassword);
  expect(steps).toEqual(expect.arrayContaining(['password', 'otp']));
  expect(steps).not.toContain('enrol');
  expect(mailTo(p, person.email).some((m) => m.subject === CHANGED_SUBJECT)).toBe(true);
});

test('a recovery code stands in for the authenticator: it is spent, the authenticator stays', async () => {
  const { pharmid: p } = t;
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const browser = new Browser(p.url);
  await askForLink(browser, person.email);
  const page = await browser.open(await mailedLink(p, person.email));
  const recoveryUrl = /<a href="([^"]+)">I cannot use my authenticator: use a recovery code<\/a>/.exec(page.text)![1]!.replace(/&amp;/g, '&');
  const recoveryPage = await browser.open(recoveryUrl);
  expect(recoveryPage.text).toContain('name="recovery_code"');
  const newPassword = `damson lantern ${randomBytes(3).toString('hex')}`;
  const bad = await browser.submit('/password/reset', { recovery_code: 'ABCDEFGHJKMN', new_password: newPassword });
  expect(bad.status).toBe(401);
  const done = await browser.submit('/password/reset', { recovery_code: person.recoveryCodes[0]!, new_password: newPassword });
  expect(done.status).toBe(200);
  const steps = await signsInWith(person, newPassword);
  expect(steps).toContain('otp');
  expect(steps).not.toContain('enrol');
});

test('a person not yet enrolled chooses a password with the link alone, and then sets up an authenticator at sign-in', async () => {
  const { pharmid: p } = t;
  const person = await makePerson(p.deps);
  const browser = new Browser(p.url);
  await askForLink(browser, person.email);
  const page = await browser.open(await mailedLink(p, person.email));
  expect(page.text).not.toContain('name="code"');
  const newPassword = `medlar window ${randomBytes(3).toString('hex')}`;
  const done = await browser.submit('/password/reset', { new_password: newPassword });
  expect(done.status).toBe(200);
  expect(await signsInWith(person, newPassword)).toContain('enrol');
});

test('a link expires after 60 minutes', async () => {
  const { pharmid: p } = t;
  const person = await makePerson(p.deps);
  const browser = new Browser(p.url);
  await askForLink(browser, person.email);
  const link = await mailedLink(p, person.email);
  expect((await browser.open(link)).status).toBe(200);
  const { rows } = await p.deps.db.query<{ minutes: number }>(
    "SELECT round(extract(epoch FROM expires_at - created_at) / 60)::int AS minutes FROM activation_codes WHERE user_id = $1 AND purpose = 'forgotten-password'", [person.id],
  );
  expect(rows[0]!.minutes).toBe(60);
  await p.deps.db.query("UPDATE activation_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND purpose = 'forgotten-password'", [person.id]);
  // The page was open when the hour ended: its form is refused too.
  const late = await browser.submit('/password/reset', { new_password: 'rowan kettle meadow' });
  expect(late.status).toBe(410);
  expect((await browser.open(link)).status).toBe(410);
  expect(await signsInWith(person, person.password)).toContain('password');
});

test('the token is stored hashed, and never in the request path', async () => {
  const { pharmid: p } = t;
  const person = await makePerson(p.deps);
  await askForLink(new Browser(p.url), person.email);
  const link = await mailedLink(p, person.email);
  const token = new URL(link).searchParams.get('token')!;
  expect(new URL(link).pathname).toBe('/password/reset');
  const { rows } = await p.deps.db.query<{ code_hash: string }>("SELECT code_hash FROM activation_codes WHERE user_id = $1 AND purpose = 'forgotten-password'", [person.id]);
  expect(rows[0]!.code_hash).not.toContain(token);
});

test('every email gets the same answer, in the same time; only a known, active person is mailed', async () => {
  const { pharmid: p } = t;
  const rounds = 16;
  const known = await Promise.all(Array.from({ length: rounds }, () => makePerson(p.deps)));
  const times = { known: [] as number[], unknown: [] as number[] };
  const answers = new Set<string>();
  const statuses = new Set<number>();
  for (let i = 0; i < rounds; i += 1) {
    await freshAddress();
    for (const [kind, email] of [['known', known[i]!.email], ['unknown', `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`]] as const) {
      const browser = new Browser(p.url);
      await browser.open('/password/forgotten');
      const started = performance.now();
      const res = await browser.submit('/password/forgotten', { email });
      times[kind].push(performance.now() - started);
      statuses.add(res.status);
      answers.add(answerOf(res).replace(email, 'EMAIL'));
    }
  }
  expect([...statuses]).toEqual([200]);
  expect(answers.size).toBe(1);
  // The link is written and mailed after the answer: a known email answers no slower
  // (Mann-Whitney U, as enumeration-timing.test.ts: |z| near 4.3 when every known answer is the slower).
  expect(mannWhitneyZ(times.known, times.unknown)).toBeLessThan(3);
  await mailedLink(p, known[0]!.email);
  expect(mailTo(p, 'nobody.')).toHaveLength(0);
});

test('links are throttled per email (known or not alike) and per address', async () => {
  const { pharmid: p } = t;
  const person = await makePerson(p.deps);
  const unknown = `nobody.${randomBytes(4).toString('hex')}@example.nhs.uk`;
  for (const email of [person.email, unknown]) {
    const browser = new Browser(p.url);
    for (let i = 0; i < 3; i += 1) expect((await askForLink(browser, email)).status).toBe(200);
    const fourth = await askForLink(browser, email);
    expect(fourth.status).toBe(429);
    expect(errorMessages(fourth.text).join(' ')).toMatch(/Too many links asked for/);
  }
  await mailedLink(p, person.email, 3);
  await sleep(200);
  expect(mailTo(p, person.email).filter((m) => m.subject === LINK_SUBJECT)).toHaveLength(3);
  // Per address: many different emails from one address.
  const browser = new Browser(p.url);
  const statuses: number[] = [];
  for (let i = 0; i < 20; i += 1) statuses.push((await askForLink(browser, `many.${i}.${randomBytes(3).toString('hex')}@example.nhs.uk`)).status);
  expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
});

test('someone who came from a portal can carry on to it', async () => {
  const { pharmid: p } = t;
  const person = await makePerson(p.deps);
  const browser = new Browser(p.url);
  const signIn = await browser.open((await t.portal.authorizationRequest()).url);
  const from = /href="\/password\/forgotten\?from=([^"]+)"/.exec(signIn.text)![1]!;
  await askForLink(browser, person.email, from);
  const link = await mailedLink(p, person.email);
  await browser.open(link);
  expect(inputValue(browser.lastPage, 'from')).toBe(from);
  const done = await browser.submit('/password/reset', { new_password: `sloe bramble ${randomBytes(3).toString('hex')}` });
  expect(done.status).toBe(200);
  const carryOn = /<a class="nhsuk-button" href="([^"]+)" id="carry-on">Carry on to ([^<]+)<\/a>/.exec(done.text);
  expect(carryOn?.[1]).toBe(`/interaction/${from}`);
  const back = await browser.open(carryOn![1]!);
  expect(formAction(back.text, '/interaction/')).toMatch(/\/password$/);
});
