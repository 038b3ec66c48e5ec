import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { driveSignIn, recoveryCodesOf, signInTo, totpCode, type Person } from '../helpers/sign-in.js';
import { answer, errorMessages, expectPage, openAuthorization, portalRedirect, textOf, withAuthenticator } from '../helpers/pages.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf, type SoftKey } from '../helpers/webauthn.js';
import { listAuditEventsForUser } from '../../src/db/queries/audit-events.js';
import { lockUser } from '../../src/db/queries/users.js';
import { listPasskeys } from '../../src/domain/factors/passkeys.js';
import { addPasskey, authenticationOptions, provePasskey, registrationOptions } from '../../src/domain/factors/passkey-ceremonies.js';
import type { Response } from 'supertest';

/**
 * Passkeys and security keys (issue 12), driven as a browser and a key
 * would: test/helpers/webauthn.ts builds real WebAuthn answers (an ES256
 * key, clientDataJSON, authenticatorData, a `none` attestation) and the
 * server checks them with @simplewebauthn/server. The portal is a real
 * openid-client; the tokens' amr and acr are the contract's.
 */

let p: TestPharmid;
let portal: Portal;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-passkeys-'));
  p = await startTestPharmid({ PHARMID_DATA_DIR: dataDir });
  portal = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmOutcomes' }));
});
afterAll(async () => {
  await p.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const origin = () => new URL(p.config.issuer).origin;

function mailsTo(email: string): string[] {
  let files: string[] = [];
  try { files = readdirSync(join(dataDir, 'outbox')); } catch { return []; }
  return files.map((f) => readFileSync(join(dataDir, 'outbox', f), 'utf8')).filter((m) => m.includes(email));
}

const actions = async (userId: string) => (await listAuditEventsForUser(p.deps.db, userId)).map((e) => `${e.action}:${e.outcome}`);

/** The person's passkey step (or another page) after their password, in a fresh browser. */
async function afterPassword(person: Person, params: Record<string, string> = {}, browser = new Browser(p.url)) {
  const { req, res } = await openAuthorization(portal, browser, params);
  const next = await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password });
  return { browser, req, page: next };
}

/** A person who set up a passkey (and no app) at their first sign-in, through the enrolment pages. */
async function withPasskey(opts: { synced?: boolean } = {}) {
  const person = await makePerson(p.deps);
  const authenticator = new SoftAuthenticator(origin());
  const { browser, req, page } = await afterPassword(person);
  const enrol = expectPage(page, 'enrol');
  // The choice: the app's set-up (as before), or a passkey.
  expect(textOf(enrol.text)).toMatch(/use a passkey or security key instead/i);
  const passkeyPage = await browser.open(/href="([^"]*\/enrol-passkey)"/.exec(enrol.text)![1]!);
  const options = passkeyOptionsOf(passkeyPage.text);
  expect(options.rp.id).toBe('localhost');
  const { key, response } = authenticator.create(options, { synced: opts.synced });
  const codesPage = expectPage(await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Blue key', credential: response }), 'recovery-codes');
  const recoveryCodes = recoveryCodesOf(codesPage.text);
  expect(recoveryCodes).toHaveLength(10);
  const done = portalRedirect(await answer(browser, codesPage, {}))!;
  const tokens = await portal.exchange(done.href, req);
  const enrolled: Person & { id: string } = { ...person, recoveryCodes, passkey: { authenticator, key } };
  return { person: enrolled, authenticator, key, claims: tokens.claims()!, browser };
}

/** Posts a passkey answer to the page's passkey form. */
function usePasskey(browser: Browser, page: Response, authenticator: SoftAuthenticator, key: SoftKey, c: Parameters<SoftAuthenticator['get']>[2] = {}) {
  return browser.submit(passkeyActionOf(page.text), { credential: authenticator.get(passkeyOptionsOf(page.text), key, c) });
}

describe('setting up a passkey at first sign-in, and signing in with it', () => {
  test('enrolment offers a passkey; after it, recovery codes, and the ID token says pwd + hwk, acr phr; the person is emailed', async () => {
    const { person, claims } = await withPasskey();
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe('phr');
    const keys = await listPasskeys(p.deps, person.id);
    expect(keys.map((k) => k.name)).toEqual(['Blue key']);
    expect(await actions(person.id)).toContain('passkey.add:success');
    expect(mailsTo(person.email).join('\n')).toMatch(/passkey or security key was added[\s\S]*"Blue key"/);
  });

  test('password + passkey: the passkey step is asked (no app), amr pwd hwk mfa, acr phr; "last used" is recorded', async () => {
    const { person, authenticator, key } = await withPasskey();
    const { browser, req, page } = await afterPassword(person);
    const step = expectPage(page, 'passkey');
    expect(textOf(step.text)).toMatch(/use a recovery code/i);
    const tokens = await portal.exchange(portalRedirect(await usePasskey(browser, step, authenticator, key))!.href, req);
    expect(tokens.claims()!.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(tokens.claims()!.acr).toBe('phr');
    expect((await listPasskeys(p.deps, person.id))[0]!.lastUsedAt).not.toBeNull();
    expect(await actions(person.id)).toContain('passkey.use:success');
  });

  test('a synced passkey is software-held: amr swk', async () => {
    const { claims } = await withPasskey({ synced: true });
    expect(claims.amr).toEqual(['pwd', 'swk', 'mfa']);
  });

  test('passkey alone, from the sign-in page: amr hwk user mfa, acr phr, no password asked', async () => {
    const { person, authenticator, key } = await withPasskey();
    const browser = new Browser(p.url);
    const { req, res } = await openAuthorization(portal, browser);
    expect(res.text).toContain('autocomplete="username webauthn"');
    const options = passkeyOptionsOf(res.text);
    expect(options.allowCredentials).toEqual([]);
    expect(options.userVerification).toBe('required');
    const back = portalRedirect(await usePasskey(browser, res, authenticator, key))!;
    const claims = (await portal.exchange(back.href, req)).claims()!;
    expect(claims.sub).toBe(person.id);
    expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
    expect(claims.acr).toBe('phr');
  });

  test('a person with an app and a passkey: the code page offers the passkey, and either works', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const authenticator = new SoftAuthenticator(origin());
    const bind = `test:${person.id}`;
    const { response, key } = authenticator.create(await registrationOptions(p.deps, { ...person, name: 'Sam Patel' }, bind));
    await addPasskey(p.deps, { ...person, name: 'Sam Patel' }, bind, response, 'Dispensary PC', { actor: { kind: 'cli' }, ip: '127.0.0.1', by: 'a test' });
    const { browser, req, page } = await afterPassword(person);
    const otp = expectPage(page, 'otp');
    const passkeyPage = expectPage(await browser.open(/href="([^"]+)" id="use-passkey"/.exec(otp.text)![1]!), 'passkey');
    expect(textOf(passkeyPage.text)).toMatch(/code from your authenticator app instead/i);
    const claims = (await portal.exchange(portalRedirect(await usePasskey(browser, passkeyPage, authenticator, key))!.href, req)).claims()!;
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    // The code still works, and gives mfa.
    p.clock.advance(30);
    const again = await signInTo(portal, new Browser(p.url), person, p.clock);
    expect(again.steps).toEqual(['password', 'otp']);
    expect(again.claims.acr).toBe('mfa');
  });
});

describe('refused', () => {
  test('a replayed assertion: the challenge is taken once (a key without a counter, so only the challenge stops it)', async () => {
    const { person, authenticator, key } = await withPasskey({ synced: true });
    const bind = `test:replay:${person.id}`;
    const answerOnce = authenticator.get(await authenticationOptions(p.deps, bind, person.id), key, { counter: 0 });
    await expect(provePasskey(p.deps, bind, answerOnce, { userId: person.id, ip: '127.0.0.1' })).resolves.toMatchObject({ userId: person.id });
    await expect(provePasskey(p.deps, bind, answerOnce, { userId: person.id, ip: '127.0.0.1' })).rejects.toMatchObject({ status: 401, field: 'credential' });
    // And through the pages: an answer captured from one sign-in does not work in the next.
    const first = await afterPassword(person);
    const captured = authenticator.get(passkeyOptionsOf(first.page.text), key, { counter: 0 });
    expect(portalRedirect(await first.browser.submit(passkeyActionOf(first.page.text), { credential: captured }))).toBeDefined();
    const second = await afterPassword(person);
    const replayed = await second.browser.submit(passkeyActionOf(second.page.text), { credential: captured });
    expect(replayed.status).toBe(401);
    expect(portalRedirect(replayed)).toBeUndefined();
    expect(errorMessages(replayed.text).join(' ')).toMatch(/could not accept that passkey|took too long/i);
  });

  test('an assertion made for another origin (a look-alike phishing site)', async () => {
    const { person, authenticator, key } = await withPasskey();
    const { browser, page } = await afterPassword(person);
    const res = await usePasskey(browser, page, authenticator, key, { origin: 'https://pharmid.example-login.com' });
    expect(res.status).toBe(401);
    expect(portalRedirect(res)).toBeUndefined();
    expect(expectPage(res, 'passkey', 401).text).toMatch(/could not accept that passkey/);
  });

  test('a credential for another RP ID: refused at registration and at sign-in', async () => {
    const person = await makePerson(p.deps);
    const authenticator = new SoftAuthenticator(origin());
    const { browser, page } = await afterPassword(person);
    const passkeyPage = await browser.open(/href="([^"]*\/enrol-passkey)"/.exec(page.text)![1]!);
    const { response } = authenticator.create(passkeyOptionsOf(passkeyPage.text), { rpId: 'evil.example' });
    const res = await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Blue key', credential: response });
    expect(res.status).toBe(401);
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);

    const enrolled = await withPasskey();
    const signIn = await afterPassword(enrolled.person);
    const wrongRp = await usePasskey(signIn.browser, signIn.page, enrolled.authenticator, enrolled.key, { rpId: 'evil.example' });
    expect(wrongRp.status).toBe(401);
    expect(portalRedirect(wrongRp)).toBeUndefined();
  });

  test('a removed passkey', async () => {
    const { person, authenticator, key, browser } = await withPasskey();
    // A second key first: the last one is never removed.
    const bind = `test:second:${person.id}`;
    const second = authenticator.create(await registrationOptions(p.deps, { ...person, name: 'Sam Patel' }, bind));
    await addPasskey(p.deps, { ...person, name: 'Sam Patel' }, bind, second.response, 'Spare key', { actor: { kind: 'cli' }, ip: '127.0.0.1', by: 'a test' });
    const account = await browser.open('/account');
    expect(textOf(account.text)).toContain('Blue key');
    const blue = (await listPasskeys(p.deps, person.id)).find((k) => k.name === 'Blue key')!;
    const confirm = await browser.open(`/account/passkeys/${blue.id}/remove`);
    const done = await browser.submit(formAction(confirm.text, '/remove')!, {});
    expect(textOf(done.text)).toMatch(/passkey or security key is removed/);
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name)).toEqual(['Spare key']);
    expect(mailsTo(person.email).join('\n')).toMatch(/was removed[\s\S]*"Blue key"/);

    const { browser: b2, page } = await afterPassword(person);
    const res = await usePasskey(b2, page, authenticator, key);
    expect(res.status).toBe(401);
    expect(portalRedirect(res)).toBeUndefined();
    const alone = new Browser(p.url);
    const { res: signInPage } = await openAuthorization(portal, alone);
    expect((await usePasskey(alone, signInPage, authenticator, key)).status).toBe(401);
  });

  test('another person\'s passkey, presented at this person\'s passkey step', async () => {
    const mallory = await withPasskey();
    const victim = await withPasskey();
    const { browser, page } = await afterPassword(victim.person);
    const res = await usePasskey(browser, page, mallory.authenticator, mallory.key);
    expect(res.status).toBe(401);
    expect(portalRedirect(res)).toBeUndefined();
    expect(await actions(victim.person.id)).toContain('passkey.use:failure');
  });

  test('a passkey without user verification: a second factor only, never a sign-in alone', async () => {
    const { person, authenticator, key } = await withPasskey();
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const alone = await usePasskey(browser, res, authenticator, key, { uv: false });
    expect(alone.status).toBe(401);
    expect(portalRedirect(alone)).toBeUndefined();
    expect(expectPage(alone, 'password', 401).text).toMatch(/could not accept that passkey/);
    // After the password, the same key without verification is a second factor.
    const after = await afterPassword(person);
    expect(portalRedirect(await usePasskey(after.browser, after.page, authenticator, key, { uv: false }))).toBeDefined();
  });

  test('a signature counter that goes backwards (a cloned key)', async () => {
    const { person, authenticator, key } = await withPasskey();
    const first = await afterPassword(person);
    expect(portalRedirect(await usePasskey(first.browser, first.page, authenticator, key, { counter: 7 }))).toBeDefined();
    const clone = await afterPassword(person);
    const res = await usePasskey(clone.browser, clone.page, authenticator, key, { counter: 3 });
    expect(res.status).toBe(401);
    expect(portalRedirect(res)).toBeUndefined();
  });

  test('a locked or disabled person cannot sign in with a passkey alone', async () => {
    const { person, authenticator, key } = await withPasskey();
    await lockUser(p.deps.db, person.id, new Date());
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const locked = await usePasskey(browser, res, authenticator, key);
    expect(locked.status).toBe(429);
    expect(portalRedirect(locked)).toBeUndefined();
  });

  test('nonsense in the credential field: a 400 with a message, no 500', async () => {
    const { person } = await withPasskey();
    const { browser, page } = await afterPassword(person);
    for (const credential of ['', 'not json', '{"id": 5}', '[]']) {
      const res = await browser.submit(passkeyActionOf(page.text), { credential });
      expect(res.status).toBe(400);
      expect(errorMessages(res.text).join(' ')).toMatch(/passkey/);
    }
  });

  test('one key cannot be registered to two people', async () => {
    const { authenticator, key, person } = await withPasskey();
    const other = await makePerson(p.deps);
    const bind = `test:dup:${other.id}`;
    const options = await registrationOptions(p.deps, { ...other, name: 'Sam Patel' }, bind);
    // The same credential id, answered for the other person.
    const { response } = authenticator.create(options, { sameAs: key });
    await expect(addPasskey(p.deps, { ...other, name: 'Sam Patel' }, bind, response, 'Borrowed', { actor: { kind: 'cli' }, ip: '127.0.0.1', by: 'a test' }))
      .rejects.toMatchObject({ status: 409, field: 'credential' });
    expect(await listPasskeys(p.deps, other.id)).toEqual([]);
    expect(await listPasskeys(p.deps, person.id)).toHaveLength(1);
  });
});

describe('acr_values=phr', () => {
  test('a session made with a code steps up to the passkey alone (no password), and the new token says phr', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const authenticator = new SoftAuthenticator(origin());
    const bind = `test:phr:${person.id}`;
    const { response, key } = authenticator.create(await registrationOptions(p.deps, { ...person, name: 'Sam Patel' }, bind));
    await addPasskey(p.deps, { ...person, name: 'Sam Patel' }, bind, response, 'Blue key', { actor: { kind: 'cli' }, ip: '127.0.0.1', by: 'a test' });
    const browser = new Browser(p.url);
    const code = await signInTo(portal, browser, person, p.clock);
    expect(code.claims.acr).toBe('mfa');

    const req = await portal.authorizationRequest({ acr_values: 'phr' });
    const step = expectPage(await browser.open(req.url), 'passkey');
    expect(textOf(step.text)).not.toMatch(/authenticator app instead/);
    const claims = (await portal.exchange(portalRedirect(await usePasskey(browser, step, authenticator, key))!.href, req)).claims()!;
    expect(claims.acr).toBe('phr');
    expect(claims.amr).toContain('hwk');
    // The passkey session satisfies mfa and phr with no page at all.
    for (const acr of ['mfa', 'phr']) {
      const again = await portal.authorizationRequest({ acr_values: acr });
      const res = await browser.open(again.url);
      expect((await portal.exchange(portalRedirect(res)!.href, again)).claims()!.acr).toBe('phr');
    }
  });

  test('with no passkey, a plain page says the portal needs one and how to add it', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    await signInTo(portal, browser, person, p.clock);
    const req = await portal.authorizationRequest({ acr_values: 'phr' });
    const page = await browser.open(req.url);
    expect(page.status).toBe(200);
    expect(textOf(page.text)).toMatch(/PharmOutcomes needs a passkey or security key/);
    expect(page.text).toContain('href="/account/passkeys/add"');
    // Going back tells the portal the person did not sign in.
    const back = portalRedirect(await browser.submit(formAction(page.text, '/abort')!, {}))!;
    expect(back.searchParams.get('error')).toBe('access_denied');
  });

  test('a fresh sign-in asking phr: password, then the passkey, never the app', async () => {
    const { person, authenticator, key } = await withPasskey();
    const { browser, req, page } = await afterPassword(person, { acr_values: 'phr' });
    const claims = (await portal.exchange(portalRedirect(await usePasskey(browser, expectPage(page, 'passkey'), authenticator, key))!.href, req)).claims()!;
    expect(claims.acr).toBe('phr');
  });
});

describe('the account page', () => {
  test('add a passkey after proving the app\'s code; the name is checked; it is listed with when it was last used', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const first = await browser.agent.get('/account').redirects(0);
    p.clock.advance(30);
    const { page: account } = await driveSignIn(browser, first.headers.location!, person, p.clock);
    expect(textOf(account!.text)).toMatch(/Passkeys and security keys[\s\S]*You have none/);
    // Straight to the new-key page: the proof comes first.
    const prove = await browser.open('/account/passkeys/new');
    expect(browser.visited.at(-1)).toBe('/account/passkeys/add');
    p.clock.advance(30);
    const newPage = await browser.submit('/account/passkeys/add', { code: totpCode(person.totpSecret, p.clock.now()) });
    expect(browser.visited.at(-1)).toBe('/account/passkeys/new');
    const authenticator = new SoftAuthenticator(origin());
    const bad = await browser.submit(passkeyActionOf(newPage.text), { name: '', credential: authenticator.create(passkeyOptionsOf(newPage.text)).response });
    expect(bad.status).toBe(400);
    expect(errorMessages(bad.text).join(' ')).toMatch(/Give this key a name/);
    const { response } = authenticator.create(passkeyOptionsOf(bad.text));
    const done = await browser.submit(passkeyActionOf(bad.text), { name: 'Dispensary PC', credential: response });
    expect(textOf(done.text)).toMatch(/Your passkey or security key is added/);
    expect(textOf(done.text)).toMatch(/Dispensary PC[\s\S]*Last used: Not used yet/);
    expect(prove.status).toBe(200);
    // Renamed: a name too long is refused on the form; a good one is saved.
    const key = (await listPasskeys(p.deps, person.id))[0]!;
    const rename = await browser.open(`/account/passkeys/${key.id}/rename`);
    const tooLong = await browser.submit(formAction(rename.text, '/rename')!, { name: 'x'.repeat(61) });
    expect(tooLong.status).toBe(400);
    expect(errorMessages(tooLong.text).join(' ')).toMatch(/60 characters or fewer/);
    expect(textOf((await browser.submit(formAction(tooLong.text, '/rename')!, { name: 'Back office PC' })).text)).toMatch(/new name[\s\S]*Back office PC/);
    // Removing it is allowed: the app remains.
    const confirm = await browser.open(`/account/passkeys/${key.id}/remove`);
    expect(textOf((await browser.submit(formAction(confirm.text, '/remove')!, {})).text)).toMatch(/is removed/);
    expect(await actions(person.id)).toEqual(expect.arrayContaining(['passkey.add:success', 'passkey.remove:success']));
  });

  test('a person with only a passkey gets new recovery codes by proving the passkey (the page has no code box)', async () => {
    const { person, authenticator, key, browser } = await withPasskey();
    const prove = await browser.open('/account/recovery-codes');
    expect(prove.text).not.toContain('name="code"');
    const shown = await browser.submit(passkeyActionOf(prove.text), { credential: authenticator.get(passkeyOptionsOf(prove.text), key) });
    const codes = recoveryCodesOf(shown.text);
    expect(codes).toHaveLength(10);
    expect(codes).not.toEqual(expect.arrayContaining([person.recoveryCodes![0]]));
  });

  test('the only factor cannot be removed: the page says what to do instead', async () => {
    const { person, browser } = await withPasskey();
    const key = (await listPasskeys(p.deps, person.id))[0]!;
    const confirm = await browser.open(`/account/passkeys/${key.id}/remove`);
    const res = await browser.submit(formAction(confirm.text, '/remove')!, {});
    expect(res.status).toBe(409);
    expect(errorMessages(res.text).join(' ')).toMatch(/only way to prove it is you/);
    expect(await listPasskeys(p.deps, person.id)).toHaveLength(1);
    expect((await browser.open('/account/passkeys/not-a-uuid/remove')).status).toBe(404);
  });
});
