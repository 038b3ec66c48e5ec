import type { TestPharmid } from '../../helpers/pharmid.js';
import { startWithPortal } from '../../helpers/with-portal.js';
import { Browser, formAction } from '../../helpers/browser.js';
import type { Portal } from '../../helpers/portal.js';
import { makePerson } from '../../helpers/factories.js';
import { recoveryCodesOf, type Person } from '../../helpers/sign-in.js';
import { answer, expectPage, openAuthorization, portalRedirect, postRaw, withAuthenticator } from '../../helpers/pages.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf } from '../../helpers/webauthn.js';
import { listPasskeys } from '../../../src/domain/factors/passkeys.js';
import { hasAuthenticator } from '../../../src/domain/factors/authenticators.js';
import { resetMfa } from '../../../src/domain/users.js';
import { raceBehindRow } from '../../helpers/row-race.js';
import { afterPassword, originOf, personWithPasskey } from './support.js';

/**
 * The `recovery-passkey` sign-in step (a key set up right after a recovery
 * code): reachable only after a recovery code proved in this very sign-in,
 * never removing an app the person kept ("carry on"), never a `phr` or a
 * key method in the tokens, and never adding a key after an administrator's
 * reset that landed while the key was being posted.
 */

let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;
beforeAll(async () => { ({ p, portal } = await startWithPortal()); });
afterAll(() => p.stop());

/** Password, then a recovery code in place of the second factor: the choice page. */
async function recoveryChoice(person: Person, params: Record<string, string> = {}) {
  const browser = new Browser(p.url);
  const { req, res } = await openAuthorization(portal, browser, params);
  const step = await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password });
  const recovery = expectPage(await browser.open(formAction(step.text, '/interaction/')!.replace(/(otp|passkey)$/, 'recovery')), 'recovery');
  const choice = expectPage(await answer(browser, recovery, { recovery_code: person.recoveryCodes!.shift()! }), 'after-recovery');
  return { browser, req, choice };
}

/** An app person, with the recovery codes their app came with. */
async function appPerson() {
  return withAuthenticator(p.deps, await makePerson(p.deps), p.clock) as Promise<Person & { id: string; totpSecret: string }>;
}

describe('who reaches the step', () => {
  test('the password alone: a key posted straight to recovery-passkey is not taken; the code step stays due', async () => {
    const person = await appPerson();
    const { browser, page } = await afterPassword(p, portal, person);
    const otp = expectPage(page, 'otp');
    const action = formAction(otp.text, '/interaction/')!.replace(/otp$/, 'recovery-passkey');
    const { response } = new SoftAuthenticator(originOf(p)).create({
      challenge: Buffer.from('made-up').toString('base64url'), rp: { id: new URL(p.config.issuer).hostname }, user: { id: Buffer.from(person.id).toString('base64url') },
    } as never);
    const res = await postRaw(browser, action, `name=Mine&credential=${encodeURIComponent(response)}`, otp);
    expect(res.status).toBe(303);
    expectPage(await browser.open(res.headers.location!), 'otp');
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    expect(await hasAuthenticator(p.deps, person.id)).toBe(true);
  });

  test('from another interaction: the options of the sign-in that used the code, posted to one that did not, add nothing', async () => {
    const person = await appPerson();
    const first = await recoveryChoice(person);
    const page = expectPage(await answer(first.browser, first.choice, { choice: 'new-passkey' }), 'recovery-passkey');
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(page.text));
    // The same browser starts a second sign-in and gives only the password there.
    const second = await afterPassword(p, portal, person, {}, first.browser);
    const otp = expectPage(second.page, 'otp');
    const action = formAction(otp.text, '/interaction/')!.replace(/otp$/, 'recovery-passkey');
    const res = await postRaw(first.browser, action, `name=Mine&credential=${encodeURIComponent(response)}`, otp);
    expect(res.status).toBe(303);
    expectPage(await first.browser.open(res.headers.location!), 'otp');
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    expect(await hasAuthenticator(p.deps, person.id)).toBe(true);
  });

  test('"carry on" chosen: a key posted to recovery-passkey afterwards neither adds a key nor removes the app', async () => {
    const person = await appPerson();
    const { browser, choice } = await recoveryChoice(person);
    const action = formAction(choice.text, '/after-recovery')!.replace(/after-recovery$/, 'recovery-passkey');
    const carried = await answer(browser, choice, { choice: 'carry-on' });
    const { response } = new SoftAuthenticator(originOf(p)).create({
      challenge: Buffer.from('made-up').toString('base64url'), rp: { id: new URL(p.config.issuer).hostname }, user: { id: Buffer.from(person.id).toString('base64url') },
    } as never);
    const res = await postRaw(browser, action, `name=Mine&credential=${encodeURIComponent(response)}`, carried);
    expect(res.status).toBeLessThan(500);
    expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    expect(await hasAuthenticator(p.deps, person.id)).toBe(true);
  });
});

describe('what the tokens say after a recovery code', () => {
  test('a key set up after the code: acr mfa, no hwk or swk in amr; under acr_values=phr, no code for the portal', async () => {
    const person = await appPerson();
    const { browser, req, choice } = await recoveryChoice(person);
    const page = expectPage(await answer(browser, choice, { choice: 'new-passkey' }), 'recovery-passkey');
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(page.text));
    const codes = expectPage(await browser.submit(passkeyActionOf(page.text), { name: 'New key', credential: response }), 'recovery-codes');
    const claims = (await portal.exchange(portalRedirect(await answer(browser, codes, {}))!.href, req)).claims()!;
    expect(claims.acr).toBe('mfa');
    expect(claims.amr).not.toContain('hwk');
    expect(claims.amr).not.toContain('swk');

    // A passkey person whose portal asks for phr, opening the recovery code (not linked from that page) by its address.
    const { person: other } = await personWithPasskey(p, portal);
    const phr = await recoveryChoice(other, { acr_values: 'phr' });
    const page2 = expectPage(await answer(phr.browser, phr.choice, { choice: 'new-passkey' }), 'recovery-passkey');
    const made = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(page2.text));
    const codes2 = expectPage(await phr.browser.submit(passkeyActionOf(page2.text), { name: 'New key', credential: made.response }), 'recovery-codes');
    const after = await answer(phr.browser, codes2, {});
    expect(portalRedirect(after)?.searchParams.get('code') ?? null).toBeNull();
    expect(after.text).toMatch(/needs a passkey or security key/);
  });
});

describe('an administrator\'s MFA reset racing the key', () => {
  test('a passkey-only person: the reset takes the row first, and the key posted meanwhile does not outlive it', async () => {
    const { person } = await personWithPasskey(p, portal);
    const { browser, choice } = await recoveryChoice(person);
    const page = expectPage(await answer(browser, choice, { choice: 'new-passkey' }), 'recovery-passkey');
    const { response } = new SoftAuthenticator(originOf(p)).create(passkeyOptionsOf(page.text));
    const answered = await raceBehindRow(p.deps.db, person.id, () => resetMfa(p.deps, cli, person.email),
      () => browser.submit(passkeyActionOf(page.text), { name: 'Late key', credential: response }));
    // The sign-in starts again from the password (the account changed under it); no codes shown.
    expectPage(answered, 'password');
    expect(recoveryCodesOf(answered.text)).toEqual([]);
    // Nothing the reset removed comes back.
    expect((await listPasskeys(p.deps, person.id)).map((k) => k.name)).toEqual([]);
  });
});
