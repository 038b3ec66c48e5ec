import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { withAuthenticator } from '../helpers/pages.js';
import { Portal } from '../helpers/portal.js';
import { signInTo, stepOf } from '../helpers/sign-in.js';
import { addSite } from '../../src/domain/sites.js';
import { resetPassword } from '../../src/domain/users.js';
import { importUsers } from '../../src/domain/user-import.js';
import { loadPrincipal } from '../../src/domain/authorization.js';
import { apiToken, consoleBrowser, csrfOn, grant, staff, uniqueEmail } from './admin-support.js';

/**
 * Reach cannot be widened by the one who holds it (DESIGN.md, "Reach"): an
 * administrator of site B who links a person from site A to B — through the
 * console, the API's by-email and by-id routes, or an import — never obtains
 * what it takes to sign in as them. A reset of such a person sends its code to
 * the person alone; unlock and disable are refused. Every reset is told to
 * the person by email.
 */
let p: TestPharmid;
let dataDir: string;
let portal: Portal;
const cli = { kind: 'cli' } as const;
let A: string;
let B: string;
type Who = 'site-admin' | 'commissioner';
interface Admin { id: string; name: string; email: string; browser: Browser; csrf: string; token: string }
const admins = {} as Record<Who, Admin>;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-reach-'));
  p = await startTestPharmid({ PHARMID_DATA_DIR: dataDir });
  portal = await Portal.connect(p.url, await makeClient(p.deps, { name: 'PharmOutcomes' }));
  A = (await addSite(p.deps, cli, { ods: 'REA01', name: 'Apple Pharmacy', userCap: null })).ods_code;
  B = (await addSite(p.deps, cli, { ods: 'REB02', name: 'Birch Pharmacy', userCap: null })).ods_code;
  const C = (await addSite(p.deps, cli, { ods: 'REC03', name: 'Commissioning Office', userCap: null })).ods_code;
  const people = { 'site-admin': await staff(p, B, 'site-admin', 'Bea Admin'), commissioner: await staff(p, C, 'member', 'Cole Commissioner') };
  await grant(p, people.commissioner.email, 'commissioner', [B]);
  for (const who of Object.keys(people) as Who[]) {
    const { browser, page } = await consoleBrowser(p, people[who], '/account');
    admins[who] = { id: people[who].id, name: who === 'site-admin' ? 'Bea Admin' : 'Cole Commissioner', email: people[who].email, browser, csrf: csrfOn(page.text), token: await apiToken(p, browser, people[who]) };
  }
}, 30_000);
afterAll(async () => { await p.stop(); rmSync(dataDir, { recursive: true, force: true }); });

/**
 * The colleague confirms a link that waits for them (the linker does not look
 * after site A): at their next sign-in, with the code pharmid emailed them.
 */
async function confirmsLink(v: Awaited<ReturnType<typeof colleagueAtA>>, site: string) {
  const mail = mailTo(v.email).filter((m) => m.subject === 'Confirm the site you were added to in pharmid').at(-1)!;
  expect(mail.body).toContain(`(${site})`);
  v.siteLinkCode = codesIn(mail.body)[0]!;
  p.clock.advance(31);
  const { steps } = await signInTo(portal, new Browser(p.url), v, p.clock, {}, { site });
  expect(steps).toContain('site-link');
}

/** A colleague at site A only, with a password and an authenticator. */
async function colleagueAtA() {
  return withAuthenticator(p.deps, await makePerson(p.deps, { site: A, name: 'Vic Tim' }), p.clock);
}

interface Mail { to: string; subject: string; body: string }
/** Every message in the outbox folder, bodies decoded (quoted-printable). */
function outbox(): Mail[] {
  const dir = join(dataDir, 'outbox');
  let files: string[] = [];
  try { files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort(); } catch { return []; }
  return files.map((f) => {
    const raw = readFileSync(join(dir, f), 'utf8');
    const [head, ...rest] = raw.split(/\r?\n\r?\n/);
    const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(head!)?.[1]?.trim() ?? '';
    const body = rest.join('\n\n').replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return { to: header('To'), subject: header('Subject'), body };
  });
}
const mailTo = (email: string) => outbox().filter((m) => m.to.includes(email));
const CODE = /[A-Z2-9]{5}-[A-Z2-9]{5}/g;
const codesIn = (text: string) => text.match(CODE) ?? [];

function api(a: Admin, method: 'get' | 'post', path: string, body?: object): Promise<Response> {
  const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${a.token}`);
  return body ? r.send(body) : r;
}
function form(a: Admin, path: string, fields: Record<string, string> = {}): Promise<Response> {
  return a.browser.agent.post(`/admin${path}`).type('form').send({ _csrf: a.csrf, ...fields }).redirects(0);
}

/** Everything the administrator was answered, and everything the audit trail holds about the person. */
async function auditAbout(id: string): Promise<string> {
  return JSON.stringify((await p.deps.db.query('SELECT action, outcome, details FROM audit_events WHERE target_user = $1', [id])).rows);
}

describe.each(['site-admin', 'commissioner'] as Who[])('a %s of site B', (who) => {
  test.each(['api', 'console'] as const)('who links a colleague from site A to B through the %s cannot obtain a code that signs in as them', async (via) => {
    const a = admins[who];
    const v = await colleagueAtA();
    const seen: string[] = [];

    // The link itself is allowed: a locum may work at B too. The API's by-id route, and the console's by-email
    // (locum) form or its by-id form, alike.
    const linked = via === 'api' ? await api(a, 'post', `/people/${v.id}/sites`, { site: B })
      : who === 'site-admin' ? await form(a, `/sites/${B}/locums`, { email: v.email, role: 'member' }) : await form(a, `/people/${v.id}/sites`, { site: B, role: 'member' });
    expect([201, 303]).toContain(linked.status);
    // Nothing proves the account's holder owns its email: the link waits until they confirm it with an emailed code.
    await confirmsLink(v, B);

    // Resets happen, but the code goes to the colleague alone, and the answer says so.
    for (const act of ['reset-password', 'reset-mfa']) {
      const res = via === 'api' ? await api(a, 'post', `/people/${v.id}/${act}`) : await form(a, `/people/${v.id}/${act}`, { confirm: 'yes' });
      expect([act, res.status]).toEqual([act, 200]);
      seen.push(res.text);
      if (via === 'api') {
        expect(res.body).not.toHaveProperty('activation_code');
        expect(res.body.code_emailed_to).toBe(v.email);
        expect(res.body.message).toMatch(/We emailed the code to/);
      } else {
        expect(res.text).not.toContain('activation-code"');
        expect(res.text).toMatch(new RegExp(`We emailed the code to <strong>${v.email.replace(/\./g, '\\.')}</strong>`));
      }
    }
    // Unlocking and disabling need the whole of the person's reach.
    for (const act of ['unlock', 'disable']) {
      const res = via === 'api' ? await api(a, 'post', `/people/${v.id}/${act}`) : await form(a, `/people/${v.id}/${act}`);
      expect([act, res.status]).toEqual([act, 403]);
      seen.push(res.text);
    }
    seen.push(await auditAbout(v.id));
    expect(seen.flatMap(codesIn)).toEqual([]);
    // The person's page says beforehand where a reset's code would go.
    const viewed = via === 'api' ? await api(a, 'get', `/people/${v.id}`) : await a.browser.agent.get(`/admin/people/${v.id}`);
    expect(viewed.status).toBe(200);
    if (via === 'api') expect(viewed.body.reset_codes_go_to).toBe('person');
    else expect(viewed.text).toContain('id="codes-go-to-person"');

    // The colleague's own mail has both codes, and a notice of each reset naming who did it.
    const mail = mailTo(v.email);
    const passwordCode = codesIn(mail.find((m) => m.subject === 'Choose a new pharmid password')!.body)[0]!;
    const mfaCode = codesIn(mail.find((m) => m.subject === 'Your two-step sign-in was reset')!.body)[0]!;
    for (const subject of ['Your pharmid password was reset', 'Your pharmid two-step sign-in was reset']) {
      const notice = mail.find((m) => m.subject === subject)!;
      expect(notice.body).toContain(`Done by: ${a.name} (${a.email})`);
      expect(notice.body).toMatch(/If you did not, tell your site administrator/);
      expect(codesIn(notice.body)).toEqual([]);
    }
    expect(mail.some((m) => m.subject === 'You confirmed a site in pharmid' && m.body.includes(`Birch Pharmacy (${B})`))).toBe(true);

    // With them, and only them, the colleague signs in again: new password, then the MFA-reset code, then a new authenticator.
    const browser = new Browser(p.url);
    const start = await browser.open((await portal.authorizationRequest()).url);
    const page = await browser.open(formAction(start.text, '/interaction/')!.replace(/password$/, 'activate'));
    const activated = await browser.submit(formAction(page.text, '/interaction/')!, { email: v.email, activation_code: passwordCode, new_password: 'my own new passphrase' });
    expect(stepOf(activated.text)).toBe('reset-code');
    expect(stepOf((await browser.submit(formAction(activated.text, '/interaction/')!, { activation_code: mfaCode })).text)).toBe('enrol');
  });
});

test('the import cannot be used to widen reach: a linked colleague stays beyond it, and organisation-wide accounts are not linked', async () => {
  const a = admins['site-admin'];
  const v = await colleagueAtA();
  const helper = await makePerson(p.deps, { site: A, name: 'Hal Helpdesk' });
  await grant(p, helper.email, 'helpdesk');
  const asAdmin = { principal: await loadPrincipal(p.deps, a.id) };

  const report = await importUsers(p.deps, asAdmin, `email,name,site,role\n${v.email},Vic Tim,${B},member\n${uniqueEmail('new')},New Starter,${B},member\n`, { dryRun: false });
  expect(report.written).toBe(true);
  expect(report.people.find((x) => x.email === v.email)).toMatchObject({ existing: true, waiting: true });
  expect((await api(a, 'post', `/people/${v.id}/reset-password`)).status).toBe(403);
  await confirmsLink(v, B);
  const res = await api(a, 'post', `/people/${v.id}/reset-password`);
  expect(res.status).toBe(200);
  expect(res.body).not.toHaveProperty('activation_code');
  expect(res.body.code_emailed_to).toBe(v.email);
  expect((await api(a, 'post', `/people/${v.id}/unlock`)).status).toBe(403);
  expect(mailTo(v.email).some((m) => m.subject === 'You confirmed a site in pharmid')).toBe(true);

  const refused = await importUsers(p.deps, asAdmin, `email,name,site,role\n${helper.email},Hal Helpdesk,${B},member\n`, { dryRun: false });
  expect(refused.written).toBe(false);
  expect(refused.problems.map((x) => x.kind)).toEqual(['forbidden']);
});

test('every reset is emailed to the person, the command line\'s and a site\'s own administrator\'s too', async () => {
  const v = await colleagueAtA();
  await resetPassword(p.deps, cli, v.email);
  const notice = mailTo(v.email).find((m) => m.subject === 'Your pharmid password was reset')!;
  expect(notice.body).toContain('Done by: an operator (pharmid command line)');
  expect(notice.body).toMatch(/When: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
  // The code itself, shown to the operator, is not written to the outbox.
  expect(mailTo(v.email).flatMap((m) => codesIn(m.body))).toEqual([]);

  // A site's own administrator (entire reach) is shown the code, and the person is still told.
  const ownAdmin = await staff(p, A, 'site-admin', 'Ada Own');
  const { browser } = await consoleBrowser(p, ownAdmin);
  const token = await apiToken(p, browser, ownAdmin);
  const w = await colleagueAtA();
  const res = await request(p.url).post(`/api/admin/people/${w.id}/reset-mfa`).set('Authorization', `Bearer ${token}`);
  expect(res.body.activation_code).toMatch(CODE);
  expect(mailTo(w.email).find((m) => m.subject === 'Your pharmid two-step sign-in was reset')!.body).toContain(`Done by: Ada Own (${ownAdmin.email})`);
});
