import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { driveSignIn, enrolmentOf, recoveryCodesOf, signInTo, totpCode, type Person } from '../helpers/sign-in.js';
import { answer, errorMessages, expectPage, openAuthorization, textOf, withAuthenticator } from '../helpers/pages.js';
import { logoutReceiver, silently, type LogoutReceiver } from '../helpers/portals.js';
import { listAuditEventsForUser } from '../../src/db/queries/audit-events.js';

/**
 * /account: where the person is signed in (and signing any of it out, which
 * tells the portals), changing the password, changing the authenticator
 * (the old one stops at once), and new recovery codes (shown once). Every
 * step that checks a password or a code is brute-force limited as sign-in is.
 */

const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

let p: TestPharmid;
let outcomes: Portal;
let refer: Portal;
let referClient: { client_id: string; client_secret?: string };
let outcomesReceiver: LogoutReceiver;
let referReceiver: LogoutReceiver;
let dataDir: string;
beforeAll(async () => {
  // Notices go to the outbox folder here (no SMTP), where a test can read them.
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-account-'));
  p = await startTestPharmid({ PHARMID_DATA_DIR: dataDir });
  [outcomesReceiver, referReceiver] = await Promise.all([logoutReceiver(), logoutReceiver()]);
  outcomes = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmOutcomes', backchannelLogoutUri: outcomesReceiver.url }));
  referClient = await makeClient(p.deps, { name: 'PharmRefer', backchannelLogoutUri: referReceiver.url });
  refer = await Portal.connect(p.config.issuer, referClient);
});
afterAll(async () => {
  await Promise.all([outcomesReceiver.close(), referReceiver.close()]);
  await p.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The notices mailed to an address (outbox files), as text. */
function mailsTo(email: string): string[] {
  const outbox = join(dataDir, 'outbox');
  let files: string[] = [];
  try { files = readdirSync(outbox); } catch { return []; }
  return files.map((f) => readFileSync(join(outbox, f), 'utf8')).filter((m) => m.includes(email));
}

function browserWith(userAgent: string): Browser {
  const browser = new Browser(p.url);
  (browser.agent as unknown as { set(k: string, v: string): void }).set('User-Agent', userAgent);
  return browser;
}

/** Opens /account, signing in through pharmid (password and code) when asked. */
async function openAccount(browser: Browser, person: Person) {
  const first = await browser.agent.get('/account').redirects(0);
  if (first.status === 200) return browser.open('/account');
  p.clock.advance(30);
  const { page } = await driveSignIn(browser, first.headers.location!, person, p.clock);
  expect(page?.status).toBe(200);
  return page!;
}

/** The session cards on the account page. */
function sessionsOn(html: string) {
  return html.split('<div class="nhsuk-card pharmid-session"').slice(1).map((chunk) => {
    const card = chunk.slice(0, chunk.indexOf('</dl>'));
    return { id: /data-session-id="([^"]+)"/.exec(card)![1]!, text: textOf(card), current: card.includes('This browser') };
  });
}

async function auditActions(userId: string) {
  return (await listAuditEventsForUser(p.deps.db, userId)).map((e) => e.action);
}

/** A person signed in to both portals in one browser (Firefox), and to /account in another (Chrome). */
async function twoBrowsers() {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const work = browserWith(FIREFOX);
  const atOutcomes = await signInTo(outcomes, work, person, p.clock);
  const atRefer = await signInTo(refer, work, person, p.clock);
  const desk = browserWith(CHROME);
  const account = await openAccount(desk, person);
  return { person, work, desk, account, atOutcomes, atRefer };
}

describe('where you are signed in', () => {
  test('each browser is listed with when and which portals, and this browser is marked', async () => {
    const { account } = await twoBrowsers();
    const cards = sessionsOn(account.text);
    expect(cards).toHaveLength(2);
    const here = cards.find((c) => c.current)!;
    const there = cards.find((c) => !c.current)!;
    expect(here.text).toContain('Chrome on macOS');
    expect(here.text).toContain('pharmid account pages');
    expect(there.text).toContain('Firefox on Windows');
    expect(there.text).toContain('PharmOutcomes, PharmRefer');
    expect(there.text).not.toContain('pharmid account pages');
    expect(there.text).toMatch(/Signed in \d{1,2} \w+ \d{4} at \d{2}:\d{2}/);
  });

  test('signing out of another session: its portals are told by back-channel logout, its tokens are refused, it cannot sign in silently', async () => {
    const { person, work, desk, account, atOutcomes, atRefer } = await twoBrowsers();
    const there = sessionsOn(account.text).find((c) => !c.current)!;
    const before = [outcomesReceiver.tokens.length, referReceiver.tokens.length];

    const done = await desk.submit(`/account/sessions/${there.id}/end`, {});
    expect(done.status).toBe(200);
    expect(done.text).toContain('That session has been signed out');
    expect(sessionsOn(done.text).map((c) => c.current)).toEqual([true]);

    expect(outcomesReceiver.tokens.length).toBe(before[0]! + 1);
    expect(referReceiver.tokens.length).toBe(before[1]! + 1);
    const sidOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).sid as string;
    expect(sidOf(outcomesReceiver.tokens.at(-1)!)).toBe(atOutcomes.claims.sid);
    expect(sidOf(referReceiver.tokens.at(-1)!)).toBe(atRefer.claims.sid);
    expect((await silently(outcomes, work)).params.error).toBe('login_required');
    await expect(outcomes.refresh(atOutcomes.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // This browser is still signed in.
    expect((await desk.agent.get('/account').redirects(0)).status).toBe(200);
    expect(await auditActions(person.id)).toContain('session.end');
  });

  test('another person\'s session, or one that has ended, cannot be signed out from here: 404', async () => {
    const mine = await twoBrowsers();
    const theirs = await twoBrowsers();
    const theirSession = sessionsOn(theirs.account.text).find((c) => !c.current)!;
    const res = await mine.desk.submit(`/account/sessions/${theirSession.id}/end`, {
      _csrf: /name="_csrf" value="([^"]+)"/.exec(mine.account.text)![1]!,
    });
    expect(res.status).toBe(404);
    expect((await silently(outcomes, theirs.work)).params.code).toBeTruthy();

    const csrf = /name="_csrf" value="([^"]+)"/.exec(mine.account.text)![1]!;
    const myOther = sessionsOn(mine.account.text).find((c) => !c.current)!;
    expect((await mine.desk.submit(`/account/sessions/${myOther.id}/end`, { _csrf: csrf })).status).toBe(200);
    expect((await mine.desk.submit(`/account/sessions/${myOther.id}/end`, { _csrf: csrf })).status).toBe(404);
  });

  test('a sign-out without the form token is refused (403) and ends nothing', async () => {
    const { desk, account, work } = await twoBrowsers();
    const there = sessionsOn(account.text).find((c) => !c.current)!;
    const res = await desk.agent.post(`/account/sessions/${there.id}/end`).type('form').send({}).redirects(0);
    expect(res.status).toBe(403);
    expect((await silently(outcomes, work)).params.code).toBeTruthy();
  });

  test('sign out everywhere: every session ends (this one too), portals are told, and the next page asks to sign in', async () => {
    const { person, work, desk, atRefer } = await twoBrowsers();
    const before = referReceiver.tokens.length;
    const res = await desk.submit('/account/sessions/end-all', {});
    // Back at /account, which now wants a new sign-in.
    expect(textOf(res.text)).not.toContain('Where you are signed in');
    expect((await desk.agent.get('/account').redirects(0)).status).toBe(302);
    expect(referReceiver.tokens.length).toBe(before + 1);
    expect((await silently(refer, work)).params.error).toBe('login_required');
    await expect(refer.refresh(atRefer.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await auditActions(person.id)).toContain('session.end-all');
  });
});

describe('change password', () => {
  test('needs the current password; the new one follows the password policy; then only the new one works', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const desk = new Browser(p.url);
    await openAccount(desk, person);
    const form = await desk.open('/account/password');
    const action = formAction(form.text, '/account/password')!;

    const wrong = await desk.submit(action, { current_password: 'not my password', new_password: 'lantern harbour quietly' });
    expect(wrong.status).toBe(401);
    expect(errorMessages(wrong.text)).toEqual(['Your current password is not right']);

    const common = await desk.submit(action, { current_password: person.password, new_password: 'password1' });
    expect(common.status).toBe(400);
    expect(errorMessages(common.text).join(' ')).toMatch(/most common/);

    const done = await desk.submit(action, { current_password: person.password, new_password: 'lantern harbour quietly' });
    expect(done.status).toBe(200);
    expect(done.text).toContain('Your password has been changed.');
    expect(await auditActions(person.id)).toContain('account.change-password');

    const elsewhere = new Browser(p.url);
    const { res } = await openAuthorization(outcomes, elsewhere);
    expectPage(await answer(elsewhere, res, { email: person.email, password: person.password }), 'password', 401);
    p.clock.advance(30);
    const fresh = await signInTo(outcomes, new Browser(p.url), { ...person, password: 'lantern harbour quietly' }, p.clock);
    expect(fresh.claims.sub).toBe(person.id);
  });

  test('the current password is brute-force limited like sign-in: wrong guesses soon have to wait', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const desk = new Browser(p.url);
    await openAccount(desk, person);
    const form = await desk.open('/account/password');
    const action = formAction(form.text, '/account/password')!;
    const statuses: number[] = [];
    for (let i = 0; i < 8 && !statuses.includes(429); i += 1) {
      statuses.push((await desk.submit(action, { current_password: `guess ${i}`, new_password: 'lantern harbour quietly' })).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses).toContain(429);
    const locked = await desk.submit(action, { current_password: person.password, new_password: 'lantern harbour quietly' });
    expect(locked.status).toBe(429);
    expect(errorMessages(locked.text).join(' ')).toMatch(/Too many wrong passwords/);
  });
});

describe('change authenticator', () => {
  test('prove the current code, set up the new app; the old app stops working at once; new recovery codes shown once', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const oldSecret = person.totpSecret;
    const desk = new Browser(p.url);
    await openAccount(desk, person);
    p.clock.advance(30);
    const prove = await desk.open('/account/authenticator');
    const setup = await desk.submit(formAction(prove.text, '/account/authenticator')!, { code: totpCode(oldSecret, p.clock.now()) });
    expect(setup.status).toBe(200);
    const { secret, otpauth } = enrolmentOf(setup.text);
    expect(secret).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{4})+/);
    expect(otpauth).toContain(encodeURIComponent(person.email));
    const newSecret = secret.replace(/\s+/g, '');

    // A code from the old app does not confirm the new one.
    p.clock.advance(30);
    const notNew = await desk.submit('/account/authenticator/new', { code: totpCode(oldSecret, p.clock.now()) });
    expect(notNew.status).toBe(400);
    const shown = await desk.submit('/account/authenticator/new', { code: totpCode(newSecret, p.clock.now()) });
    expect(shown.status).toBe(200);
    const codes = recoveryCodesOf(shown.text);
    expect(codes).toHaveLength(10);
    expect(shown.text).toContain('Your old one no longer works');
    // Shown once.
    expect((await desk.agent.get('/account/recovery-codes/new').redirects(0)).headers.location).toBe('/account');
    expect(await auditActions(person.id)).toContain('account.change-authenticator');

    // At sign-in: the old app's code is refused, the new one's accepted, and the old recovery codes are gone.
    p.clock.advance(30);
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(outcomes, browser);
    const otp = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }), 'otp');
    expectPage(await answer(browser, otp, { code: totpCode(oldSecret, p.clock.now()) }), 'otp', 401);
    const signedIn = await signInTo(outcomes, new Browser(p.url), { ...person, totpSecret: newSecret }, p.clock);
    expect(signedIn.claims.acr).toBe('mfa');
    p.clock.advance(30);
    const withOldCode = await signInTo(outcomes, new Browser(p.url), { ...person, recoveryCodes: [...person.recoveryCodes] }, p.clock, {}, { useRecoveryCode: true })
      .catch((err: Error) => err);
    expect(withOldCode).toBeInstanceOf(Error);
    const withNewCode = await signInTo(outcomes, new Browser(p.url), { ...person, totpSecret: newSecret, recoveryCodes: codes }, p.clock, {}, { useRecoveryCode: true });
    expect(withNewCode.steps).toEqual(expect.arrayContaining(['recovery', 'enrol']));
  });

  test('the set-up page cannot be reached without proving the current code first', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const desk = new Browser(p.url);
    await openAccount(desk, person);
    const res = await desk.agent.get('/account/authenticator/new').redirects(0);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/account/authenticator');
  });

  test('proving the code is brute-force limited like sign-in: five wrong codes lock the code step, at sign-in too', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const desk = new Browser(p.url);
    await openAccount(desk, person);
    const prove = await desk.open('/account/authenticator');
    const action = formAction(prove.text, '/account/authenticator')!;
    const right = totpCode(person.totpSecret, p.clock.now());
    const wrong = String((Number(right) + 7) % 1_000_000).padStart(6, '0');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) statuses.push((await desk.submit(action, { code: wrong })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    p.clock.advance(30);
    const locked = await desk.submit(action, { code: totpCode(person.totpSecret, p.clock.now()) });
    expect(locked.status).toBe(429);
    // The same lock at sign-in: the code step there is locked as well.
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(outcomes, browser);
    const otp = expectPage(await answer(browser, res, { email: person.email, password: person.password }), 'otp');
    expectPage(await answer(browser, otp, { code: totpCode(person.totpSecret, p.clock.now()) }), 'otp', 429);
  });
});

describe('new recovery codes', () => {
  test('prove the code; ten new codes are shown once; the old codes no longer work, the new ones do', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const desk = new Browser(p.url);
    await openAccount(desk, person);
    p.clock.advance(30);
    const prove = await desk.open('/account/recovery-codes');
    const wrong = await desk.submit(formAction(prove.text, '/account/recovery-codes')!, { code: '12345' });
    expect(wrong.status).toBe(400);
    const shown = await desk.submit(formAction(prove.text, '/account/recovery-codes')!, { code: totpCode(person.totpSecret, p.clock.now()) });
    const codes = recoveryCodesOf(shown.text);
    expect(codes).toHaveLength(10);
    expect(codes.some((c) => person.recoveryCodes.includes(c))).toBe(false);
    expect((await desk.agent.get('/account/recovery-codes/new').redirects(0)).headers.location).toBe('/account');
    expect(await auditActions(person.id)).toContain('account.regenerate-recovery-codes');
    expect((await desk.open('/account')).text).toMatch(/id="recovery-codes-left">10</);

    const old = await signInTo(outcomes, new Browser(p.url), { ...person }, p.clock, {}, { useRecoveryCode: true }).catch((err: Error) => err);
    expect(old).toBeInstanceOf(Error);
    expect(String(old)).toMatch(/recovery code is not right/);
    p.clock.advance(30);
    const fresh = await signInTo(outcomes, new Browser(p.url), { ...person, recoveryCodes: [...codes] }, p.clock, {}, { useRecoveryCode: true });
    expect(fresh.steps).toContain('recovery');
  });
});

describe('what a proof unlocks belongs to the session that gave it', () => {
  /** The same person signed in to /account at the desk and at the till (two browsers). */
  async function deskAndTill() {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const desk = browserWith(CHROME);
    await openAccount(desk, person);
    const till = browserWith(FIREFOX);
    const tillPage = await openAccount(till, person);
    return { person, desk, till, tillPage };
  }

  test('another session of the same person cannot read or confirm the pending authenticator', async () => {
    const { person, desk, till, tillPage } = await deskAndTill();
    p.clock.advance(30);
    const prove = await desk.open('/account/authenticator');
    const setup = await desk.submit(formAction(prove.text, '/account/authenticator')!, { code: totpCode(person.totpSecret, p.clock.now()) });
    const newSecret = enrolmentOf(setup.text).secret.replace(/\s+/g, '');
    expect(newSecret).toMatch(/^[A-Z2-7]{16,}$/);

    // The till, signed in but without the proof, sees no secret and cannot confirm it.
    const look = await till.agent.get('/account/authenticator/new').redirects(0);
    expect(look.status).toBe(303);
    expect(look.headers.location).toBe('/account/authenticator');
    expect(look.text).not.toContain(newSecret.slice(0, 8));
    p.clock.advance(30);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(tillPage.text)![1]!;
    const confirm = await till.agent.post('/account/authenticator/new').type('form')
      .send({ _csrf: csrf, code: totpCode(newSecret, p.clock.now()) }).redirects(0);
    expect(confirm.status).toBe(303);
    expect(confirm.headers.location).toBe('/account/authenticator');
    expect(recoveryCodesOf(confirm.text)).toEqual([]);
    const { rows } = await p.deps.db.query('SELECT secret_sealed FROM totp_credentials WHERE user_id = $1 AND confirmed_at IS NOT NULL', [person.id]);
    expect(rows.map((r) => p.deps.sealer.open(r.secret_sealed))).toEqual([person.totpSecret]);
    // The old authenticator is still the one: the till's session is still signed in and the desk can finish.
    const shown = await desk.submit('/account/authenticator/new', { code: totpCode(newSecret, p.clock.now()) });
    expect(recoveryCodesOf(shown.text)).toHaveLength(10);
  });

  test('another session of the same person cannot take the new recovery codes', async () => {
    const { person, desk, till } = await deskAndTill();
    p.clock.advance(30);
    const prove = await desk.open('/account/recovery-codes');
    // The desk proves its code; the codes wait for the desk's next page.
    const proved = await desk.agent.post('/account/recovery-codes').type('form')
      .send({ _csrf: /name="_csrf" value="([^"]+)"/.exec(prove.text)![1]!, code: totpCode(person.totpSecret, p.clock.now()) }).redirects(0);
    expect(proved.status).toBe(303);
    const atTill = await till.agent.get('/account/recovery-codes/new').redirects(0);
    expect(atTill.status).toBe(303);
    expect(recoveryCodesOf(atTill.text)).toEqual([]);
    const atDesk = await desk.open('/account/recovery-codes/new');
    expect(recoveryCodesOf(atDesk.text)).toHaveLength(10);
    expect(mailsTo(person.email).join('\n')).toContain('New pharmid recovery codes');
  });
});

describe('a new password or authenticator ends the other sessions', () => {
  /** After a change at the desk: the work browser's portals are signed out, tokens from before refused; the desk stays. */
  async function expectOthersEnded(t: Awaited<ReturnType<typeof twoBrowsers>>, deskRefresh: string) {
    expect((await silently(outcomes, t.work)).params.error).toBe('login_required');
    await expect(outcomes.refresh(t.atOutcomes.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(refer.refresh(t.atRefer.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await refer.introspect(t.atRefer.tokens.access_token)).active).toBe(false);
    // This browser's own portal tokens from before are refused too; the browser itself stays signed in.
    await expect(refer.refresh(deskRefresh)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await t.desk.agent.get('/account').redirects(0)).status).toBe(200);
    // At once, single sign-on in this browser gives the portal new tokens that work.
    const again = await silently(refer, t.desk);
    expect(again.params.code).toBeTruthy();
    const fresh = await refer.exchange(again.callback.href, again.req);
    expect((await refer.refresh(fresh.refresh_token!)).access_token).toBeTruthy();
  }

  test('changing the password: other sessions end, tokens from before are refused, this browser stays, and a mail says so', async () => {
    const t = await twoBrowsers();
    const deskRefer = await signInTo(refer, t.desk, t.person, p.clock);
    const form = await t.desk.open('/account/password');
    const done = await t.desk.submit(formAction(form.text, '/account/password')!, { current_password: t.person.password, new_password: 'lantern harbour quietly' });
    expect(done.text).toContain('Your password has been changed.');
    expect(sessionsOn(done.text).map((c) => c.current)).toEqual([true]);
    await expectOthersEnded(t, deskRefer.tokens.refresh_token!);
    expect(mailsTo(t.person.email).join('\n')).toContain('Your pharmid password was changed');
  });

  test('changing the authenticator: other sessions end, tokens from before are refused, this browser stays, and a mail says so', async () => {
    const t = await twoBrowsers();
    const deskRefer = await signInTo(refer, t.desk, t.person, p.clock);
    p.clock.advance(30);
    const prove = await t.desk.open('/account/authenticator');
    const setup = await t.desk.submit(formAction(prove.text, '/account/authenticator')!, { code: totpCode(t.person.totpSecret, p.clock.now()) });
    const newSecret = enrolmentOf(setup.text).secret.replace(/\s+/g, '');
    p.clock.advance(30);
    const shown = await t.desk.submit('/account/authenticator/new', { code: totpCode(newSecret, p.clock.now()) });
    expect(recoveryCodesOf(shown.text)).toHaveLength(10);
    await expectOthersEnded(t, deskRefer.tokens.refresh_token!);
    expect(mailsTo(t.person.email).join('\n')).toContain('Your pharmid authenticator was changed');
  });

  test('a second process sharing the database and store honours it too', async () => {
    // One deployment: the same issuer, database, store and keys, on another port.
    const q = await startTestPharmid({ ISSUER: p.config.issuer }, { backends: p.backends_, secretKey: p.config.secretKey.toString('base64'), cookieKey: p.config.cookieKeys[0]! });
    try {
      const t = await twoBrowsers();
      const basic = `Basic ${Buffer.from(`${referClient.client_id}:${referClient.client_secret}`).toString('base64')}`;
      const refreshAtQ = (token: string) => request(q.url).post('/token').set('Authorization', basic).type('form')
        .send({ grant_type: 'refresh_token', refresh_token: token });
      const userinfoAtQ = (token: string) => request(q.url).get('/me').set('Authorization', `Bearer ${token}`);
      expect((await userinfoAtQ(t.atRefer.tokens.access_token)).status).toBe(200);
      const form = await t.desk.open('/account/password');
      await t.desk.submit(formAction(form.text, '/account/password')!, { current_password: t.person.password, new_password: 'lantern harbour quietly' });
      expect((await userinfoAtQ(t.atRefer.tokens.access_token)).status).toBe(401);
      const refused = await refreshAtQ(t.atRefer.tokens.refresh_token!);
      expect(refused.status).toBe(400);
      expect(refused.body.error).toBe('invalid_grant');
    } finally {
      await q.close();
    }
  });
});
