import { STORE_MODES, startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser, formAction } from '../../helpers/browser.js';
import { Portal } from '../../helpers/portal.js';
import { makeClient, makePerson } from '../../helpers/factories.js';
import { expectPage, openAuthorization, portalRedirect, postRaw, textOf } from '../../helpers/pages.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf, type SoftKey } from '../../helpers/webauthn.js';
import { listPasskeys } from '../../../src/domain/factors/passkeys.js';
import { authenticationOptions, provePasskey } from '../../../src/domain/factors/passkey-ceremonies.js';
import { listAuditEventsForUser } from '../../../src/db/queries/audit-events.js';
import { tally } from '../support.js';
import { afterPassword, expectRefusal, originOf, personWithPasskey, usePasskey } from './support.js';

/**
 * Challenges: each is bound to one sign-in (its interaction) or one account
 * page session, is for one ceremony, and is taken once. Every answer here is
 * signed by the right key over a challenge pharmid really issued, only
 * presented where it was not issued for.
 */

// The store's `take` is what makes a challenge single-use: Redis's GETDEL, or the Postgres store's DELETE … RETURNING.
describe.each(STORE_MODES)('%s', (_mode, env) => {
  let p: TestPharmid;
  let portal: Portal;
  beforeAll(async () => {
    p = await startTestPharmid(env);
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps, { name: 'PharmOutcomes' }));
  });
  afterAll(() => p.stop());

  /** A browser signed in to /account with the person's passkey alone. */
  async function accountBrowser(authenticator: SoftAuthenticator, key: SoftKey): Promise<Browser> {
    const browser = new Browser(p.url);
    let page = await browser.open('/account');
    if (/data-passkey-options/.test(page.text) && /\/interaction\//.test(page.text)) page = await usePasskey(browser, page, authenticator, key);
    expect(textOf(page.text)).toMatch(/passkeys? and security keys?|Blue key/i);
    return browser;
  }

  describe('one sign-in, one ceremony, once', () => {
    test('an assertion answered once is refused the second time, in the same sign-in', async () => {
      const { authenticator, key } = await personWithPasskey(p, portal, { synced: true });
      const browser = new Browser(p.url);
      const { res } = await openAuthorization(portal, browser);
      // A synced key keeps no counter: only the challenge stops a replay.
      const credential = authenticator.get(passkeyOptionsOf(res.text), key, { counter: 0 });
      const path = new URL(passkeyActionOf(res.text), p.url).pathname;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1];
      const first = await browser.agent.post(path).type('form').send({ _csrf: csrf, credential }).redirects(0);
      expect(first.status).toBe(303);
      const second = await browser.agent.post(path).type('form').send({ _csrf: csrf, credential }).redirects(0);
      expect(portalRedirect(second)?.pathname ?? '').not.toMatch(/callback/);
    });

    test('a sign-in challenge answered as a registration at enrolment: refused, nothing stored', async () => {
      const person = await makePerson(p.deps);
      const browser = new Browser(p.url);
      const { res } = await openAuthorization(portal, browser);
      const signInOptions = passkeyOptionsOf(res.text);
      const { page } = await afterPassword(p, portal, person, {}, browser);
      expectPage(page, 'enrol');
      const uid = /\/interaction\/([^/]+)\//.exec(formAction(page.text, '/interaction/')!)![1];
      // The enrol-passkey page was never opened: the challenge waiting is still the sign-in page's (if any).
      const { response } = new SoftAuthenticator(originOf(p)).create({ challenge: signInOptions.challenge, rp: { id: 'localhost' }, user: { id: 'AAAA' } });
      const posted = await postRaw(browser, `/interaction/${uid}/enrol-passkey`, `name=Blue&credential=${encodeURIComponent(response)}`, page);
      expect(posted.status).toBeGreaterThanOrEqual(400);
      expect(await listPasskeys(p.deps, person.id)).toEqual([]);
    });

    test('a registration challenge (account page) answered as an assertion to prove a factor: refused', async () => {
      const { authenticator, key } = await personWithPasskey(p, portal);
      const browser = await accountBrowser(authenticator, key);
      // Prove once, so the new-key page issues a registration challenge; then answer it as an assertion.
      const prove = await browser.open('/account/passkeys/add');
      const proved = await usePasskey(browser, prove, authenticator, key);
      const newPage = expectNewKeyPage(proved);
      const regOptions = passkeyOptionsOf(newPage.text);
      const asAssertion = authenticator.get({ challenge: regOptions.challenge }, key);
      const res = await postRaw(browser, '/account/passkeys/add', `credential=${encodeURIComponent(asAssertion)}`, newPage);
      expectRefusal(res);
    });

    test('a challenge from one sign-in answered at another sign-in of the same person: refused', async () => {
      const { person, authenticator, key } = await personWithPasskey(p, portal);
      const a = await afterPassword(p, portal, person);
      const b = await afterPassword(p, portal, person);
      const signedForA = authenticator.get(passkeyOptionsOf(a.page.text), key);
      const res = await b.browser.submit(passkeyActionOf(b.page.text), { credential: signedForA });
      expect(res.status).toBe(401);
      expect(portalRedirect(res)).toBeUndefined();
    });

    test('a challenge from /account session A answered in session B (same person, second browser): refused', async () => {
      const { authenticator, key } = await personWithPasskey(p, portal);
      const a = await accountBrowser(authenticator, key);
      const b = await accountBrowser(authenticator, key);
      const pageA = await a.open('/account/passkeys/add');
      const pageB = await b.open('/account/passkeys/add');
      const signedForA = authenticator.get(passkeyOptionsOf(pageA.text), key);
      const res = await postRaw(b, '/account/passkeys/add', `credential=${encodeURIComponent(signedForA)}`, pageB);
      expectRefusal(res);
      // And B may not add a key on A's proof.
      await usePasskey(a, await a.open('/account/passkeys/add'), authenticator, key);
      const sneak = await b.open('/account/passkeys/new');
      expect(sneak.text).not.toContain('action="/account/passkeys/new"');
      expect(sneak.text).toContain('action="/account/passkeys/add"');
    });

    test('person X\'s second-factor challenge answered with person Y\'s own key, at X\'s sign-in: refused', async () => {
      const x = await personWithPasskey(p, portal);
      const y = await personWithPasskey(p, portal);
      const { browser, page } = await afterPassword(p, portal, x.person);
      const res = await usePasskey(browser, page, y.authenticator, y.key);
      expect(res.status).toBe(401);
      expect(portalRedirect(res)).toBeUndefined();
    });

    test('an expired challenge: refused', async () => {
      const { person, authenticator, key } = await personWithPasskey(p, portal);
      const bind = `attack:expiry:${person.id}`;
      const options = await authenticationOptions(p.deps, bind, person.id);
      // The store keeps it CHALLENGE_SECONDS; here one second, then it is gone.
      const stored = await p.deps.store.get(`webauthn:challenge:${bind}`);
      await p.deps.store.set(`webauthn:challenge:${bind}`, stored!, 1);
      await new Promise((r) => setTimeout(r, 2100));
      await expect(provePasskey(p.deps, bind, authenticator.get(options, key), { userId: person.id, ip: '127.0.0.1' })).rejects.toMatchObject({ status: 401 });
    });
  });

  describe('races', () => {
    test('the same assertion 50 times at once at the sign-in page: one sign-in, the rest refused, one use audited', async () => {
      const { person, authenticator, key } = await personWithPasskey(p, portal, { synced: true });
      const browser = new Browser(p.url);
      const { res } = await openAuthorization(portal, browser);
      const credential = authenticator.get(passkeyOptionsOf(res.text), key, { counter: 0 });
      const path = new URL(passkeyActionOf(res.text), p.url).pathname;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1];
      const before = (await listAuditEventsForUser(p.deps.db, person.id)).filter((e) => e.action === 'passkey.use' && e.outcome === 'success').length;
      const answers = await Promise.all(Array.from({ length: 50 }, () =>
        browser.agent.post(path).type('form').send({ _csrf: csrf, credential }).redirects(0)));
      const statuses = answers.map((r) => r.status);
      expect(statuses.every((s) => s < 500)).toBe(true);
      const after = (await listAuditEventsForUser(p.deps.db, person.id)).filter((e) => e.action === 'passkey.use' && e.outcome === 'success').length;
      expect({ uses: after - before, statuses: tally(statuses) }).toMatchObject({ uses: 1 });
    });

    test('the same assertion 50 times at once at the domain: exactly one proof', async () => {
      const { person, authenticator, key } = await personWithPasskey(p, portal, { synced: true });
      const bind = `attack:race:${person.id}`;
      const credential = authenticator.get(await authenticationOptions(p.deps, bind, person.id), key, { counter: 0 });
      const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => provePasskey(p.deps, bind, credential, { userId: person.id, ip: '127.0.0.1' })));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    });
  });

});

function expectNewKeyPage(res: import('supertest').Response) {
  expect(res.status).toBe(200);
  expect(res.text).toMatch(/data-passkey-options/);
  return res;
}
