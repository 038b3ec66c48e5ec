import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { signInTo, type Person } from '../helpers/sign-in.js';
import { mailedCode, mailTo, SITE_LINK_SUBJECT } from '../helpers/mail.js';
import { addSite } from '../../src/domain/sites.js';
import { linkUser, resetMfa } from '../../src/domain/users.js';
import { apiToken, consoleBrowser, staff, uniqueEmail } from './admin-support.js';

/**
 * How a person comes to work at another site (DESIGN.md, "Reach";
 * src/domain/site-links.ts): a link by someone who does not reach the whole
 * person waits for the person to confirm it and gives nothing meanwhile; a
 * person who gains a site gets fresh codes by email, the old ones dead; a
 * site's trail starts when the person joined it.
 */
let p: TestPharmid;
let portal: Portal;
const cli = { kind: 'cli' } as const;
let X: string;
let Y: string;
let adminX: Awaited<ReturnType<typeof staff>>;
let tokenX: string;

beforeAll(async () => {
  p = await startTestPharmid();
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
  X = (await addSite(p.deps, cli, { ods: 'SLX01', name: 'Sloe Pharmacy', userCap: null })).ods_code;
  Y = (await addSite(p.deps, cli, { ods: 'SLY02', name: 'Sorrel Pharmacy', userCap: null })).ods_code;
  adminX = await staff(p, X, 'site-admin', 'Xia Admin');
  tokenX = await apiToken(p, (await consoleBrowser(p, adminX, '/account')).browser, adminX);
}, 30_000);
afterAll(() => p.stop());

const asX = (method: 'get' | 'post' | 'patch', path: string, body?: object) => {
  const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${tokenX}`);
  return body ? r.send(body) : r;
};

async function colleagueAtY(): Promise<Person & { id: string }> {
  return withAuthenticator(p.deps, await makePerson(p.deps, { site: Y, name: 'Wren Waiting' }), p.clock) as Promise<Person & { id: string }>;
}

async function signIn(person: Person, answers: { declineSites?: boolean } = {}) {
  p.clock.advance(31);
  const { claims, tokens, steps } = await signInTo(portal, new Browser(p.url), person, p.clock, { scope: 'openid sites' }, { site: Y, ...answers });
  return { steps, info: await portal.userinfo(tokens.access_token, claims.sub) as { sites?: { ods: string }[] } };
}

test('a link by someone who does not look after all the person\'s sites gives nothing until the person confirms it with the emailed code', async () => {
  const v = await colleagueAtY();
  const linked = await asX('post', `/sites/${X}/locums`, { email: v.email, role: 'site-admin' });
  expect(linked.status).toBe(201);
  expect(linked.body.status).toBe('waiting for the person to confirm');
  // Linking again while the code is live is a conflict, not a second code.
  expect((await asX('post', `/sites/${X}/locums`, { email: v.email })).status).toBe(409);
  // Meanwhile: not one of X's people, no reach for X over them, not in their claims.
  const people = await asX('get', `/sites/${X}/people`);
  expect(people.body.items.map((i: { email: string }) => i.email)).not.toContain(v.email);
  expect(people.body.waiting).toMatchObject([{ email: v.email, role: 'site-admin', status: 'waiting for the person to confirm' }]);
  expect((await asX('post', `/people/${v.id}/reset-password`)).status).toBe(403);
  const later = await signIn(v);
  expect(later.steps).toContain('site-link');
  expect(later.info.sites!.map((s) => s.ods)).toEqual([Y]);
  // A wrong code is refused and changes nothing.
  const wrong = await signIn({ ...v, siteLinkCode: 'AAAAA-BBBBB' }).then(() => 'signed in', (e: Error) => e.message);
  expect(wrong).toMatch(/step site-link answered 4\d\d/);
  // The code from the email confirms it: now X is theirs too, and X reaches part of them (codes go to them).
  v.siteLinkCode = mailedCode(p, v.email, SITE_LINK_SUBJECT)!;
  const confirmed = await signIn(v);
  expect(confirmed.info.sites!.map((s) => s.ods).sort()).toEqual([X, Y].sort());
  expect((await asX('get', `/people/${v.id}`)).body).toMatchObject({ reset_codes_go_to: 'person', sites: expect.arrayContaining([expect.objectContaining({ ods: X, role: 'site-admin' })]) });
  expect(mailTo(p, v.email).some((m) => m.subject === 'You confirmed a site in pharmid' && m.body.includes(X))).toBe(true);
  // A later sign-in is not asked again.
  expect((await signIn(v)).steps).not.toContain('site-link');
});

test('the person may decline a waiting site: it is gone, and they are told', async () => {
  const v = await colleagueAtY();
  expect((await asX('post', `/sites/${X}/locums`, { email: v.email })).status).toBe(201);
  const declined = await signIn(v, { declineSites: true });
  expect(declined.steps).toContain('site-link');
  expect((await signIn(v)).steps).not.toContain('site-link');
  expect((await asX('get', `/sites/${X}/people`)).body.waiting).toEqual([]);
  expect(mailTo(p, v.email).some((m) => m.subject === 'You declined a site in pharmid')).toBe(true);
});

test('an administrator who looks after all the person\'s sites (or the command line) links at once; linking never changes a role', async () => {
  const v = await makePerson(p.deps, { site: X, name: 'Iris Instant' });
  const linked = await linkUser(p.deps, cli, { email: v.email, site: Y });
  expect(linked.waiting).toBe(false);
  // Already there: a conflict, and the role stays.
  const again = await asX('post', `/sites/${X}/locums`, { email: v.email, role: 'site-admin' });
  expect(again.status).toBe(409);
  expect((await p.deps.db.query('SELECT role FROM memberships m JOIN sites s ON s.id = m.site_id WHERE m.user_id = $1 AND s.ods_code = $2', [v.id, X])).rows).toEqual([{ role: 'member' }]);
  // Two links racing for the same site: one is made, the other is told it exists.
  const w = await makePerson(p.deps, { site: X, name: 'Ruth Race' });
  const raced = await Promise.allSettled([linkUser(p.deps, cli, { email: w.email, site: Y }), linkUser(p.deps, cli, { email: w.email, site: Y })]);
  expect(raced.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
});

test('a code shown to an administrator stops working when the person gains a site; a fresh one goes to the person alone', async () => {
  const v = await withAuthenticator(p.deps, await makePerson(p.deps, { site: X, name: 'Cody Coded' }), p.clock);
  const shown = await asX('post', `/people/${v.id}/reset-mfa`);
  expect(shown.body.activation_code).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
  // The command line (entire reach) links them to Y at once: X's code dies, the person gets a new one by email.
  await linkUser(p.deps, cli, { email: v.email, site: Y });
  const holder: Person = { email: v.email, password: v.password, resetCode: shown.body.activation_code };
  expect(await signInTo(portal, new Browser(p.url), holder, p.clock, {}, { site: X }).then(() => 'signed in', (e: Error) => e.message)).toMatch(/step reset-code answered 4\d\d/);
  const fresh = mailedCode(p, v.email, 'Your two-step sign-in was reset')!;
  expect(fresh).not.toBe(shown.body.activation_code);
  expect(mailTo(p, v.email).some((m) => m.subject === 'Your pharmid one-time code was replaced')).toBe(true);
  const person: Person = { email: v.email, password: v.password, resetCode: fresh };
  p.clock.advance(31);
  expect((await signInTo(portal, new Browser(p.url), person, p.clock, {}, { site: X })).steps).toContain('enrol');
});

test('a reset and a link made at the same moment never leave the administrator holding a code for a person beyond their reach', async () => {
  for (let i = 0; i < 4; i += 1) {
    const v = await withAuthenticator(p.deps, await makePerson(p.deps, { site: X, name: 'Tess Timing' }), p.clock);
    const [reset] = await Promise.all([asX('post', `/people/${v.id}/reset-mfa`), linkUser(p.deps, cli, { email: v.email, site: Y })]);
    if (!reset.body.activation_code) continue;
    const holder: Person = { email: v.email, password: v.password, resetCode: reset.body.activation_code };
    p.clock.advance(31);
    const outcome = await signInTo(portal, new Browser(p.url), holder, p.clock, {}, { site: X }).then(() => 'signed in', (e: Error) => e.message);
    expect(outcome).toMatch(/step reset-code answered 4\d\d/);
  }
});

test('a site\'s trail shows a person\'s events that carry no site only from when they joined it', async () => {
  const v = await colleagueAtY();
  await signIn(v);
  // Shown to the command line, which still reaches the whole person after the link: the code stays.
  const { activationCode } = await resetMfa(p.deps, cli, v.email);
  // Tokens are dated in whole seconds: a sign-in in the second of the reset is not taken for one after it.
  await new Promise((r) => setTimeout(r, 1100));
  const joinedAt = new Date(Date.now() - 1000);
  await linkUser(p.deps, cli, { email: v.email, site: X });
  v.resetCode = activationCode;
  v.totpSecret = undefined;
  await signIn(v);
  const trail = await asX('get', `/sites/${X}/audit?email=${encodeURIComponent(v.email)}&per_page=100`);
  expect(trail.status).toBe(200);
  const items = trail.body.items as { action: string; occurred_at: string; site: string | null }[];
  // From the join on: the link and the sign-in after it. Before it: nothing (the earlier sign-in, the reset).
  expect(items.filter((e) => e.action === 'sign-in')).toHaveLength(1);
  expect(items.filter((e) => e.action === 'user.reset-mfa')).toEqual([]);
  expect(items.every((e) => new Date(e.occurred_at) >= joinedAt)).toBe(true);
  expect(items.every((e) => e.site === null || e.site === X)).toBe(true);
  void uniqueEmail;
});
