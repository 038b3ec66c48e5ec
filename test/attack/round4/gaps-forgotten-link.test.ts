import type { TestPharmid } from '../../helpers/pharmid.js';
import { startWithPortal } from '../../helpers/with-portal.js';
import { Browser } from '../../helpers/browser.js';
import type { Portal } from '../../helpers/portal.js';
import { makePerson } from '../../helpers/factories.js';
import { totpCode, type Person } from '../../helpers/sign-in.js';
import { looksLikeStackTrace, textOf, withAuthenticator } from '../../helpers/pages.js';
import { mailTo } from '../../helpers/mail.js';
import { sleep } from '../../helpers/portals.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf } from '../../helpers/webauthn.js';
import { listAuditEventsForUser } from '../../../src/db/queries/audit-events.js';
import { addPasskey, registrationOptions } from '../../../src/domain/factors/passkey-ceremonies.js';
import { checkPassword } from '../../../src/domain/sign-in.js';
import { disableUser } from '../../../src/domain/users.js';
import * as users from '../../../src/db/queries/users.js';
import { bent, expectRefusal, originOf, personWithPasskey } from './support.js';

/**
 * The forgotten-password link's passkey: its challenge belongs to that link
 * (not another person's, not an older link of the same person), only the
 * link's own person's key answers it, the link works once however many
 * proofs race it, an answer is not replayed, and the page says nothing of a
 * person's keys until the link itself is live.
 */

let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;
beforeAll(async () => { ({ p, portal } = await startWithPortal()); });
afterAll(() => p.stop());

const NEW = 'a brand new long phrase';
const changed = (html: string) => /Your password has been changed/.test(textOf(html));
const forgottenDone = async (userId: string) => (await listAuditEventsForUser(p.deps.db, userId)).filter((e) => e.action === 'account.forgotten-password');
const passwordIs = async (email: string, password: string) => (await checkPassword(p.deps, email, password, '127.0.0.9')).ok;

/** Asks for a link and returns the newest one mailed (it is mailed after the answer). */
async function forgottenLink(email: string, before = 0): Promise<string> {
  const browser = new Browser(p.url);
  await browser.open('/password/forgotten');
  await browser.submit('/password/forgotten', { email });
  for (let i = 0; i < 100; i += 1) {
    const mails = mailTo(p, email).filter((m) => m.subject === 'Choose a new pharmid password');
    if (mails.length > before) return /(http\S+\/password\/reset\?\S+)/.exec(mails.at(-1)!.body)![1]!;
    await sleep(50);
  }
  throw new Error('no link mailed');
}
const linkCount = (email: string) => mailTo(p, email).filter((m) => m.subject === 'Choose a new pharmid password').length;
const tokenOf = (link: string) => new URL(link).searchParams.get('token')!;

/** A person with an app, its recovery codes, and a passkey beside it. */
async function appAndPasskey() {
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const authenticator = new SoftAuthenticator(originOf(p));
  const bind = `attack:gaps:${person.id}`;
  const user = { ...person, name: 'Sam Patel' };
  const { key, response } = authenticator.create(await registrationOptions(p.deps, user, bind));
  await addPasskey(p.deps, user, bind, response, 'Blue key', { actor: cli, ip: '127.0.0.1', by: 'a test' });
  return { person: person as Person & { id: string; totpSecret: string; recoveryCodes: string[] }, authenticator, key };
}

describe('whose challenge, whose key', () => {
  test('an answer to link A\'s challenge posted with link B\'s token (another person\'s link) is refused; nothing changes', async () => {
    const x = await personWithPasskey(p, portal);
    const y = await personWithPasskey(p, portal);
    const bx = new Browser(p.url);
    const pageX = await bx.open(await forgottenLink(x.person.email));
    const by = new Browser(p.url);
    const pageY = await by.open(await forgottenLink(y.person.email));
    // Y answers their own page's challenge with their own key, and posts it with X's token.
    const answerY = y.authenticator.get(passkeyOptionsOf(pageY.text), y.key);
    const res = await by.submit(passkeyActionOf(pageY.text), { token: tokenOf(pageX.request.url), new_password: NEW, credential: answerY });
    expectRefusal(res);
    expect(await passwordIs(x.person.email, NEW)).toBe(false);
    // Y's key against X's own challenge: refused too.
    const res2 = await bx.submit(passkeyActionOf(pageX.text), { new_password: NEW, credential: y.authenticator.get(passkeyOptionsOf(pageX.text), y.key) });
    expectRefusal(res2);
    expect(await passwordIs(x.person.email, NEW)).toBe(false);
    expect(await forgottenDone(x.person.id)).toEqual([]);
  });

  test('an older link of the same person: gone once a newer one is asked; its answer does not open the newer link', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    const b = new Browser(p.url);
    const old = await b.open(await forgottenLink(person.email));
    const oldAnswer = authenticator.get(passkeyOptionsOf(old.text), key);
    const newer = await forgottenLink(person.email, linkCount(person.email));
    const b2 = new Browser(p.url);
    await b2.open(newer);
    expect((await b.open(old.request.url)).status).toBe(410);
    const res = await b2.submit(passkeyActionOf(old.text), { token: tokenOf(newer), new_password: NEW, credential: oldAnswer });
    expectRefusal(res);
    expect(await passwordIs(person.email, NEW)).toBe(false);
  });

  test('replay: the answer that changed the password does nothing at the next link', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    const b = new Browser(p.url);
    const page = await b.open(await forgottenLink(person.email));
    const used = authenticator.get(passkeyOptionsOf(page.text), key);
    expect(changed((await b.submit(passkeyActionOf(page.text), { new_password: NEW, credential: used })).text)).toBe(true);
    const next = await forgottenLink(person.email, linkCount(person.email));
    const b2 = new Browser(p.url);
    await b2.open(next);
    expectRefusal(await b2.submit(passkeyActionOf(page.text), { token: tokenOf(next), new_password: 'yet another long phrase', credential: used }));
    expect(await passwordIs(person.email, NEW)).toBe(true);
  });

  test('an answer without user verification counts as a second factor (as at sign-in), with the link as the first', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    const b = new Browser(p.url);
    const page = await b.open(await forgottenLink(person.email));
    const res = await b.submit(passkeyActionOf(page.text), { new_password: NEW, credential: authenticator.get(passkeyOptionsOf(page.text), key, { uv: false }) });
    expect(changed(res.text)).toBe(true);
  });

  test('bent answers (user handle of another person, other origin, in a frame) are refused', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    const other = await personWithPasskey(p, portal);
    const b = new Browser(p.url);
    let page = await b.open(await forgottenLink(person.email));
    const tries = [
      () => bent(authenticator.get(passkeyOptionsOf(page.text), key), (c) => { c.response.userHandle = Buffer.from(other.person.id).toString('base64url'); }),
      () => authenticator.get(passkeyOptionsOf(page.text), key, { origin: 'https://evil.example' }),
      () => authenticator.get(passkeyOptionsOf(page.text), key, { clientData: { crossOrigin: true, topOrigin: 'https://evil.example' } }),
    ];
    for (const make of tries) {
      const res = await b.submit(passkeyActionOf(page.text), { new_password: NEW, credential: make() });
      expectRefusal(res);
      page = res;
    }
    expect(await passwordIs(person.email, NEW)).toBe(false);
  });
});

describe('once only', () => {
  test('20 proofs at once (the passkey, the app\'s code, every recovery code, replays): one password set, one audit event', async () => {
    const { person, authenticator, key } = await appAndPasskey();
    const link = await forgottenLink(person.email);
    const b = new Browser(p.url);
    const passkeyPage = await b.open(`${link}&with=passkey`);
    const credential = authenticator.get(passkeyOptionsOf(passkeyPage.text), key);
    const token = tokenOf(link);
    const codePage = await b.open(link);
    void codePage;
    const forms: Record<string, string>[] = [
      { credential, new_password: 'passkey long phrase one' },
      { code: totpCode(person.totpSecret, p.clock.now()), new_password: 'app code long phrase' },
      ...person.recoveryCodes.map((c, i) => ({ recovery_code: c, new_password: `recovery long phrase ${i}` })),
    ];
    while (forms.length < 20) forms.push({ credential, new_password: `replayed long phrase ${forms.length}` });
    const results = await Promise.all(forms.map((f) => b.submit('/password/reset', { token, ...f })));
    // Refused or busy (503, the argon2 places of one address), never a failure.
    expect(results.every((r) => r.status < 500 || r.status === 503)).toBe(true);
    expect(results.some((r) => looksLikeStackTrace(r.text))).toBe(false);
    // A loser whose link the winner took is told the link is gone (and how to get a new one), not sent back to a portal.
    expect(results.filter((r) => /<title>Sorry, there is a problem/.test(r.text)).map((r) => r.status)).toEqual([]);
    const winners = forms.filter((_, i) => changed(results[i]!.text));
    expect(winners).toHaveLength(1);
    expect(await forgottenDone(person.id)).toHaveLength(1);
    expect(await passwordIs(person.email, winners[0]!.new_password!)).toBe(true);
    expect((await b.open(link)).status).toBe(410);
  });
});

describe('a busy moment spends nothing', () => {
  test('with this address\'s argon2 places full, a recovery code at the link is answered 503 and stays unused', async () => {
    const { person } = await appAndPasskey();
    const b = new Browser(p.url);
    const link = await forgottenLink(person.email);
    const page = await b.open(`${link}&with=recovery-code`);
    const code = person.recoveryCodes[0]!;
    // Keeps every place of the test's address taken (as other sign-ins from a pharmacy's shared address would).
    let busy = true;
    const fill = async (from: string) => {
      while (busy) await p.deps.passwords.hash('someone else signing in', from).catch(() => sleep(1));
    };
    const fillers = ['127.0.0.1', '::ffff:127.0.0.1'].flatMap((a) => [fill(a), fill(a)]);
    await sleep(20);
    let res;
    try {
      res = await b.submit('/password/reset', { recovery_code: code, new_password: NEW });
    } finally {
      busy = false;
      await Promise.all(fillers);
    }
    expect(res.status).toBe(503);
    expect(await passwordIs(person.email, NEW)).toBe(false);
    // The code still works: the person tries again a moment later with the same one.
    const again = await b.open(`${link}&with=recovery-code`);
    expect(changed((await b.submit('/password/reset', { recovery_code: code, new_password: NEW })).text)).toBe(true);
    void page; void again;
  });
});

describe('what the page says, and to whom', () => {
  test('a link that is not live says the same (410, no passkey options) whoever it was for and whatever is asked', async () => {
    const { person } = await personWithPasskey(p, portal);
    const b = new Browser(p.url);
    const link = await forgottenLink(person.email);
    const pages = [
      await b.open('/password/reset?token=not-a-real-token&with=passkey'),
      await b.open(`/password/reset?token=${tokenOf(link).slice(0, -2)}AA&with=passkey`),
    ];
    for (const page of pages) {
      expect(page.status).toBe(410);
      expect(page.text).not.toContain('data-passkey');
      expect(page.text).not.toContain(person.email);
    }
    expect(textOf(pages[0]!.text)).toEqual(textOf(pages[1]!.text).replace(/AA/g, 'AA'));
    // A post to a dead link with a passkey answer: the same page, nothing spent.
    await b.open(link);
    const res = await b.submit('/password/reset', { token: 'not-a-real-token', new_password: NEW, credential: '{"id":"x"}' });
    expect(res.status).toBe(410);
  });

  test('a disabled person\'s live link stops working; a locked person\'s key is refused; neither password changes', async () => {
    const a = await personWithPasskey(p, portal);
    const b = new Browser(p.url);
    const page = await b.open(await forgottenLink(a.person.email));
    await disableUser(p.deps, cli, a.person.email);
    const res = await b.submit(passkeyActionOf(page.text), { new_password: NEW, credential: a.authenticator.get(passkeyOptionsOf(page.text), a.key) });
    expect(res.status).toBe(410);

    const l = await personWithPasskey(p, portal);
    const b2 = new Browser(p.url);
    const page2 = await b2.open(await forgottenLink(l.person.email));
    await users.lockUser(p.deps.db, l.person.id, new Date());
    const res2 = await b2.submit(passkeyActionOf(page2.text), { new_password: NEW, credential: l.authenticator.get(passkeyOptionsOf(page2.text), l.key) });
    expectRefusal(res2);
    expect(await passwordIs(l.person.email, NEW)).toBe(false);
    expect(await forgottenDone(l.person.id)).toEqual([]);
  });
});
