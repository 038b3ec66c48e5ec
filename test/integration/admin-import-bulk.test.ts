import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import type { Browser } from '../helpers/browser.js';
import { linkPerson, makePerson, makeSite } from '../helpers/factories.js';
import { textOf } from '../helpers/pages.js';
import { mailTo } from '../helpers/mail.js';
import request from 'supertest';
import { apiToken, consoleBrowser, csrfOn, staff, uniqueEmail } from './admin-support.js';

/**
 * The console's bulk work: people added from a CSV (a dry run, then the very
 * file that was checked is applied), and several people of a site sent
 * activation codes or disabled at once, each through the reach rule.
 */
let p: TestPharmid;
let X: { ods_code: string; id: string; name: string };
let Y: { ods_code: string; id: string; name: string };
let adminX: Awaited<ReturnType<typeof staff>>;
let adminY: Awaited<ReturnType<typeof staff>>;
let browserX: Browser;
let browserY: Browser;

beforeAll(async () => {
  p = await startTestPharmid();
  X = await makeSite(p.deps, 'Riverside Pharmacy');
  Y = await makeSite(p.deps, 'Hilltop Pharmacy');
  adminX = await staff(p, X.ods_code, 'site-admin', 'Sam Taylor');
  adminY = await staff(p, Y.ods_code, 'site-admin', 'Yusuf Young');
  browserX = (await consoleBrowser(p, adminX)).browser;
  p.clock.advance(30);
  browserY = (await consoleBrowser(p, adminY)).browser;
});
afterAll(() => p.stop());

const count = async (table: string) => (await p.deps.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
const csvOf = (rows: string[][]) => `email,name,site,role\r\n${rows.map((r) => r.join(',')).join('\r\n')}\r\n`;

async function check(browser: Browser, body: { csv?: string; file?: Buffer }) {
  const form = await browser.open('/admin/import');
  let r = browser.agent.post('/admin/import').field('_csrf', csrfOn(form.text));
  if (body.csv !== undefined) r = r.field('csv', body.csv);
  if (body.file) r = r.attach('file', body.file, 'people.csv');
  return r.redirects(0);
}

const tokenOn = (html: string) => /name="token" value="([^"]+)"/.exec(html)?.[1];

async function apply(browser: Browser, page: string, token = tokenOn(page)!) {
  return browser.agent.post('/admin/import/apply').type('form').send({ _csrf: csrfOn(page), token }).redirects(0);
}

describe('import from the console', () => {
  test('a pasted list is checked (nothing written), then applied as checked: codes shown once, people audited', async () => {
    const [a, b] = [uniqueEmail('ann.import'), uniqueEmail('ben.import')];
    const users = await count('users');
    const checked = await check(browserX, { csv: csvOf([[a, 'Ann Import', X.ods_code, 'member'], [b, 'Ben Import', X.ods_code, '']]) });
    expect(checked.status).toBe(200);
    const text = textOf(checked.text);
    expect(text).toContain('found nothing wrong. Nobody has been added yet.');
    expect(text).toContain(`Will be added to ${X.ods_code} as a member, with an activation code`);
    expect(await count('users')).toBe(users);

    const done = await apply(browserX, checked.text);
    expect(done.status).toBe(201);
    expect(textOf(done.text)).toContain('2 people added');
    expect([...done.text.matchAll(/class="activation-code">([A-Z0-9]{5}-[A-Z0-9]{5})</g)]).toHaveLength(2);
    expect(await count('users')).toBe(users + 2);
    const { rows } = await p.deps.db.query("SELECT count(*)::int AS n FROM audit_events WHERE action = 'user.add' AND actor = $1 AND details->>'import' = 'true'", [`user:${adminX.id}`]);
    expect(rows[0].n).toBe(2);
  });

  test('a file with problems gets each row\'s problem in words, and nothing is written', async () => {
    const users = await count('users');
    const file = Buffer.from(csvOf([
      ['pharmacy@riverside.example', 'Counter', X.ods_code, ''],
      ['not-an-email', 'Nobody', X.ods_code, ''],
      [uniqueEmail('zed'), 'Zed Elsewhere', Y.ods_code, ''],
    ]));
    const res = await check(browserX, { file });
    expect(res.status).toBe(422);
    const text = textOf(res.text);
    expect(text).toContain('Nobody has been added');
    expect(res.text).toMatch(/data-line="2" data-kind="generic-mailbox"/);
    expect(res.text).toMatch(/data-line="3" data-kind="invalid-email"/);
    // Another site's row is refused by its line: the importer does not add people where they are not an administrator.
    expect(res.text).toMatch(/data-line="4" data-kind="forbidden"/);
    expect(tokenOn(res.text)).toBeUndefined();
    expect(await count('users')).toBe(users);
  });

  test('the apply writes what was checked, once, for the administrator and sign-in that checked it', async () => {
    const first = uniqueEmail('first');
    const checked = await check(browserX, { csv: csvOf([[first, 'First Checked', X.ods_code, 'member']]) });
    const token = tokenOn(checked.text)!;
    // Another administrator (another sign-in) cannot use the token.
    const stolen = await apply(browserY, (await browserY.open('/admin/import')).text, token);
    expect(stolen.status).toBe(400);
    expect(textOf(stolen.text)).toContain('This check has expired or was already used');
    // A second file sent with the apply is not read: there is nowhere for it to go.
    const other = uniqueEmail('swapped');
    const applied = await browserX.agent.post('/admin/import/apply').field('_csrf', csrfOn(checked.text)).field('token', token)
      .attach('file', Buffer.from(csvOf([[other, 'Swapped In', X.ods_code, 'site-admin']])), 'other.csv');
    expect(applied.status).toBe(403);
    const done = await apply(browserX, checked.text, token);
    expect(done.status).toBe(201);
    expect(done.text).toContain(first);
    expect(done.text).not.toContain(other);
    const again = await apply(browserX, checked.text, token);
    expect(again.status).toBe(400);
    expect((await p.deps.db.query('SELECT count(*)::int AS n FROM users WHERE email_key = $1', [other])).rows[0].n).toBe(0);
  });

  test('what changed between the check and the apply is caught by the apply: nothing written', async () => {
    const taken = uniqueEmail('taken');
    const checked = await check(browserX, { csv: csvOf([[uniqueEmail('keen'), 'Kim Keen', X.ods_code, ''], [taken, 'Tia Taken', X.ods_code, '']]) });
    expect(checked.status).toBe(200);
    await makePerson(p.deps, { site: Y.ods_code, name: 'Someone Else' }).then((o) => p.deps.db.query('UPDATE users SET email = $1, email_key = $1 WHERE id = $2', [taken, o.id]));
    const users = await count('users');
    const res = await apply(browserX, checked.text);
    expect(res.status).toBe(409);
    expect(textOf(res.text)).toContain('already belongs to someone else');
    expect(await count('users')).toBe(users);
  });

  test('a file over the limit gets a message on the form, and an empty form asks for a file', async () => {
    const big = await check(browserX, { file: Buffer.alloc(1024 * 1024 + 10, 'a') });
    expect(big.status).toBe(413);
    expect(textOf(big.text)).toContain('The file is too large: at most 1 MB');
    expect(big.text).toContain('id="file-error"');
    const empty = await check(browserX, { csv: '' });
    expect(empty.status).toBe(400);
    expect(textOf(empty.text)).toContain('Choose a CSV file, or paste the list of people');
  });
});

describe('import through the admin API', () => {
  const send = (token: string, body: string | Buffer, query = '') => request(p.url).post(`/api/admin/import${query}`)
    .set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/csv').send(body);

  test('a dry run, then the file written; another site\'s administrator gets their rows refused, nothing written', async () => {
    const tokenX = await apiToken(p, browserX, adminX);
    const email = uniqueEmail('api.import');
    const file = csvOf([[email, 'Api Import', X.ods_code, 'member']]);
    const users = await count('users');
    const dry = await send(tokenX, file, '?dry_run=true');
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dry_run: true, written: false, problems: [], people: [{ email, existing: false }] });
    expect(await count('users')).toBe(users);

    p.clock.advance(30);
    const tokenY = await apiToken(p, browserY, adminY);
    const foreign = await send(tokenY, file);
    expect(foreign.status).toBe(422);
    expect(foreign.body.problems).toEqual([expect.objectContaining({ line: 2, kind: 'forbidden' })]);
    expect(await count('users')).toBe(users);

    const written = await send(tokenX, file);
    expect(written.status).toBe(201);
    expect(written.body.people[0].activation_code).toMatch(/^[A-Z0-9]{5}-[A-Z0-9]{5}$/);
    expect(await count('users')).toBe(users + 1);
  });

  test('a body over the limit, or not a CSV, is refused with a reason', async () => {
    const token = await apiToken(p, browserX, adminX);
    const big = await send(token, Buffer.alloc(1024 * 1024 + 10, 'a'));
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ error: 'too_large' });
    const json = await request(p.url).post('/api/admin/import').set('Authorization', `Bearer ${token}`).send({ csv: 'email,name,site' });
    expect(json.status).toBe(400);
    expect(json.body.error_description).toContain('Content-Type: text/csv');
  });
});

describe('several people at once', () => {
  async function tick(browser: Browser, ods: string, act: string, ids: string[]) {
    const page = await browser.open(`/admin/sites/${ods}`);
    return browser.agent.post(`/admin/sites/${ods}/people/bulk`).type('form')
      .send(`_csrf=${encodeURIComponent(csrfOn(page.text))}&act=${act}${ids.map((id) => `&person=${id}`).join('')}`).redirects(0);
  }
  async function confirm(browser: Browser, page: string, ods: string) {
    const fields = [...page.matchAll(/<input type="hidden" name="(act|person)" value="([^"]+)">/g)].map((m) => `${m[1]}=${encodeURIComponent(m[2]!)}`);
    return browser.agent.post(`/admin/sites/${ods}/people/bulk/confirm`).type('form')
      .send(`_csrf=${encodeURIComponent(csrfOn(page))}&${fields.join('&')}`).redirects(0);
  }

  test('activation codes go to those not yet activated, after a confirmation that names them', async () => {
    const [n1, n2] = [await makePerson(p.deps, { site: X.ods_code, activate: true, name: 'Nia New' }), await makePerson(p.deps, { site: X.ods_code, activate: true, name: 'Ned New' })];
    const active = await staff(p, X.ods_code, 'member', 'Ada Active');
    const site = await browserX.open(`/admin/sites/${X.ods_code}`);
    expect(site.text).toContain(`name="person" type="checkbox" value="${n1.id}"`);

    const asked = await tick(browserX, X.ods_code, 'send-codes', [n1.id, n2.id, active.id]);
    expect(asked.status).toBe(200);
    const text = textOf(asked.text);
    expect(text).toContain('Send a new activation code to these 2 people?');
    expect(text).toMatch(/Ada Active\s?: already activated/);
    expect(await count("audit_events WHERE action = 'user.activation-code'")).toBe(0);

    const done = await confirm(browserX, asked.text, X.ods_code);
    expect(done.status).toBe(200);
    expect(textOf(done.text)).toContain('Activation codes sent to 2 people');
    for (const n of [n1, n2]) expect(mailTo(p, n.email).filter((m) => m.subject === 'Your pharmid account')).toHaveLength(1);
    expect(mailTo(p, active.email)).toHaveLength(0);
    expect(await count("audit_events WHERE action = 'user.activation-code'")).toBe(2);
  });

  test('disabling several is confirmed first, then done together', async () => {
    const [d1, d2] = [await staff(p, X.ods_code, 'member', 'Dee One'), await staff(p, X.ods_code, 'member', 'Dan Two')];
    const asked = await tick(browserX, X.ods_code, 'disable', [d1.id, d2.id]);
    expect(textOf(asked.text)).toContain('Disable these 2 people?');
    expect((await p.deps.db.query("SELECT count(*)::int AS n FROM users WHERE id = ANY($1) AND status = 'disabled'", [[d1.id, d2.id]])).rows[0].n).toBe(0);
    const done = await confirm(browserX, asked.text, X.ods_code);
    expect(textOf(done.text)).toContain('2 people disabled');
    expect((await p.deps.db.query("SELECT count(*)::int AS n FROM users WHERE id = ANY($1) AND status = 'disabled'", [[d1.id, d2.id]])).rows[0].n).toBe(2);
  });

  test('another site\'s administrator cannot act on people outside their reach; one such person stops the whole batch, named', async () => {
    const atX = await makePerson(p.deps, { site: X.ods_code, activate: true, name: 'Xena Invited' });
    // Through their own site's address, with X's people: they are no one at Y, so nothing is done and no name is given.
    const foreign = await tick(browserY, Y.ods_code, 'disable', [atX.id]);
    expect(foreign.status).toBe(409);
    expect(textOf(foreign.text)).not.toContain('Xena Invited');
    expect(textOf(foreign.text)).toContain('no longer works at Hilltop Pharmacy');
    // Through X's address: refused outright.
    const ownPage = await browserY.open(`/admin/sites/${Y.ods_code}`);
    const direct = await browserY.agent.post(`/admin/sites/${X.ods_code}/people/bulk/confirm`).type('form')
      .send(`_csrf=${encodeURIComponent(csrfOn(ownPage.text))}&act=disable&person=${atX.id}`).redirects(0);
    expect(direct.status).toBe(403);

    // A locum at both sites is only partly in Y's administrator's reach: named, and nobody is disabled.
    const locum = await staff(p, X.ods_code, 'member', 'Lou Locum');
    await linkPerson(p.deps, locum.email, Y.ods_code);
    const ownY = await staff(p, Y.ods_code, 'member', 'Yan Own');
    const asked = await tick(browserY, Y.ods_code, 'disable', [ownY.id, locum.id]);
    expect(textOf(asked.text)).toContain('You cannot do this for everyone you ticked');
    expect(textOf(asked.text)).toContain('Lou Locum');
    expect(asked.text).not.toContain('id="bulk-confirm"');
    // Forcing the confirmation anyway: nothing is done, the locum named.
    const forced = await browserY.agent.post(`/admin/sites/${Y.ods_code}/people/bulk/confirm`).type('form')
      .send(`_csrf=${encodeURIComponent(csrfOn(ownPage.text))}&act=disable&person=${ownY.id}&person=${locum.id}`).redirects(0);
    expect(forced.status).toBe(409);
    expect(textOf(forced.text)).toContain('Lou Locum');
    expect((await p.deps.db.query("SELECT count(*)::int AS n FROM users WHERE id = ANY($1) AND status = 'disabled'", [[ownY.id, locum.id]])).rows[0].n).toBe(0);
    // The refusal is in the audit trail, against the person out of reach.
    const denied = await p.deps.db.query("SELECT actor FROM audit_events WHERE action = 'user.disable' AND outcome = 'denied' AND target_user = $1", [locum.id]);
    expect(denied.rows).toContainEqual({ actor: `user:${adminY.id}` });
    // Sending codes to someone who administers a site Y's administrator does not look after: refused, and audited
    // as the act that was tried (an activation code), not as a password reset.
    const far = await makeSite(p.deps, 'Far Pharmacy');
    const farAdmin = await makePerson(p.deps, { site: far.ods_code, role: 'site-admin', name: 'Ada Faraway' });
    await linkPerson(p.deps, farAdmin.email, Y.ods_code);
    const codes = await browserY.agent.post(`/admin/sites/${Y.ods_code}/people/bulk/confirm`).type('form')
      .send(`_csrf=${encodeURIComponent(csrfOn(ownPage.text))}&act=send-codes&person=${farAdmin.id}`).redirects(0);
    expect(codes.status).toBe(409);
    expect(textOf(codes.text)).toContain('Ada Faraway');
    const deniedCodes = await p.deps.db.query("SELECT action FROM audit_events WHERE outcome = 'denied' AND target_user = $1", [farAdmin.id]);
    expect(deniedCodes.rows).toEqual([{ action: 'user.activation-code' }]);
  });

  test('ticking no one, or an unknown act, is a message on the site page', async () => {
    const none = await tick(browserX, X.ods_code, 'send-codes', []);
    expect(none.status).toBe(400);
    expect(textOf(none.text)).toContain('Select at least one person');
    const odd = await tick(browserX, X.ods_code, 'delete-everyone', [adminX.id]);
    expect(odd.status).toBe(400);
  });
});
