import type { TestPharmid } from '../../helpers/pharmid.js';
import { startWithPortal } from '../../helpers/with-portal.js';
import { Browser, formAction } from '../../helpers/browser.js';
import type { Portal } from '../../helpers/portal.js';
import { errorMessages, expectPage, openAuthorization, postRaw } from '../../helpers/pages.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf } from '../../helpers/webauthn.js';
import { listPasskeys } from '../../../src/domain/factors/passkeys.js';
import { bent, enrolPage, expectRefusal, originOf, personWithPasskey } from './support.js';

/**
 * Bad bytes and odd shapes at every passkey endpoint: the form gate sees the
 * credential as one string, so what hides inside its JSON (escaped NULs,
 * lone surrogates, a string where an array belongs) reaches the ceremonies
 * themselves. Each must end in a 4xx page with a message, never a 500,
 * and nothing half-written.
 */

let p: TestPharmid;
let portal: Portal;
beforeAll(async () => { ({ p, portal } = await startWithPortal()); });
afterAll(() => p.stop());

describe('passkey alone, at the sign-in page (no one signed in: anyone can post here)', () => {
  const NASTY_IDS = ['\u0000', 'a\u0000b', '\ud800', 'x'.repeat(1400)];
  test.each(NASTY_IDS.map((id) => [JSON.stringify(id).slice(0, 20), id]))('a credential id %s: a 4xx, no 500', async (_label, id) => {
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const credential = JSON.stringify({ id, rawId: id, type: 'public-key', response: { clientDataJSON: 'AA', authenticatorData: 'AA', signature: 'AA' }, clientExtensionResults: {} });
    const answer = await browser.submit(passkeyActionOf(res.text), { credential });
    expectRefusal(answer);
  });

  test('a real key whose clientDataJSON names an origin with a NUL in it (the reason is audited): a 4xx, no 500', async () => {
    const { authenticator, key } = await personWithPasskey(p, portal);
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const credential = authenticator.get(passkeyOptionsOf(res.text), key, { origin: 'https://evil\u0000.example' });
    expectRefusal(await browser.submit(passkeyActionOf(res.text), { credential }));
  });

  test('wrong JSON types in the credential: a 4xx each time', async () => {
    const { authenticator, key } = await personWithPasskey(p, portal);
    const shapes: ((c: Record<string, any>) => void)[] = [
      (c) => { c.response = 'x'; },
      (c) => { c.response = null; },
      (c) => { c.response.signature = 5; },
      (c) => { c.response.userHandle = { a: 1 }; },
      (c) => { c.rawId = ['x']; },
      (c) => { c.type = 'password'; },
    ];
    for (const shape of shapes) {
      const browser = new Browser(p.url);
      const { res } = await openAuthorization(portal, browser);
      const credential = bent(authenticator.get(passkeyOptionsOf(res.text), key), shape);
      expectRefusal(await browser.submit(passkeyActionOf(res.text), { credential }));
    }
  });

  test('a 1 MB credential is refused as too large, an array of credentials as nothing', async () => {
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const action = passkeyActionOf(res.text);
    const huge = await postRaw(browser, action, `credential=${encodeURIComponent(JSON.stringify({ id: 'a', pad: 'x'.repeat(1_000_000) }))}`, res);
    expect(huge.status).toBe(413);
    expectRefusal(huge);
    const twice = await postRaw(browser, action, 'credential=%7B%7D&credential=%7B%7D', res);
    expectRefusal(twice);
  });
});

describe('registering a key at enrolment', () => {
  test('transports as a string (not an array): no 500; the key is taken without them (they are only a hint)', async () => {
    const { person, browser, passkeyPage } = await enrolPage(p, portal);
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text));
    const res = await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Blue key', credential: bent(response, (c) => { c.response.transports = 'usb'; }) });
    expect(res.status).toBe(200);
    expectPage(res, 'recovery-codes');
    const rows = await p.deps.db.query<{ transports: string[] }>('SELECT transports FROM passkeys WHERE user_id = $1', [person.id]);
    expect(rows.rows.map((r) => r.transports)).toEqual([[]]);
  });

  test('transports with a NUL, a lone surrogate or a page of text: a 4xx (or the bad ones dropped), nothing bad stored', async () => {
    for (const transports of [['\u0000'], ['usb\ud800'], ['x'.repeat(3000)]]) {
      const { person, browser, passkeyPage } = await enrolPage(p, portal);
      const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(passkeyPage.text));
      const res = await browser.submit(passkeyActionOf(passkeyPage.text), { name: 'Blue key', credential: bent(response, (c) => { c.response.transports = transports; }) });
      expect(res.status).toBeLessThan(500);
      const rows = await p.deps.db.query<{ transports: string[] }>('SELECT transports FROM passkeys WHERE user_id = $1', [person.id]);
      for (const row of rows.rows) for (const t of row.transports) expect(t).toMatch(/^[a-z-]{1,20}$/);
    }
  });

  test('a name with NUL, invalid UTF-8, 10 kB, or as an array: a 400 that names the field, nothing written', async () => {
    const { person, browser, passkeyPage } = await enrolPage(p, portal);
    const action = passkeyActionOf(passkeyPage.text);
    for (const name of ['Blue%00key', 'Blue%C3%28', 'x'.repeat(10_000), '']) {
      const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf((await browser.open(action)).text));
      const res = await postRaw(browser, action, `name=${name}&credential=${encodeURIComponent(response)}`, { text: browser.lastPage } as never);
      expectRefusal(res);
    }
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf((await browser.open(action)).text));
    const arrays = await postRaw(browser, action, `name=a&name=b&credential=${encodeURIComponent(response)}`, { text: browser.lastPage } as never);
    expectRefusal(arrays);
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
  });
});

describe('the account page', () => {
  test('renaming with NUL, invalid UTF-8, 10 kB, an array, or another key\'s id: a 4xx, the name unchanged', async () => {
    const { person, browser } = await personWithPasskey(p, portal);
    const [key] = await listPasskeys(p.deps, person.id);
    const page = await browser.open(`/account/passkeys/${key!.id}/rename`);
    const action = formAction(page.text, '/rename')!;
    for (const name of ['Blue%00key', 'Blue%C3%28', 'x'.repeat(10_000), '%ED%A0%80', 'a&name=b']) {
      const res = await postRaw(browser, action, `name=${name}`, page);
      expectRefusal(res);
    }
    const other = await personWithPasskey(p, portal);
    const [theirs] = await listPasskeys(p.deps, other.person.id);
    const stolen = await postRaw(browser, `/account/passkeys/${theirs!.id}/rename`, 'name=Mine', page);
    expectRefusal(stolen);
    const removed = await postRaw(browser, `/account/passkeys/${theirs!.id}/remove`, '', page);
    expectRefusal(removed);
    expect((await listPasskeys(p.deps, other.person.id)).map((k) => k.name)).toEqual(['Blue key']);
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name)).toEqual(['Blue key']);
    expect(errorMessages((await postRaw(browser, action, 'name=', page)).text).join(' ')).toMatch(/name/i);
  });

  test('the proof form with a bent credential (escaped NUL id, string transports): a 4xx', async () => {
    const { browser } = await personWithPasskey(p, portal);
    const prove = await browser.open('/account/passkeys/add');
    const action = formAction(prove.text, '/passkeys/add')!;
    for (const credential of ['{"id":"\\u0000"}', '[]', '"x"', '{"id":"a","response":[]}']) {
      await browser.open('/account/passkeys/add');
      expectRefusal(await postRaw(browser, action, `credential=${encodeURIComponent(credential)}`, { text: browser.lastPage } as never));
    }
  });
});
