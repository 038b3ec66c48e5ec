import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser } from '../helpers/browser.js';
import { linkPerson, makeClient, makePerson } from '../helpers/factories.js';
import { Portal } from '../helpers/portal.js';
import { signInTo, type Person } from '../helpers/sign-in.js';
import { answer, expectPage, openAuthorization, portalRedirect, textOf, withAuthenticator } from '../helpers/pages.js';
import { SoftAuthenticator, passkeyActionOf, passkeyOptionsOf, type SoftKey } from '../helpers/webauthn.js';
import { cli, setCliEnvironment } from '../helpers/cli.js';
import { addSite } from '../../src/domain/sites.js';
import { listPasskeys } from '../../src/domain/factors/passkeys.js';
import { addPasskey, enrolFirstPasskey, registrationOptions } from '../../src/domain/factors/passkey-ceremonies.js';
import { readiness } from '../../src/domain/readiness.js';
import { personFactors } from '../../src/domain/factors/summary.js';
import { loadPrincipal } from '../../src/domain/authorization.js';
import { Forbidden } from '../../src/domain/errors.js';
import { setRolloutPolicy } from '../../src/domain/rollout.js';
import { listAuditEventsForUser } from '../../src/db/queries/audit-events.js';
import { apiToken, consoleBrowser, grant, postForm, staff } from './admin-support.js';

/**
 * Passkeys as administrators meet them (issue 12, "What administrators
 * see"): each person's factors on the console and in the API, within reach
 * only; "reset authenticator" removing passkeys too, so a key left behind no
 * longer signs anyone in; readiness counting a passkey; a rollout policy
 * that requires a passkey, which steps a code sign-in up exactly as a
 * portal's acr_values=phr does. Keys are made by test/helpers/webauthn.ts, a
 * real WebAuthn client the server checks with @simplewebauthn/server.
 */

let p: TestPharmid;
let portal: Portal;
let dataDir: string;
let restoreEnv: () => void;
const secretKey = randomBytes(32).toString('base64');
const cliActor = { kind: 'cli' } as const;
let A: string;
let B: string;
interface Admin { id: string; browser: Browser; token: string; email: string }
let adminA: Admin;
let adminB: Admin;
let superadmin: Admin;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-passkeys-admin-'));
  p = await startTestPharmid({ PHARMID_DATA_DIR: dataDir, PHARMID_SECRET_KEY: secretKey });
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
  A = (await addSite(p.deps, cliActor, { ods: 'PKA01', name: 'Apple Pharmacy', userCap: null })).ods_code;
  B = (await addSite(p.deps, cliActor, { ods: 'PKB02', name: 'Birch Pharmacy', userCap: null })).ods_code;
  const admin = async (site: string, name: string): Promise<Admin> => {
    const who = await staff(p, site, 'site-admin', name);
    const { browser } = await consoleBrowser(p, who, '/account');
    return { id: who.id, browser, token: await apiToken(p, browser, who), email: who.email };
  };
  adminA = await admin(A, 'Ada Admin');
  adminB = await admin(B, 'Bea Admin');
  const office = (await addSite(p.deps, cliActor, { ods: 'PKC03', name: 'Head Office', userCap: null })).ods_code;
  const s = await staff(p, office, 'member', 'Sol Super');
  await grant(p, s.email, 'superadmin');
  const { browser } = await consoleBrowser(p, s, '/account');
  superadmin = { id: s.id, browser, token: await apiToken(p, browser, s), email: s.email };
  restoreEnv = setCliEnvironment({
    NODE_ENV: 'test', DATABASE_URL: p.backends_.databaseUrl, PHARMID_SECRET_KEY: secretKey, COOKIE_KEYS: 'k', LOG_LEVEL: 'silent', PHARMID_DATA_DIR: dataDir,
  });
}, 60_000);
afterAll(async () => {
  restoreEnv();
  await p.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const origin = () => new URL(p.config.issuer).origin;
const api = (token: string) => ({
  get: (path: string) => request(p.url).get(`/api/admin${path}`).set('Authorization', `Bearer ${token}`),
  post: (path: string, body: object = {}) => request(p.url).post(`/api/admin${path}`).set('Authorization', `Bearer ${token}`).send(body),
});

type Holder = Person & { id: string; site: string };
interface Key { authenticator: SoftAuthenticator; key: SoftKey }

/** Registers a passkey for the person, as the account page would (a real registration ceremony). */
async function givePasskey(person: Holder, name: string, opts: { first?: boolean } = {}): Promise<Key> {
  const authenticator = new SoftAuthenticator(origin());
  const bind = `test:${person.id}:${randomBytes(4).toString('hex')}`;
  const user = { id: person.id, email: person.email, name: 'Vic Tim' };
  const { response, key } = authenticator.create(await registrationOptions(p.deps, user, bind));
  if (opts.first) {
    person.recoveryCodes = (await enrolFirstPasskey(p.deps, user, bind, response, name, { ip: '127.0.0.1', by: 'a test' })).codes;
  } else {
    await addPasskey(p.deps, user, bind, response, name, { actor: cliActor, ip: '127.0.0.1', by: 'a test' });
  }
  person.passkey = { authenticator, key };
  return { authenticator, key };
}

/** "Sign in with a passkey" from the sign-in page, in a fresh browser: the answer to the passkey's POST. */
async function passkeyAlone(k: Key) {
  const browser = new Browser(p.url);
  const { req, res } = await openAuthorization(portal, browser);
  const answered = await browser.submit(passkeyActionOf(res.text), { credential: k.authenticator.get(passkeyOptionsOf(res.text), k.key) });
  return { req, res: answered };
}

function mailsTo(email: string): { subject: string; body: string }[] {
  const dir = join(dataDir, 'outbox');
  let files: string[] = [];
  try { files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort(); } catch { return []; }
  return files.map((f) => readFileSync(join(dir, f), 'utf8')).filter((m) => m.includes(email)).map((raw) => {
    const [head, ...rest] = raw.split(/\r?\n\r?\n/);
    const body = rest.join('\n\n').replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return { subject: /^Subject: (.*)$/mi.exec(head!)?.[1]?.trim() ?? '', body };
  });
}

/** A colleague at site A with an authenticator app and two passkeys. */
async function colleagueWithKeys() {
  const v = await withAuthenticator(p.deps, await makePerson(p.deps, { site: A, name: 'Vic Tim' }), p.clock);
  const blue = await givePasskey(v, 'Blue key');
  const dispensary = await givePasskey(v, 'Dispensary PC');
  return { v, blue, dispensary };
}

describe('"reset authenticator" removes passkeys too', () => {
  test('through the admin API: the keys go in the reset, it is audited and emailed, and the passkey no longer signs the person in', async () => {
    const { v, blue } = await colleagueWithKeys();
    // Before the reset the passkey alone signs Vic in.
    const before = await passkeyAlone(blue);
    expect(portalRedirect(before.res)?.searchParams.get('code')).toBeTruthy();

    const reset = await api(adminA.token).post(`/people/${v.id}/reset-mfa`);
    expect(reset.status).toBe(200);
    expect(reset.body.activation_code).toMatch(/\S/);
    // The same key, offered again from the sign-in page, is refused.
    const after = await passkeyAlone(blue);
    expect(portalRedirect(after.res)).toBeUndefined();
    expect(after.res.status).toBe(401);
    expect(textOf(after.res.text)).toMatch(/could not accept that passkey/i);
    expect(await listPasskeys(p.deps, v.id)).toEqual([]);
    const event = (await listAuditEventsForUser(p.deps.db, v.id)).find((e) => e.action === 'user.reset-mfa')!;
    expect(event.details).toMatchObject({ passkeys_removed: ['Blue key', 'Dispensary PC'] });
    const notice = mailsTo(v.email).find((m) => m.subject === 'Your pharmid two-step sign-in was reset')!;
    expect(notice.body).toMatch(/passkeys or security keys were removed[\s\S]*"Blue key", "Dispensary PC"/);

    // And after the password the person is asked for the reset's code, not offered the key.
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    expectPage(await answer(browser, res, { email: v.email, password: v.password }), 'reset-code');
  });

  test('through the command line (pharmid user reset-mfa): the keys go, and the output names them', async () => {
    const { v, blue } = await colleagueWithKeys();
    const r = await cli('user', 'reset-mfa', '--email', v.email, '--json');
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ mfa: 'reset', passkeys_removed: ['Blue key', 'Dispensary PC'] });
    expect(await listPasskeys(p.deps, v.id)).toEqual([]);
    expect(portalRedirect((await passkeyAlone(blue)).res)).toBeUndefined();
  });
});

test('through the console, for someone whose only factor is a passkey: the reset is offered, says what it removes, and removes the key', async () => {
  const k = await makePerson(p.deps, { site: A, name: 'Kit Keyed' });
  const key = await givePasskey(k, 'Blue key', { first: true });
  const page = await adminA.browser.agent.get(`/admin/people/${k.id}`);
  expect(textOf(page.text)).toMatch(/Authenticator app Not set up Passkeys and security keys Blue key/);
  expect(page.text).toContain('id="reset-mfa-link"');
  const confirm = await adminA.browser.agent.get(`/admin/people/${k.id}/reset-mfa`);
  expect(textOf(confirm.text)).toContain('Their authenticator app, any passkeys or security keys, and their recovery codes stop working straight away.');
  const done = await postForm(adminA.browser, confirm.text, `/admin/people/${k.id}/reset-mfa`);
  expect(done.status).toBe(200);
  expect(textOf(done.text)).toMatch(/Kit Keyed will set up a new authenticator/);
  expect(await listPasskeys(p.deps, k.id)).toEqual([]);
  expect(portalRedirect((await passkeyAlone(key)).res)).toBeUndefined();
});

describe('each person\'s factors, within reach only', () => {
  test('the person\'s own site administrator sees the app, the keys by name with last use, and recovery codes left', async () => {
    const { v, dispensary } = await colleagueWithKeys();
    expect(portalRedirect((await passkeyAlone(dispensary)).res)?.searchParams.get('code')).toBeTruthy();
    const page = await adminA.browser.agent.get(`/admin/people/${v.id}`);
    expect(page.status).toBe(200);
    const text = textOf(page.text);
    expect(text).toMatch(/Authenticator app Set up \d/);
    expect(text).toMatch(/Passkeys and security keys Blue key \(security key or passkey on one device\) Added [^.]+\. Last used: Not used yet/);
    expect(text).toMatch(/Dispensary PC \(security key or passkey on one device\) Added [^.]+\. Last used: \d/);
    expect(text).toContain('Recovery codes 10 of 10 left');

    const json = await api(adminA.token).get(`/people/${v.id}`);
    expect(json.status).toBe(200);
    expect(json.body.factors).toMatchObject({
      authenticator_app: { since: expect.stringMatching(/^\d{4}-/) },
      passkeys: [{ name: 'Blue key', synced: false, last_used_at: null }, { name: 'Dispensary PC', last_used_at: expect.stringMatching(/^\d{4}-/) }],
      recovery_codes_left: 10,
    });
  });

  test('another site\'s administrator neither sees the keys of a person outside their reach nor removes them', async () => {
    const { v } = await colleagueWithKeys();
    const page = await adminB.browser.agent.get(`/admin/people/${v.id}`);
    expect(page.status).toBe(403);
    expect(page.text).not.toContain('Blue key');
    const json = await api(adminB.token).get(`/people/${v.id}`);
    expect(json.status).toBe(403);
    expect(JSON.stringify(json.body)).not.toContain('Blue key');
    // The factors themselves are asked with the reach of viewing the person, whoever calls for them.
    await expect(personFactors(p.deps, { principal: await loadPrincipal(p.deps, adminB.id) }, v.id)).rejects.toBeInstanceOf(Forbidden);
    const reset = await api(adminB.token).post(`/people/${v.id}/reset-mfa`);
    expect(reset.status).toBe(403);
    expect((await listPasskeys(p.deps, v.id)).map((k) => k.name)).toEqual(['Blue key', 'Dispensary PC']);
  });
});

test('readiness counts a passkey as a second factor: a person with a passkey and no app is ready', async () => {
  const site = (await addSite(p.deps, cliActor, { ods: 'PKR04', name: 'Rowan Pharmacy', userCap: null })).ods_code;
  const keyed = await makePerson(p.deps, { site, name: 'Kit Keyed' });
  await givePasskey(keyed, 'Blue key', { first: true });
  const bare = await makePerson(p.deps, { site, name: 'Bo Bare' });
  const [report] = await readiness(p.deps, [site]);
  expect(report!.people).toBe(2);
  expect(report!.ready).toBe(1);
  expect(report!.notReady).toEqual([expect.objectContaining({ email: bare.email, reasons: ['not-enrolled'] })]);
  // The site's people in the API say the same.
  const people = await api(superadmin.token).get(`/sites/${site}/people`);
  expect(people.body.items.find((x: { email: string }) => x.email === keyed.email).enrolled).toBe(true);
});

describe('a rollout policy that requires a passkey (require phr)', () => {
  async function siteWithPolicy(ods: string, require: 'mfa' | 'phr', state = 'enforced') {
    const site = (await addSite(p.deps, cliActor, { ods, name: `Policy Pharmacy ${ods}`, userCap: null })).ods_code;
    const set = await api(superadmin.token).post('/rollout', { scope: 'site', site, state, require, ...(state === 'enforced' ? {} : { enforce_on: '2099-01-01' }) });
    expect(set.status).toBe(200);
    expect(set.body.require).toBe(require);
    return site;
  }

  test('enforced for a site: after the password the passkey is asked, not the code, and the ID token says phr', async () => {
    const site = await siteWithPolicy('PKP05', 'phr');
    const x = await withAuthenticator(p.deps, await makePerson(p.deps, { site }), p.clock);
    await givePasskey(x, 'Blue key');
    const { steps, claims } = await signInTo(portal, new Browser(p.url), x, p.clock);
    expect(steps).toEqual(['password', 'passkey']);
    expect(claims.acr).toBe('phr');
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    const listed = await api(superadmin.token).get('/rollout');
    expect(listed.body.policies).toContainEqual(expect.objectContaining({ scope: 'site', site, state: 'enforced', require: 'phr' }));
  });

  test('someone with only an app is told plainly that a passkey is needed and where to add one; the portal gets nothing', async () => {
    const site = await siteWithPolicy('PKP06', 'phr');
    const y = await withAuthenticator(p.deps, await makePerson(p.deps, { site }), p.clock);
    const browser = new Browser(p.url);
    const { res } = await openAuthorization(portal, browser);
    const next = await answer(browser, res, { email: y.email, password: y.password });
    expect(portalRedirect(next)).toBeUndefined();
    expect(textOf(next.text)).toMatch(/PharmOutcomes needs a passkey or security key[\s\S]*add a passkey or security key on your pharmid account page/);
  });

  test('a session made with a code is stepped up to the passkey alone once the policy is enforced', async () => {
    const site = (await addSite(p.deps, cliActor, { ods: 'PKS07', name: 'Step Pharmacy', userCap: null })).ods_code;
    const z = await withAuthenticator(p.deps, await makePerson(p.deps, { site }), p.clock);
    await givePasskey(z, 'Blue key');
    const browser = new Browser(p.url);
    const first = await signInTo(portal, browser, z, p.clock);
    expect(first.steps).toEqual(['password', 'otp']);
    expect(first.claims.acr).toBe('mfa');
    await setRolloutPolicy(p.deps, cliActor, { scope: 'site', site, state: 'enforced', require: 'phr' });
    const again = await signInTo(portal, browser, z, p.clock);
    expect(again.steps).toEqual(['passkey']);
    expect(again.claims.acr).toBe('phr');
    expect(again.claims.amr).toEqual(['pwd', 'otp', 'hwk', 'mfa']);
  });

  test('for a portal: a sign-in to that portal needs the passkey, other portals take the code', async () => {
    const strict = await makeClient(p.deps, { name: 'PharmRefer' });
    const strictPortal = await Portal.connect(p.url, strict);
    expect((await api(superadmin.token).post('/rollout', { scope: 'client', client_id: strict.client_id, state: 'enforced', require: 'phr' })).status).toBe(200);
    const site = (await addSite(p.deps, cliActor, { ods: 'PKT08', name: 'Thyme Pharmacy', userCap: null })).ods_code;
    const w = await withAuthenticator(p.deps, await makePerson(p.deps, { site }), p.clock);
    await givePasskey(w, 'Blue key');
    expect((await signInTo(portal, new Browser(p.url), w, p.clock)).steps).toEqual(['password', 'otp']);
    p.clock.advance(30);
    const strictSignIn = await signInTo(strictPortal, new Browser(p.url), w, p.clock);
    expect(strictSignIn.steps).toEqual(['password', 'passkey']);
    expect(strictSignIn.claims.acr).toBe('phr');
  });

  test('until it is enforced, a policy that will require passkeys asks for no passkey', async () => {
    const site = await siteWithPolicy('PKU09', 'phr', 'grace');
    const u = await withAuthenticator(p.deps, await makePerson(p.deps, { site }), p.clock);
    await givePasskey(u, 'Blue key');
    // A locum also at a site with no policy (MFA enforced): the strictest state is enforced, but no enforced policy asks for phr.
    await linkPerson(p.deps, u.email, A);
    const { steps, claims } = await signInTo(portal, new Browser(p.url), u, p.clock, {}, { site: A });
    expect(steps).toEqual(['password', 'otp', 'site']);
    expect(claims.acr).toBe('mfa');
  });

  test('bad input is refused with a clear message, in the API, the console and the command line', async () => {
    const bad = await api(superadmin.token).post('/rollout', { scope: 'global', state: 'enforced', require: 'passkeys please' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/Choose what the policy requires/);
    const off = await api(superadmin.token).post('/rollout', { scope: 'global', state: 'off', require: 'phr' });
    expect(off.status).toBe(400);
    expect(off.body).toMatchObject({ field: 'require' });
    expect(JSON.stringify(off.body)).toMatch(/A policy that is off requires nothing/);

    const c = await cli('rollout', 'set', '--scope', 'global', '--state', 'off', '--require', 'phr');
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/A policy that is off requires nothing/);
    const listed = await cli('rollout', 'list', '--json');
    expect(listed.json.policies.filter((x: { scope: string }) => x.scope === 'global')).toEqual([]);

    // The console's form: one select, and its error beside it.
    const page = await superadmin.browser.agent.get('/admin/rollout');
    expect(page.text).toContain('name="require"');
    const refused = await postForm(superadmin.browser, page.text, '/admin/rollout', { scope: 'global', state: 'off', require: 'phr' });
    expect(refused.status).toBe(400);
    expect(textOf(refused.text)).toMatch(/Error: A policy that is off requires nothing/);
    expect(refused.text).toMatch(/id="require-error"><span class="nhsuk-u-visually-hidden">Error: <\/span>A policy that is off requires nothing/);
  });

  test('pharmid rollout set --require phr, and rollout list says so', async () => {
    const site = (await addSite(p.deps, cliActor, { ods: 'PKV10', name: 'Vine Pharmacy', userCap: null })).ods_code;
    const set = await cli('rollout', 'set', '--scope', 'site', '--site', site, '--state', 'enforced', '--require', 'phr');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/is now enforced, requiring a passkey or security key/);
    const listed = await cli('rollout', 'list', '--json');
    expect(listed.json.policies).toContainEqual(expect.objectContaining({ scope: 'site', site, state: 'enforced', require: 'phr' }));
  });
});
