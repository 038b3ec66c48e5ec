import { decodeCBOR, encodeCBOR, type CBORType } from '@levischuck/tiny-cbor';
import type { TestPharmid } from '../../helpers/pharmid.js';
import { startWithPortal } from '../../helpers/with-portal.js';
import { Browser, formAction } from '../../helpers/browser.js';
import type { Portal } from '../../helpers/portal.js';
import { makePerson } from '../../helpers/factories.js';
import { expectPage, openAuthorization, portalRedirect, postRaw, textOf, withAuthenticator } from '../../helpers/pages.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf } from '../../helpers/webauthn.js';
import { listPasskeys } from '../../../src/domain/factors/passkeys.js';
import { addPasskey, registrationOptions } from '../../../src/domain/factors/passkey-ceremonies.js';
import { disableUser, resetMfa } from '../../../src/domain/users.js';
import { lockUser } from '../../../src/db/queries/users.js';
import { afterPassword, bent, enrolPage, expectRefusal, originOf, personWithPasskey, usePasskey } from './support.js';

/**
 * Credentials: whose a key is, where it was made, and whether its person
 * may still use it. Every answer is a real one from the software
 * authenticator, bent in one way.
 */

let p: TestPharmid;
let portal: Portal;
beforeAll(async () => { ({ p, portal } = await startWithPortal()); });
afterAll(() => p.stop());

/** Signs in with the passkey alone at a fresh sign-in page; the response. */
async function passkeyAlone(authenticator: SoftAuthenticator, key: Parameters<SoftAuthenticator['get']>[1], c: Parameters<SoftAuthenticator['get']>[2] = {}) {
  const browser = new Browser(p.url);
  const { req, res } = await openAuthorization(portal, browser);
  return { req, res: await usePasskey(browser, res, authenticator, key, c) };
}

describe('registering', () => {
  test('a credential id another person has: refused at enrolment (409), and the owner\'s key still works', async () => {
    const owner = await personWithPasskey(p, portal);
    const { person, browser, passkeyPage } = await enrolPage(p, portal);
    const { response } = owner.authenticator.create(passkeyOptionsOf(passkeyPage.text), { sameAs: owner.key });
    owner.authenticator.keys.pop();
    const res = await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Borrowed', credential: response });
    expect(res.status).toBe(409);
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    const { req, res: signIn } = await passkeyAlone(owner.authenticator, owner.key);
    expect((await portal.exchange(portalRedirect(signIn)!.href, req)).claims()!.sub).toBe(owner.person.id);
  });

  test('made at another origin, or in a frame on another site (crossOrigin, topOrigin): refused', async () => {
    for (const bend of [{ origin: 'https://pharmid.example-login.com' }, { clientData: { crossOrigin: true, topOrigin: 'https://evil.example' } }, { clientData: { crossOrigin: true } }]) {
      const { person, browser, passkeyPage } = await enrolPage(p, portal);
      const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text), bend);
      const res = await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Framed', credential: response });
      expectRefusal(res);
      expect({ bend, keys: await listPasskeys(p.deps, person.id) }).toEqual({ bend, keys: [] });
    }
  });

  test('an assertion from a frame on another site (crossOrigin, with or without topOrigin): refused', async () => {
    const { authenticator, key } = await personWithPasskey(p, portal);
    for (const clientData of [{ crossOrigin: true, topOrigin: 'https://evil.example' }, { crossOrigin: true }]) {
      const { res } = await passkeyAlone(authenticator, key, { clientData });
      expect({ clientData, status: res.status }).toEqual({ clientData, status: 401 });
    }
  });

  test('attestation other than none: bogus certificates or an unknown format are refused (4xx), never a 500', async () => {
    const bends: ((att: Map<string, CBORType>) => void)[] = [
      (att) => { att.set('fmt', 'packed'); att.set('attStmt', new Map<string, CBORType>([['alg', -7], ['sig', new Uint8Array(70)], ['x5c', [new Uint8Array(300).fill(7)]]])); },
      (att) => { att.set('fmt', 'fido-u2f'); att.set('attStmt', new Map<string, CBORType>([['sig', new Uint8Array(70)], ['x5c', [new Uint8Array([0x30, 0x82, 0x01])]]])); },
      (att) => { att.set('fmt', 'tpm'); att.set('attStmt', new Map<string, CBORType>([['ver', '2.0']])); },
      (att) => { att.set('fmt', 'made-up'); },
      (att) => { att.set('fmt', 'none'); att.set('attStmt', new Map<string, CBORType>([['x5c', [new Uint8Array(10)]]])); },
    ];
    for (const bend of bends) {
      const { person, browser, passkeyPage } = await enrolPage(p, portal);
      const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text));
      const credential = bent(response, (c) => {
        const att = decodeCBOR(new Uint8Array(Buffer.from(c.response.attestationObject, 'base64url'))) as Map<string, CBORType>;
        bend(att);
        c.response.attestationObject = Buffer.from(encodeCBOR(att)).toString('base64url');
      });
      const res = await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Attested', credential });
      expectRefusal(res);
      expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    }
  });

  test('at /account without proving a current factor: back to the proof, nothing stored', async () => {
    const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
    const browser = new Browser(p.url);
    const { page } = await afterPassword(p, portal, person, {}, browser);
    expect(page.status).toBe(200);
    const { totpCode } = await import('../../helpers/sign-in.js');
    const done = await browser.submit(formAction(page.text, '/otp')!, { code: totpCode(person.totpSecret!, p.clock.now()) });
    expect(portalRedirect(done)).toBeDefined();
    const account = await browser.open('/account');
    const { response } = new SoftAuthenticator(originOf(p)).create({ challenge: 'AAAA', rp: { id: 'localhost' }, user: { id: 'AAAA' } });
    const posted = await postRaw(browser, '/account/passkeys/new', `name=Sneaky&credential=${encodeURIComponent(response)}`, account);
    expect(posted.status).toBe(303);
    expect(posted.headers.location).toBe('/account/passkeys/add');
    const opened = await browser.open('/account/passkeys/new');
    expect(opened.text).toContain('action="/account/passkeys/add"');
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
  });

  test('in another person\'s enrolment step (their interaction uid, from my browser): refused, nothing stored on either', async () => {
    const victim = await enrolPage(p, portal);
    const me = await enrolPage(p, portal);
    const victimUid = /\/interaction\/([^/]+)\//.exec(passkeyActionOf(victim.passkeyPage.text))![1];
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(victim.passkeyPage.text));
    const res = await postRaw(me.browser, `/interaction/${victimUid}/enrol-passkey`, `name=Mine&credential=${encodeURIComponent(response)}`, me.passkeyPage);
    expectRefusal(res);
    expect(await listPasskeys(p.deps, victim.person.id)).toEqual([]);
    expect(await listPasskeys(p.deps, me.person.id)).toEqual([]);
  });
});

describe('using', () => {
  test('a passkey-alone answer carrying another person\'s user handle: refused (never the other, and not the key\'s owner either)', async () => {
    const mine = await personWithPasskey(p, portal);
    const theirs = await personWithPasskey(p, portal);
    const own = mine.key.userHandle;
    mine.key.userHandle = theirs.key.userHandle;
    const { res } = await passkeyAlone(mine.authenticator, mine.key);
    expect(res.status).toBe(401);
    expect(portalRedirect(res)).toBeUndefined();
    // With its own handle (or none, as a security key without a stored passkey sends) it signs in its owner.
    for (const handle of [own, undefined]) {
      mine.key.userHandle = handle;
      const { req, res: ok } = await passkeyAlone(mine.authenticator, mine.key);
      expect((await portal.exchange(portalRedirect(ok)!.href, req)).claims()!.sub).toBe(mine.person.id);
    }
  });

  test('a passkey-alone answer without user verification: refused', async () => {
    const { authenticator, key } = await personWithPasskey(p, portal);
    const { res } = await passkeyAlone(authenticator, key, { uv: false });
    expect(res.status).toBe(401);
    expect(portalRedirect(res)).toBeUndefined();
  });

  test('a disabled person\'s passkey, alone or after the password: refused', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    await disableUser(p.deps, { kind: 'cli' }, person.email);
    const { res } = await passkeyAlone(authenticator, key);
    expect(res.status).toBe(401);
    expect(portalRedirect(res)).toBeUndefined();
  });

  test('a locked person: refused alone and at the passkey step after the password', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    const { browser, page } = await afterPassword(p, portal, person);
    await lockUser(p.deps.db, person.id, new Date());
    const atStep = await usePasskey(browser, expectPage(page, 'passkey'), authenticator, key);
    expect(portalRedirect(atStep)).toBeUndefined();
    expectRefusal(atStep);
    const { res } = await passkeyAlone(authenticator, key);
    expect(portalRedirect(res)).toBeUndefined();
  });

  test('after an administrator reset their MFA, the old key works nowhere (alone, or in a sign-in that was waiting)', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    const waiting = await afterPassword(p, portal, person);
    await resetMfa(p.deps, { kind: 'cli' }, person.email);
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    const { res } = await passkeyAlone(authenticator, key);
    expect(res.status).toBe(401);
    const late = await usePasskey(waiting.browser, waiting.page, authenticator, key);
    expect(portalRedirect(late)).toBeUndefined();
  });

  test('a counter that goes backwards, or stays put on a key that counts: refused', async () => {
    const { authenticator, key } = await personWithPasskey(p, portal);
    expect(portalRedirect((await passkeyAlone(authenticator, key, { counter: 10 })).res)).toBeDefined();
    expect((await passkeyAlone(authenticator, key, { counter: 5 })).res.status).toBe(401);
    expect((await passkeyAlone(authenticator, key, { counter: 10 })).res.status).toBe(401);
    expect(portalRedirect((await passkeyAlone(authenticator, key, { counter: 11 })).res)).toBeDefined();
  });
});

describe('counters past 2^31 (WebAuthn\'s counter is 32 bits unsigned)', () => {
  test('a key whose counter passes 2^31 still signs in, and its account page still opens', async () => {
    const { authenticator, key } = await personWithPasskey(p, portal);
    const first = await passkeyAlone(authenticator, key, { counter: 3_000_000_000 });
    expect(portalRedirect(first.res)).toBeDefined();
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const again = await usePasskey(browser, res, authenticator, key, { counter: 3_000_000_001 });
    expect(portalRedirect(again)).toBeDefined();
    expect((await browser.open('/account')).status).toBe(200);
    // And it still only moves forward.
    expect((await passkeyAlone(authenticator, key, { counter: 3_000_000_001 })).res.status).toBe(401);
  });

  test('a key registered with a counter of 2^32 - 1: taken, no 500', async () => {
    const { person, browser, passkeyPage } = await enrolPage(p, portal);
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text), { counter: 0xFFFFFFFF });
    const res = await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Old key', credential: response });
    expect(res.status).toBeLessThan(500);
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name)).toEqual(['Old key']);
  });
});

describe('floods', () => {
  test('one person cannot pile up keys without end: past the limit, refused with a message, nothing more stored', async () => {
    const person = await makePerson(p.deps);
    const user = { ...person, name: 'Sam Patel' };
    const authenticator = new SoftAuthenticator(originOf(p));
    const outcomes: string[] = [];
    for (let i = 0; i < 25; i += 1) {
      const bind = `attack:many:${person.id}`;
      try {
        const { response } = authenticator.create(await registrationOptions(p.deps, user, bind));
        await addPasskey(p.deps, user, bind, response, `Key ${i}`, { actor: { kind: 'cli' }, ip: '127.0.0.1', by: 'a test' });
        outcomes.push('added');
      } catch (err) {
        outcomes.push(String((err as { status?: number }).status));
      }
    }
    const keys = await listPasskeys(p.deps, person.id);
    expect(keys.length).toBeLessThanOrEqual(10);
    expect(outcomes.filter((o) => o === 'added')).toHaveLength(keys.length);
    expect(outcomes.slice(keys.length).every((o) => o === '409')).toBe(true);
    // Refused before the browser is asked to make a key that could not be kept.
    await expect(registrationOptions(p.deps, user, `attack:many:${person.id}`)).rejects.toMatchObject({ status: 409, field: 'credential' });
  });

  test('at the limit, the account page says so before asking for a proof, and points back to the account to remove one', async () => {
    const { person, authenticator, key } = await personWithPasskey(p, portal);
    const user = { ...person, name: 'Sam Patel' };
    for (let i = 0; i < 9; i += 1) {
      const bind = `attack:full:${person.id}`;
      await addPasskey(p.deps, user, bind, authenticator.create(await registrationOptions(p.deps, user, bind)).response, `Key ${i}`, { actor: { kind: 'cli' }, ip: '127.0.0.1', by: 'a test' });
    }
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    await usePasskey(browser, res, authenticator, key);
    const page = await browser.open('/account/passkeys/add');
    expect(page.status).toBe(409);
    expect(textOf(page.text)).toMatch(/You have 10 passkeys and security keys, the most pharmid keeps\. Remove one you no longer use/);
    expect(page.text).toContain('href="/account"');
    expect(page.text).not.toMatch(/data-passkey-options|name="code"/);
  });

  test('two keys made at once at the limit\'s edge (options fetched before either landed): only one is kept', async () => {
    const person = await makePerson(p.deps);
    const user = { ...person, name: 'Sam Patel' };
    const authenticator = new SoftAuthenticator(originOf(p));
    const add = (bind: string, response: string, name: string) => addPasskey(p.deps, user, bind, response, name, { actor: { kind: 'cli' }, ip: '127.0.0.1', by: 'a test' });
    for (let i = 0; i < 9; i += 1) {
      const bind = `attack:edge:${person.id}`;
      await add(bind, authenticator.create(await registrationOptions(p.deps, user, bind)).response, `Key ${i}`);
    }
    const a = authenticator.create(await registrationOptions(p.deps, user, `attack:edge:a:${person.id}`)).response;
    const b = authenticator.create(await registrationOptions(p.deps, user, `attack:edge:b:${person.id}`)).response;
    const outcomes = await Promise.allSettled([add(`attack:edge:a:${person.id}`, a, 'A'), add(`attack:edge:b:${person.id}`, b, 'B')]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ status: 409, message: expect.stringMatching(/Remove one you no longer use/) });
    expect(await listPasskeys(p.deps, person.id)).toHaveLength(10);
  });

  test('many challenges from one address: each sign-in keeps one, the newest (no pile in the store)', async () => {
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const uid = /\/interaction\/([^/]+)\//.exec(passkeyActionOf(res.text))![1];
    for (let i = 0; i < 20; i += 1) await browser.open(`/interaction/${uid}`);
    const kept = await p.deps.store.get(`webauthn:challenge:interaction:${uid}`);
    expect(kept).not.toBeNull();
    expect(JSON.parse(kept!).challenge).toBe(passkeyOptionsOf(browser.lastPage).challenge);
  });
});
