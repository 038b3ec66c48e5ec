import request from 'supertest';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser, formAction } from '../../helpers/browser.js';
import { makeClient, makePerson } from '../../helpers/factories.js';
import { withAuthenticator } from '../../helpers/pages.js';
import { Portal } from '../../helpers/portal.js';
import { afterPasswordStep, signInTo, stepOf, totpCode, type Person } from '../../helpers/sign-in.js';
import { mailedCode, mailTo, SITE_LINK_SUBJECT } from '../../helpers/mail.js';
import { addSite } from '../../../src/domain/sites.js';
import { apiToken, consoleBrowser, staff } from '../../integration/admin-support.js';

/**
 * Round 3: the code that confirms a waiting site link (src/domain/site-links.ts,
 * src/interactions/steps/confirm-site-link.ts). Site X's administrator links
 * people who work at Y (so the link waits for them). Tried: another person's
 * code, an expired one, guessing (in sequence and in a parallel burst),
 * confirm racing decline, and whether the linking administrator is ever
 * shown the code. Both store modes (the guessing limits live in the store).
 */
describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  let p: TestPharmid;
  let portal: Portal;
  let X: string;
  let Y: string;
  let tokenX: string;
  type Colleague = Person & { id: string; totpSecret: string };

  beforeAll(async () => {
    p = await startTestPharmid(modeEnv);
    portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
    X = (await addSite(p.deps, { kind: 'cli' }, { ods: `SX${Math.floor(Math.random() * 900 + 100)}`, name: 'Sloe Pharmacy', userCap: null })).ods_code;
    Y = (await addSite(p.deps, { kind: 'cli' }, { ods: `SY${Math.floor(Math.random() * 900 + 100)}`, name: 'Sorrel Pharmacy', userCap: null })).ods_code;
    const adminX = await staff(p, X, 'site-admin', 'Xia Admin');
    tokenX = await apiToken(p, (await consoleBrowser(p, adminX, '/account')).browser, adminX);
  }, 60_000);
  afterAll(() => p.stop());

  const asX = (method: 'get' | 'post', path: string, body?: object) => {
    const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${tokenX}`);
    return body ? r.send(body) : r;
  };
  const sitesOf = async (id: string) => (await p.deps.db.query<{ ods_code: string }>(
    'SELECT s.ods_code FROM memberships m JOIN sites s ON s.id = m.site_id WHERE m.user_id = $1 ORDER BY 1', [id])).rows.map((r) => r.ods_code);

  async function linkedColleague(name: string): Promise<Colleague & { code: string; linkBody: unknown }> {
    const v = await withAuthenticator(p.deps, await makePerson(p.deps, { site: Y, name }), p.clock) as Colleague;
    const linked = await asX('post', `/sites/${X}/locums`, { email: v.email });
    expect(linked.status).toBe(201);
    return { ...v, code: mailedCode(p, v.email, SITE_LINK_SUBJECT)!, linkBody: linked.body };
  }

  /** A browser of the person at the site-link step (after password and code). */
  async function atSiteLink(v: Colleague) {
    p.clock.advance(31);
    const { browser, action } = await afterPasswordStep(p.url, portal, v);
    const page = await browser.submit(action!, { code: totpCode(v.totpSecret, p.clock.now()) });
    expect(stepOf(page.text)).toBe('site-link');
    const at = formAction(page.text, '/interaction/')!;
    return { browser, submit: (fields: Record<string, string>) => browser.submit(at, fields) };
  }

  test('another person\'s site-link code does not confirm my waiting site', async () => {
    const v = await linkedColleague('Vic Victim');
    const w = await linkedColleague('Wil Waiting');
    const step = await atSiteLink(v);
    const r = await step.submit({ activation_code: w.code });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(await sitesOf(v.id)).toEqual([Y]);
    // And w's code still works for w (not consumed by v's try).
    const wStep = await atSiteLink(w);
    await wStep.submit({ activation_code: w.code });
    expect((await sitesOf(w.id)).sort()).toEqual([X, Y].sort());
  }, 30_000);

  test('an expired site-link code confirms nothing', async () => {
    const v = await linkedColleague('Eve Expired');
    await p.deps.db.query("UPDATE activation_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND purpose = 'site-link'", [v.id]);
    const step = await atSiteLink(v);
    const r = await step.submit({ activation_code: v.code });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(await sitesOf(v.id)).toEqual([Y]);
  }, 30_000);

  test('guessing the site-link code: five wrong, then even the right one waits; a parallel burst gets no more answers', async () => {
    const v = await linkedColleague('Gus Guessed');
    const step = await atSiteLink(v);
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => step.submit({ activation_code: `ZZZZZ-${String(i).padStart(5, 'Z').slice(-5).replace(/[01]/g, 'Q')}` })));
    const answered = burst.filter((r) => r.status !== 429).length;
    // Five free tries, and at most one more checked while the first lock is being set.
    expect(answered).toBeLessThanOrEqual(6);
    const right = await step.submit({ activation_code: v.code });
    expect(right.status).toBe(429);
    expect(await sitesOf(v.id)).toEqual([Y]);
  }, 60_000);

  test('confirm racing decline in two browsers: the person ends up either linked or told it was declined, never both', async () => {
    const v = await linkedColleague('Rae Racing');
    const [one, two] = [await atSiteLink(v), await atSiteLink(v)];
    const [c, d] = await Promise.all([one.submit({ activation_code: v.code }), two.submit({ decline: 'yes' })]);
    const linked = (await sitesOf(v.id)).includes(X);
    const declinedMail = mailTo(p, v.email).some((m) => /declin/i.test(m.subject));
    const confirmedMail = mailTo(p, v.email).some((m) => m.subject === 'You confirmed a site in pharmid');
    expect({ linked, declinedMail, confirmedMail, statuses: [c.status, d.status] })
      .toEqual(expect.objectContaining({ linked: confirmedMail }));
    expect(linked && declinedMail).toBe(false);
  }, 30_000);

  test('the linking administrator is never shown the code: not in the link\'s answer, the site\'s people, the person, or the trail', async () => {
    const v = await linkedColleague('Sid Secret');
    const seen = JSON.stringify([
      v.linkBody,
      (await asX('get', `/sites/${X}/people`)).body,
      (await asX('get', `/people/${v.id}`)).body,
      (await asX('get', `/sites/${X}/audit`)).body,
      (await asX('get', '/people?q=Sid')).body,
    ]);
    expect(v.code).toBeTruthy();
    expect(seen).not.toContain(v.code);
    expect(seen.replace(/-/g, '')).not.toContain(v.code.replace(/-/g, ''));
    // While waiting, X has no say over the person.
    expect((await asX('post', `/people/${v.id}/reset-mfa`)).status).toBe(403);
    expect((await asX('post', `/people/${v.id}/unlock`)).status).toBe(403);
  }, 30_000);

  test('a person who says "Not now" signs in without the waiting site in the sites claim, and without being able to choose it', async () => {
    const v = await linkedColleague('Nat Notnow');
    p.clock.advance(31);
    const { claims, tokens, steps } = await signInTo(portal, new Browser(p.url), v, p.clock, { scope: 'openid sites' }, {});
    expect(steps).toContain('site-link');
    const info = await portal.userinfo(tokens.access_token, claims.sub) as { sites?: { ods: string }[] };
    expect(info.sites!.map((s) => s.ods)).toEqual([Y]);
    // Asked to choose a site, the person posts the waiting one: refused, or signed in without it.
    p.clock.advance(31);
    const forced = await signInTo(portal, new Browser(p.url), v, p.clock, { scope: 'openid sites', prompt: 'select_site' }, { site: X })
      .then(async (r) => JSON.stringify([r.claims, await portal.userinfo(r.tokens.access_token, r.claims.sub)]), (e: Error) => e.message);
    expect(forced).not.toContain(X);
  }, 30_000);
});
