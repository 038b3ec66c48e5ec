import request from 'supertest';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { makeClient } from '../helpers/factories.js';
import { Portal } from '../helpers/portal.js';
import { signInTo } from '../helpers/sign-in.js';
import { textOf } from '../helpers/pages.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser, linkUser } from '../../src/domain/users.js';
import { apiToken, consoleBrowser, grant, staff, uniqueEmail } from './admin-support.js';

/** The finer rules of delegated administration, and the locum made to work at two sites by the helpdesk. */
let p: TestPharmid;
const cli = { kind: 'cli' } as const;
let A: string;
let B: string;
let adminA: Awaited<ReturnType<typeof staff>>;
let tokenA: string;

beforeAll(async () => {
  p = await startTestPharmid();
  A = (await addSite(p.deps, cli, { ods: 'RUL01', name: 'Rules Pharmacy', userCap: null })).ods_code;
  B = (await addSite(p.deps, cli, { ods: 'RUL02', name: 'Branch Pharmacy', userCap: null })).ods_code;
  adminA = await staff(p, A, 'site-admin', 'Ria Admin');
  const { browser } = await consoleBrowser(p, adminA);
  tokenA = await apiToken(p, browser, adminA);
});
afterAll(() => p.stop());

function asAdminA(method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object): Promise<Response> {
  const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${tokenA}`);
  return body ? r.send(body) : r;
}

async function person(sites: [string, 'member' | 'site-admin'][]) {
  const email = uniqueEmail();
  const { user } = await createUser(p.deps, cli, { email, name: 'Some One', site: sites[0]![0], role: sites[0]![1] });
  for (const [site, role] of sites.slice(1)) await linkUser(p.deps, cli, { email, site, role });
  return user;
}

test('nobody administers their own account through the console or the API', async () => {
  for (const act of ['reset-mfa', 'reset-password', 'disable']) {
    const res = await asAdminA('post', `/people/${adminA.id}/${act}`);
    expect([act, res.status]).toEqual([act, 403]);
    expect(res.body.error_description).toMatch(/your own account/);
  }
  expect((await asAdminA('patch', `/people/${adminA.id}/sites/${A}`, { role: 'member' })).status).toBe(403);
});

test('a site administrator cannot take over an administrator of a site they do not look after', async () => {
  const adminOfB = await person([[B, 'site-admin'], [A, 'member']]);
  const res = await asAdminA('post', `/people/${adminOfB.id}/reset-mfa`);
  expect(res.status).toBe(403);
  expect(res.body.error_description).toMatch(/administers a site you do not look after/);
  // A plain locum who also works at B is theirs to help, but the code goes to the locum alone, by email.
  const locum = await person([[B, 'member'], [A, 'member']]);
  const helped = await asAdminA('post', `/people/${locum.id}/reset-mfa`);
  expect(helped.status).toBe(200);
  expect(helped.body).not.toHaveProperty('activation_code');
  expect(helped.body.code_emailed_to).toBe(locum.email);
  // Unlocking them is for someone who looks after all their sites.
  const unlock = await asAdminA('post', `/people/${locum.id}/unlock`);
  expect(unlock.status).toBe(403);
  expect(unlock.body.error_description).toMatch(/also works at a site you do not look after/);
});

test('disabling a locum who also works elsewhere is refused; removing them from the site is the way', async () => {
  const locum = await person([[A, 'member'], [B, 'member']]);
  const res = await asAdminA('post', `/people/${locum.id}/disable`);
  expect(res.status).toBe(403);
  expect(res.body.error_description).toMatch(/remove them from your site instead/);
  expect((await asAdminA('delete', `/people/${locum.id}/sites/${A}`)).status).toBe(204);
  const left = await p.deps.db.query('SELECT s.ods_code FROM memberships m JOIN sites s ON s.id = m.site_id WHERE m.user_id = $1', [locum.id]);
  expect(left.rows).toEqual([{ ods_code: B }]);
});

test('people with organisation-wide roles are changed by superadmins only', async () => {
  const helper = await person([[A, 'member']]);
  await grant(p, helper.email, 'helpdesk');
  for (const act of ['reset-mfa', 'reset-password', 'unlock', 'disable']) {
    const res = await asAdminA('post', `/people/${helper.id}/${act}`);
    expect([act, res.status]).toEqual([act, 403]);
  }
});

test('only a site\'s administrators make someone an administrator there; commissioners and the helpdesk link members', async () => {
  const commissioner = await staff(p, B, 'member', 'Cora Commissioner');
  await grant(p, commissioner.email, 'commissioner', [A]);
  const { browser } = await consoleBrowser(p, commissioner);
  const token = await apiToken(p, browser, commissioner);
  const locum = await person([[B, 'member']]);
  const link = (role: string) => request(p.url).post(`/api/admin/sites/${A}/locums`).set('Authorization', `Bearer ${token}`).send({ email: locum.email, role });
  const refused = await link('site-admin');
  expect(refused.status).toBe(403);
  expect(refused.body.error_description).toMatch(/Only an administrator of the site can make someone an administrator/);
  expect((await link('member')).status).toBe(201);
  // Linking twice is a conflict, not a silent role change.
  expect((await link('member')).status).toBe(409);
});

test('a site always keeps an administrator, and the console warns while it has only one', async () => {
  const site = (await addSite(p.deps, cli, { ods: 'RUL03', name: 'Solo Pharmacy', userCap: null })).ods_code;
  const root = await staff(p, B, 'member', 'Root User');
  await grant(p, root.email, 'superadmin');
  const { browser } = await consoleBrowser(p, root);
  const solo = await person([[site, 'site-admin'], [A, 'member']]);
  const page = await browser.open(`/admin/sites/${site}`);
  expect(textOf(page.text)).toMatch(/Solo Pharmacy has only one administrator/);

  await browser.open(`/admin/people/${solo.id}`);
  const demoted = await browser.submit(`/admin/people/${solo.id}/sites/${site}/role`, { role: 'member' });
  expect(demoted.status).toBe(409);
  expect(textOf(demoted.text)).toMatch(/is the only administrator of Solo Pharmacy \(RUL03\)\. Make someone else an administrator first/);
  const removed = await browser.submit(`/admin/people/${solo.id}/sites/${site}/remove`, {});
  expect(removed.status).toBe(409);

  // With a second administrator, the first may step down, and the warning goes.
  const second = await person([[site, 'member']]);
  await browser.open(`/admin/people/${second.id}`);
  expect((await browser.submit(`/admin/people/${second.id}/sites/${site}/role`, { role: 'site-admin' })).status).toBe(200);
  await browser.open(`/admin/people/${solo.id}`);
  expect((await browser.submit(`/admin/people/${solo.id}/sites/${site}/role`, { role: 'member' })).status).toBe(200);
  expect(textOf((await browser.open(`/admin/sites/${site}`)).text)).toMatch(/has only one administrator/);

  // A person's only site is not removed: they are disabled instead.
  const onlyHere = await person([[site, 'member']]);
  await browser.open(`/admin/people/${onlyHere.id}`);
  const last = await browser.submit(`/admin/people/${onlyHere.id}/sites/${site}/remove`, {});
  expect(last.status).toBe(409);
  expect(textOf(last.text)).toMatch(/only site: disable them instead/);
});

test('the console offers only what the role allows', async () => {
  const commissioner = await staff(p, B, 'member', 'Cy Commissioner');
  await grant(p, commissioner.email, 'commissioner', [A]);
  const { browser } = await consoleBrowser(p, commissioner);
  const someone = await person([[A, 'member']]);
  const page = await browser.open(`/admin/people/${someone.id}`);
  const actions = [...page.text.matchAll(/(?:action|href)="\/admin\/people\/[^"]+\/([a-z-]+)"/g)].map((m) => m[1]);
  // Support acts only: no disabling, no roles, no removal, no change of email (a commissioner of A only has nowhere else to link them either).
  // Someone who has not activated gets a new activation code, not a password or authenticator reset; Unlock shows only when something is locked.
  expect(actions.sort()).toEqual(['activation-code']);
  const home = await browser.open('/admin');
  expect(home.text).not.toContain('href="/admin/portals"');
  expect(home.text).toContain(A);
  expect(home.text).not.toContain(B);
});

test('the helpdesk makes a locum work at two sites with one sign-in', async () => {
  const helpdesk = await staff(p, B, 'member', 'Hal Helpdesk');
  await grant(p, helpdesk.email, 'helpdesk');
  const locum = await staff(p, A, 'member', 'Lou Locum');
  const { browser } = await consoleBrowser(p, helpdesk);

  const found = await browser.open(`/admin/people?q=${encodeURIComponent('lou locum')}`);
  expect(found.status).toBe(200);
  expect(found.text).toContain(`href="/admin/people/${locum.id}"`);
  await browser.open(`/admin/people/${locum.id}`);
  const linked = await browser.submit(`/admin/people/${locum.id}/sites`, { site: B, role: 'member' });
  expect(linked.status).toBe(200);
  expect(textOf(linked.text)).toContain('They now work at the site too');
  expect(linked.text).toContain(`data-site="${B}"`);

  const portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
  const { steps, claims } = await signInTo(portal, new Browser(p.url), locum, p.clock, {}, { site: B });
  expect(steps).toEqual(['password', 'otp', 'site']);
  expect(claims.sub).toBe(locum.id);
  const info = await portal.userinfo((await signInTo(portal, new Browser(p.url), locum, (p.clock.advance(30), p.clock))).tokens.access_token, locum.id);
  expect((info.sites as { ods: string }[]).map((s) => s.ods).sort()).toEqual([A, B].sort());
});
