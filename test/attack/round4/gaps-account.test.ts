import type { TestPharmid } from '../../helpers/pharmid.js';
import { startWithPortal } from '../../helpers/with-portal.js';
import { Browser, formAction } from '../../helpers/browser.js';
import type { Portal } from '../../helpers/portal.js';
import { enrolmentOf, totpCode } from '../../helpers/sign-in.js';
import { expectPage, portalRedirect, postRaw } from '../../helpers/pages.js';
import { passkeyActionOf, passkeyOptionsOf } from '../../helpers/webauthn.js';
import { hasAuthenticator } from '../../../src/domain/factors/authenticators.js';
import { listPasskeys } from '../../../src/domain/factors/passkeys.js';
import { disableUser } from '../../../src/domain/users.js';
import { changeRole, enableUser } from '../../../src/domain/people.js';
import * as users from '../../../src/db/queries/users.js';
import * as sites from '../../../src/db/queries/sites.js';
import { afterPassword, bent, expectRefusal, personWithPasskey, usePasskey } from './support.js';

/**
 * The account page's first authenticator app (proved by a passkey) and its
 * passkey proof: kept for the session that gave it, every field's bad bytes
 * refused with a 4xx, and a key proof made before an administrator's act
 * that ends sessions adds nothing after it.
 */

let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;
beforeAll(async () => { ({ p, portal } = await startWithPortal()); });
afterAll(() => p.stop());

/** A second signed-in browser of the same passkey person (password, then the key). */
async function secondSession(who: Awaited<ReturnType<typeof personWithPasskey>>) {
  const { browser, req, page } = await afterPassword(p, portal, who.person);
  const done = await usePasskey(browser, expectPage(page, 'passkey'), who.authenticator, who.key);
  await portal.exchange(portalRedirect(done)!.href, req);
  // Its own account-page session (the account page signs in through pharmid like any portal).
  await browser.open('/account');
  return browser;
}

describe('a first app, proved by a passkey', () => {
  test('the proof belongs to its session: another browser of the same person finds no set-up and cannot confirm one', async () => {
    const who = await personWithPasskey(p, portal);
    const other = await secondSession(who);
    const prove = await who.browser.open('/account/authenticator');
    const enrol = await usePasskey(who.browser, prove, who.authenticator, who.key);
    expect(who.browser.visited.at(-1)).toBe('/account/authenticator/new');
    const { secret } = enrolmentOf(enrol.text);
    const look = await other.agent.get('/account/authenticator/new').redirects(0);
    expect(look.status).toBe(303);
    expect(look.headers.location).toBe('/account/authenticator');
    const otherPage = await other.open('/account/authenticator');
    p.clock.advance(30);
    const res = await postRaw(other, '/account/authenticator/new', `code=${totpCode(secret.replace(/\s+/g, ''), p.clock.now())}`, otherPage);
    // Nothing to confirm in this session: back to the proof.
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/account/authenticator');
    expect(await hasAuthenticator(p.deps, who.person.id)).toBe(false);
  });

  test('bad bytes in every field (proof and set-up): a 4xx, no stack trace, nothing written', async () => {
    const who = await personWithPasskey(p, portal);
    const page = await who.browser.open('/account/authenticator');
    const good = who.authenticator.get(passkeyOptionsOf(page.text), who.key);
    const bodies = [
      `credential=${encodeURIComponent('{"id":"a\u0000b","rawId":"a\u0000b","response":{}}')}`,
      `credential=${encodeURIComponent(`${good}\u0000`)}`,
      `credential=${encodeURIComponent('x'.repeat(200_000))}`,
      `credential=${encodeURIComponent('[1,2,3]')}`,
      'credential[]=a&credential[]=b',
      `credential=${encodeURIComponent(bent(good, (c) => { c.response.clientDataJSON = '\uD800'; }))}`,
      `credential=${encodeURIComponent(bent(good, (c) => { c.response.authenticatorData = '%%%'; }))}`,
      `code=${encodeURIComponent('12\u00003456')}`,
      `code=${encodeURIComponent('１２３４５６')}`,
      'code[]=123456',
      `code=%FF%FE&credential=%C0%80`,
    ];
    for (const body of bodies) {
      const fresh = await who.browser.open('/account/authenticator');
      const res = await postRaw(who.browser, '/account/authenticator', body, fresh);
      expectRefusal(res);
    }
    // The set-up page's one field, after a real proof.
    const fresh = await who.browser.open('/account/authenticator');
    const enrol = await usePasskey(who.browser, fresh, who.authenticator, who.key);
    for (const body of [`code=${encodeURIComponent('12\u00003456')}`, `code=${encodeURIComponent('9'.repeat(100_000))}`, 'code[]=1&code[]=2', 'code=%FF']) {
      const res = await postRaw(who.browser, formAction(enrol.text, '/account/authenticator/new')!, body, enrol);
      expectRefusal(res);
    }
    expect(await hasAuthenticator(p.deps, who.person.id)).toBe(false);
    expect(await listPasskeys(p.deps, who.person.id)).toHaveLength(1);
  });
});

describe('a key proof made before an administrator\'s act', () => {
  async function provedForKey() {
    const who = await personWithPasskey(p, portal);
    const prove = await who.browser.open('/account/passkeys/add');
    const newPage = await usePasskey(who.browser, prove, who.authenticator, who.key);
    expect(who.browser.visited.at(-1)).toBe('/account/passkeys/new');
    const { response } = who.authenticator.create(passkeyOptionsOf(newPage.text));
    return { who, newPage, response };
  }

  test('disabled (and enabled again) after the proof: the key posted with it is not added', async () => {
    const { who, newPage, response } = await provedForKey();
    await disableUser(p.deps, cli, who.person.email);
    await enableUser(p.deps, cli, (await users.findUserById(p.deps.db, who.person.id))!);
    const res = await postRaw(who.browser, passkeyActionOf(newPage.text), `name=Late&credential=${encodeURIComponent(response)}`, newPage);
    expect(res.status).toBeLessThan(500);
    expect((await listPasskeys(p.deps, who.person.id)).map((k) => k.name)).toEqual(['Blue key']);
  });

  test('a role changed after the proof: their own key is still theirs to add (no factor was reset)', async () => {
    const { who, newPage, response } = await provedForKey();
    const site = (await sites.findSiteByOds(p.deps.db, (who.person as typeof who.person & { site: string }).site))!;
    const user = (await users.findUserById(p.deps.db, who.person.id))!;
    await changeRole(p.deps, cli, user, site, 'site-admin');
    const res = await who.browser.submit(passkeyActionOf(newPage.text), { name: 'Spare key', credential: response });
    expect(res.status).toBeLessThan(400);
    expect((await listPasskeys(p.deps, who.person.id)).map((k) => k.name).sort()).toEqual(['Blue key', 'Spare key']);
  });
});
