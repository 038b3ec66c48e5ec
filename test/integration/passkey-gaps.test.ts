import type { TestPharmid } from '../helpers/pharmid.js';
import { startWithPortal } from '../helpers/with-portal.js';
import { raceBehindRow } from '../helpers/row-race.js';
import { Browser, formAction } from '../helpers/browser.js';
import type { Portal } from '../helpers/portal.js';
import { makePerson, makeSite } from '../helpers/factories.js';
import { enrolmentOf, recoveryCodesOf, totpCode, type Person } from '../helpers/sign-in.js';
import { answer, errorMessages, expectPage, openAuthorization, portalRedirect, textOf, withAuthenticator } from '../helpers/pages.js';
import { mailTo } from '../helpers/mail.js';
import { sleep } from '../helpers/portals.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf, type SoftKey } from '../helpers/webauthn.js';
import { listAuditEventsForUser } from '../../src/db/queries/audit-events.js';
import { listPasskeys } from '../../src/domain/factors/passkeys.js';
import { addPasskey, registrationOptions } from '../../src/domain/factors/passkey-ceremonies.js';
import { hasAuthenticator } from '../../src/domain/factors/authenticators.js';
import { readiness, REASON_WORDS } from '../../src/domain/readiness.js';
import { setRolloutPolicy } from '../../src/domain/rollout.js';
import { resetMfa } from '../../src/domain/users.js';
import { rolloutCommands } from '../../src/cli/rollout-commands.js';
import type { Response } from 'supertest';

/**
 * The gaps left around passkeys: the forgotten-password link, adding an app
 * with only a passkey, a passkey after a recovery code, the phr page for a
 * lost key, readiness under a policy that requires passkeys, and an MFA
 * reset racing a key being added on the account page. Real WebAuthn answers
 * from test/helpers/webauthn.ts, a real portal, real Postgres and Redis.
 */

let p: TestPharmid;
let portal: Portal;
beforeAll(async () => { ({ p, portal } = await startWithPortal()); });
afterAll(() => p.stop());

const origin = () => new URL(p.config.issuer).origin;
const cli = { kind: 'cli' } as const;
const actionsOf = async (userId: string) => (await listAuditEventsForUser(p.deps.db, userId)).map((e) => e.action);

/** A person who set up a passkey (and no app) at their first sign-in, signed in to pharmid in `browser`. */
async function withPasskey(site?: string) {
  const person = await makePerson(p.deps, site ? { site } : {});
  const authenticator = new SoftAuthenticator(origin());
  const browser = new Browser(p.url);
  const { req, res } = await openAuthorization(portal, browser);
  const enrol = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'enrol');
  const passkeyPage = await browser.open(/href="([^"]*\/enrol-passkey)"/.exec(enrol.text)![1]!);
  const { key, response } = authenticator.create(passkeyOptionsOf(passkeyPage.text));
  const codesPage = expectPage(await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Blue key', credential: response }), 'recovery-codes');
  const recoveryCodes = recoveryCodesOf(codesPage.text);
  await portal.exchange(portalRedirect(await answer(browser, codesPage, {}))!.href, req);
  const enrolled: Person & { id: string } = { ...person, recoveryCodes, passkey: { authenticator, key } };
  return { person: enrolled, authenticator, key, browser };
}

/** Gives a person a passkey directly (as the account page would). */
async function givePasskey(person: { id: string; email: string }, name = 'Dispensary PC') {
  const authenticator = new SoftAuthenticator(origin());
  const bind = `test:${person.id}:${name}`;
  const user = { ...person, name: 'Sam Patel' };
  const { response, key } = authenticator.create(await registrationOptions(p.deps, user, bind));
  await addPasskey(p.deps, user, bind, response, name, { actor: cli, ip: '127.0.0.1', by: 'a test' });
  return { authenticator, key };
}

function usePasskey(browser: Browser, page: Response, authenticator: SoftAuthenticator, key: SoftKey, more: Record<string, string> = {}) {
  return browser.submit(passkeyActionOf(page.text), { ...more, credential: authenticator.get(passkeyOptionsOf(page.text), key) });
}

/** Asks for a forgotten-password link and returns it (it is mailed after the answer). */
async function forgottenLink(browser: Browser, email: string): Promise<string> {
  await browser.open('/password/forgotten');
  await browser.submit('/password/forgotten', { email });
  for (let i = 0; i < 100; i += 1) {
    const mail = mailTo(p, email).filter((m) => m.subject === 'Choose a new pharmid password').at(-1);
    if (mail) return /(http\S+\/password\/reset\?\S+)/.exec(mail.body)![1]!;
    await sleep(50);
  }
  throw new Error('no link mailed');
}

describe('1. the forgotten-password link, for a person whose only factor is a passkey', () => {
  test('the page asks for the passkey with the new password; the key proves it, and the password changes', async () => {
    const { person, authenticator, key } = await withPasskey();
    const browser = new Browser(p.url);
    const page = await browser.open(await forgottenLink(browser, person.email));
    expect(page.status).toBe(200);
    expect(page.text).toContain('data-passkey="authenticate"');
    expect(page.text).not.toContain('name="code"');
    // Without JavaScript the recovery code still works, and the page says so.
    expect(textOf(page.text)).toMatch(/I cannot use my passkey or security key: use a recovery code/);
    expect(textOf(page.text)).not.toMatch(/authenticator app instead/);
    // A bad new password is refused before the key is spent; the page asks for the key again.
    const weak = await usePasskey(browser, page, authenticator, key, { new_password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.text).toContain('data-passkey="authenticate"');
    // Another person's key is refused, and nothing changes.
    const other = await withPasskey();
    const refused = await browser.submit(passkeyActionOf(weak.text), { new_password: 'a brand new long phrase', credential: other.authenticator.get(passkeyOptionsOf(weak.text), other.key) });
    expect(refused.status).toBe(401);
    expect(errorMessages(refused.text).join(' ')).toMatch(/could not accept that passkey/);
    const done = await usePasskey(browser, refused, authenticator, key, { new_password: 'a brand new long phrase' });
    expect(done.status).toBe(200);
    expect(textOf(done.text)).toMatch(/Your password has been changed/);
    const events = await listAuditEventsForUser(p.deps.db, person.id);
    expect(events.find((e) => e.action === 'account.forgotten-password')?.details).toMatchObject({ second_factor: 'passkey' });
  });

  test('a person with an app and a passkey is asked for the code (no JavaScript needed) and may use the passkey instead', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const { authenticator, key } = await givePasskey(person);
    const browser = new Browser(p.url);
    const page = await browser.open(await forgottenLink(browser, person.email));
    expect(page.text).toContain('name="code"');
    const href = /<a href="([^"]+)" id="use-passkey">/.exec(page.text)![1]!.replace(/&amp;/g, '&');
    const passkeyPage = await browser.open(href);
    expect(passkeyPage.text).toContain('data-passkey="authenticate"');
    expect(textOf(passkeyPage.text)).toMatch(/code from your authenticator app instead/);
    expect(textOf((await usePasskey(browser, passkeyPage, authenticator, key, { new_password: 'another long new phrase' })).text)).toMatch(/Your password has been changed/);
  });
});

describe('2. the account page', () => {
  test('a person with only a passkey adds an authenticator app, after proving the passkey; the key stays', async () => {
    const { person, authenticator, key, browser } = await withPasskey();
    const account = await browser.open('/account');
    expect(account.text).toContain('href="/account/authenticator" id="add-app"');
    const prove = await browser.open('/account/authenticator');
    expect(textOf(prove.text)).toMatch(/Add an authenticator app/);
    expect(prove.text).not.toContain('name="code"');
    const enrol = await usePasskey(browser, prove, authenticator, key);
    expect(browser.visited.at(-1)).toBe('/account/authenticator/new');
    expect(textOf(enrol.text)).toMatch(/Set up your authenticator app[\s\S]*Your passkeys keep working/);
    const { secret } = enrolmentOf(enrol.text);
    p.clock.advance(30);
    const codes = await browser.submit(formAction(enrol.text, '/account/authenticator/new')!, { code: totpCode(secret.replace(/\s+/g, ''), p.clock.now()) });
    expect(recoveryCodesOf(codes.text)).toHaveLength(10);
    expect(textOf(codes.text)).toMatch(/Your authenticator app is set up. Your passkeys keep working/);
    expect(await hasAuthenticator(p.deps, person.id)).toBe(true);
    expect(await listPasskeys(p.deps, person.id)).toHaveLength(1);
    expect(mailTo(p, person.email).map((m) => m.subject)).toContain('An authenticator was set up for your pharmid account');
  });

  test('a person with only an app sees "Add a passkey or security key"', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const { req, res } = await openAuthorization(portal, browser);
    const otp = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'otp');
    await portal.exchange(portalRedirect(await answer(browser, otp, { code: totpCode(person.totpSecret, p.clock.now()) }))!.href, req);
    const account = await browser.open('/account');
    expect(account.text).toContain('<a href="/account/passkeys/add" id="add-passkey">Add a passkey or security key</a>');
    expect(account.text).not.toContain('id="add-app"');
  });
});

describe('3. after a recovery code', () => {
  /** Password, then a recovery code in place of the second factor; the choice page. */
  async function recoveryChoice(person: Person, params: Record<string, string> = {}) {
    const browser = new Browser(p.url);
    const { req, res } = await openAuthorization(portal, browser, params);
    const step = await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password });
    const recovery = expectPage(await browser.open(formAction(step.text, '/interaction/')!.replace(/(otp|passkey)$/, 'recovery')), 'recovery');
    const choice = expectPage(await answer(browser, recovery, { recovery_code: person.recoveryCodes!.shift()! }), 'after-recovery');
    return { browser, req, choice };
  }

  test('an app person may set up a passkey in place of the app the code stood in for; new codes follow; no phr from it', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const { browser, req, choice } = await recoveryChoice(person);
    expect(choice.text).toContain('value="new-passkey"');
    const page = expectPage(await answer(browser, choice, { choice: 'new-passkey' }), 'recovery-passkey');
    expect(textOf(page.text)).toMatch(/your old authenticator app stops working/);
    const authenticator = new SoftAuthenticator(origin());
    const { response } = authenticator.create(passkeyOptionsOf(page.text));
    const codes = expectPage(await browser.submit(passkeyActionOf(page.text), { name: 'New key', credential: response }), 'recovery-codes');
    expect(recoveryCodesOf(codes.text)).toHaveLength(10);
    const claims = (await portal.exchange(portalRedirect(await answer(browser, codes, {}))!.href, req)).claims()!;
    expect(claims.acr).toBe('mfa');
    expect(await hasAuthenticator(p.deps, person.id)).toBe(false);
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name)).toEqual(['New key']);
    expect(await actionsOf(person.id)).toEqual(expect.arrayContaining(['passkey.add', 'account.change-authenticator']));
  });

  test('a passkey-only person is asked about their key, and may set up a new one (the lost one stays until they remove it) or an app', async () => {
    const { person } = await withPasskey();
    const { browser, choice } = await recoveryChoice(person);
    expect(textOf(choice.text)).toMatch(/Do you still have your passkey or security key\?/);
    expect(textOf(choice.text)).not.toMatch(/I still have my app/);
    const page = expectPage(await answer(browser, choice, { choice: 'new-passkey' }), 'recovery-passkey');
    // Without JavaScript there is a way on: an app instead.
    const enrol = expectPage(await browser.submit(formAction(page.text, '/recovery-passkey')!, { choice: 'new-authenticator' }), 'enrol');
    expect(enrol.text).toContain('id="totp-secret"');
    const again = await recoveryChoice(person);
    const page2 = expectPage(await answer(again.browser, again.choice, { choice: 'new-passkey' }), 'recovery-passkey');
    const { response } = new SoftAuthenticator(origin()).create(passkeyOptionsOf(page2.text));
    expectPage(await again.browser.submit(passkeyActionOf(page2.text), { name: 'Spare key', credential: response }), 'recovery-codes');
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name).sort()).toEqual(['Blue key', 'Spare key']);
  });
});

describe('4. a portal asking for phr, for a person who lost their only passkey', () => {
  test('the passkey page does not offer a recovery code (it led back to "needs a passkey"); it says what to do', async () => {
    const { person } = await withPasskey();
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser, { acr_values: 'phr' });
    const step = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'passkey');
    expect(step.text).not.toMatch(/href="[^"]*\/recovery"/);
    const text = textOf(step.text);
    expect(text).toMatch(/Lost your passkey or security key\?/);
    expect(text).toMatch(/PharmOutcomes accepts only a passkey or security key. A recovery code or a code from an app cannot be used/);
    expect(text).toMatch(/ask your site administrator to reset your two-step sign-in/);
    expect(step.text).toContain('href="/account" id="account-page"');
    const back = portalRedirect(await browser.submit(formAction(step.text, '/abort')!, {}))!;
    expect(back.searchParams.get('error')).toBe('access_denied');
    // Without phr the recovery code is still offered.
    const plain = new Browser(p.url);
    const { res: res2 } = await openAuthorization(portal, plain);
    const step2 = expectPage(await answer(plain, expectPage(res2, 'password'), { email: person.email, password: person.password }), 'passkey');
    expect(textOf(step2.text)).toMatch(/use a recovery code/);
  });
});

describe('5. readiness under a policy that requires passkeys', () => {
  test('a person with only an app is not ready (no-passkey) at a site whose enforced or dated policy requires phr, in words', async () => {
    const ods = (await makeSite(p.deps, 'Passkey Pharmacy')).ods_code;
    const app = await withAuthenticator(p.deps, await makePerson(p.deps, { site: ods, name: 'Appa Only' }), p.clock);
    await withPasskey(ods);
    const reasonsAt = async () => {
      const [site] = await readiness(p.deps, [ods]);
      return { site: site!, app: site!.notReady.find((n) => n.email === app.email)?.reasons ?? [] };
    };
    expect((await reasonsAt()).app).toEqual([]);
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site: ods, state: 'announced', enforceOn: new Date(p.clock.now().getTime() + 30 * 86400_000).toISOString().slice(0, 10), require: 'phr' });
    const dated = await reasonsAt();
    expect(dated.app).toEqual(['no-passkey']);
    expect(dated.site).toMatchObject({ people: 2, ready: 1 });
    expect(dated.site.counts['no-passkey']).toBe(1);
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site: ods, state: 'enforced', require: 'phr' });
    expect((await reasonsAt()).app).toEqual(['no-passkey']);
    // `pharmid readiness` in words.
    const command = rolloutCommands(() => ({ mailer: p.deps.mailer, reminderDays: 7, issuer: p.config.issuer, issuerSet: true })).find((c) => c.name === 'readiness')!;
    const said = command.say!(await command.run(p.deps, cli, { site: [ods] } as never) as never);
    expect(said).toContain(`${app.email} (Appa Only): ${REASON_WORDS['no-passkey']}`);
    expect(said).toMatch(/only an authenticator app: this site will require a passkey or security key/);
    // An MFA-only policy asks for no passkey.
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site: ods, state: 'enforced', require: 'mfa' });
    expect((await reasonsAt()).app).toEqual([]);
  });
});

describe('6. an MFA reset racing a passkey being added on the account page', () => {
  test('the reset takes the row first: the key posted meanwhile is not added after it', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const { req, res } = await openAuthorization(portal, browser);
    const otp = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'otp');
    await portal.exchange(portalRedirect(await answer(browser, otp, { code: totpCode(person.totpSecret, p.clock.now()) }))!.href, req);
    await browser.open('/account/passkeys/add');
    p.clock.advance(30);
    const newPage = await browser.submit('/account/passkeys/add', { code: totpCode(person.totpSecret, p.clock.now()) });
    expect(browser.visited.at(-1)).toBe('/account/passkeys/new');
    const { response } = new SoftAuthenticator(origin()).create(passkeyOptionsOf(newPage.text));

    // The person's row held, as a slow transaction would; the reset queues for it first, then the key's write.
    const answered = await raceBehindRow(p.deps.db, person.id, () => resetMfa(p.deps, cli, person.email),
      () => browser.submit(passkeyActionOf(newPage.text), { name: 'Late key', credential: response }));
    // No key outlives the reset.
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name)).toEqual([]);
    expect(answered.status).toBe(409);
    expect(errorMessages(answered.text).join(' ')).toMatch(/Your account changed after you showed it was you/);
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    expect(await actionsOf(person.id)).not.toContain('passkey.add');
  });
});
