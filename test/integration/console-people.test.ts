import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, unescapeHtml } from '../helpers/browser.js';
import { makePerson, makeSite, linkPerson } from '../helpers/factories.js';
import { errorMessages, looksLikeStackTrace, textOf } from '../helpers/pages.js';
import { mailTo } from '../helpers/mail.js';
import { driveSignIn } from '../helpers/sign-in.js';
import request from 'supertest';
import { apiToken, consoleBrowser, csrfOn, postForm, staff, uniqueEmail, type Staff } from './admin-support.js';
import { beginAttempt } from '../../src/domain/attempts.js';

let p: TestPharmid;
let site: { id: string; ods_code: string; name: string };
let other: { id: string; ods_code: string; name: string };
let admin: Staff;
let browser: Browser;
let outsider: Browser;
beforeAll(async () => {
  p = await startTestPharmid();
  site = await makeSite(p.deps, 'Riverside Pharmacy');
  other = await makeSite(p.deps, 'Hill Top Pharmacy');
  await p.deps.db.query('UPDATE sites SET user_cap = NULL');
  admin = await staff(p, site.ods_code, 'site-admin', 'Ada Admin');
  browser = (await consoleBrowser(p, admin)).browser;
  const otherAdmin = await staff(p, other.ods_code, 'site-admin', 'Otto Other');
  outsider = (await consoleBrowser(p, otherAdmin)).browser;
});
afterAll(() => p.stop());

const one = async (sql: string, params: unknown[]) => (await p.deps.db.query(sql, params)).rows[0];
const userRow = (id: string) => one('SELECT name, email, status, locked_at FROM users WHERE id = $1', [id]);
const hasPassword = async (id: string) => (await one('SELECT count(*)::int AS n FROM passwords WHERE user_id = $1', [id])).n === 1;
const audits = async (action: string, target: string) => (await p.deps.db.query('SELECT outcome FROM audit_events WHERE action = $1 AND target_user = $2', [action, target])).rows.map((r) => r.outcome);

/** A member of the administrator's site, with a password and an authenticator. */
const colleague = (name = 'Cal Colleague') => staff(p, site.ods_code, 'member', name);

/** Opens a page and posts the form on it whose action is `action`, with its hidden fields. */
async function viaPage(b: Browser, pagePath: string, action: string, fields: Record<string, string> = {}) {
  const page = await b.open(pagePath);
  return postForm(b, page.text, action, fields);
}

describe('the header and the error pages', () => {
  test('every console page says who is signed in, their role in words, and offers their account and a real sign-out', async () => {
    for (const path of ['/admin', `/admin/sites/${site.ods_code}`, `/admin/sites/${site.ods_code}/people/new`, '/admin/people']) {
      const page = await browser.open(path);
      expect(page.status).toBe(200);
      const header = textOf(/id="signed-in"[\s\S]*?<\/ul>/.exec(page.text)![0]);
      expect(header).toContain('Signed in as Ada Admin');
      expect(header).toContain('Site administrator at Riverside Pharmacy');
      expect(page.text).toMatch(/<a href="\/account">Your account<\/a>/);
      expect(page.text).toMatch(/<form method="post" action="\/portal\/sign-out"[^>]*id="sign-out">\s*<input type="hidden" name="_csrf"/);
    }
  });

  test('a refusal and an unknown page are the console\'s own, and lead back to its home', async () => {
    const missing = await browser.open('/admin/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('<a href="/admin" id="console-home">');
    const stranger = await staff(p, other.ods_code, 'member', 'Sue Stranger');
    const refused = await browser.open(`/admin/people/${stranger.id}`);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('id="console-home"');
    expect(refused.text).toContain('Signed in as');
  });

  test('signing out ends the pharmid session: the console asks for the password and code again', async () => {
    const someone = await staff(p, site.ods_code, 'site-admin', 'Sid Signout');
    const { browser: b } = await consoleBrowser(p, someone);
    const home = await b.open('/admin');
    // Without the token the sign-out is refused (no page elsewhere can sign anyone out).
    expect((await b.agent.post('/portal/sign-out').type('form').send({}).redirects(0)).status).toBe(403);
    const out = await postForm(b, home.text, '/portal/sign-out');
    expect(out.status).toBe(302);
    const end = await b.open(out.headers.location!);
    // pharmid's own sign-out confirmation, then the signed-out page.
    const confirmed = await b.submit(/action="([^"]*session\/end[^"]*)"/.exec(end.text)![1]!.replace(/&amp;/g, '&'), { logout: 'yes' });
    expect(confirmed.status).toBeLessThan(500);
    const again = await b.agent.get('/admin').redirects(0);
    expect(again.status).toBe(302);
    const signIn = await b.open(again.headers.location!);
    expect(signIn.text).toContain('name="password"');
  });

});

describe('resets and disabling ask first', () => {
  test.each([
    ['reset-password', 'Their password stops working'],
    ['reset-mfa', 'Their authenticator app, any passkeys or security keys, and their recovery codes stop working'],
    ['disable', 'They can no longer sign in'],
  ])('%s: the person page links to a page that says what will happen; only its button acts', async (act, says) => {
    const person = await colleague();
    const page = await browser.open(`/admin/people/${person.id}`);
    expect(page.text).not.toContain(`action="/admin/people/${person.id}/${act}"`);
    expect(page.text).toContain(`href="/admin/people/${person.id}/${act}"`);
    const confirm = await browser.open(`/admin/people/${person.id}/${act}`);
    expect(confirm.status).toBe(200);
    const text = textOf(confirm.text);
    expect(text).toContain(says);
    expect(text).toContain('signed out everywhere');
    expect(text).toContain('pharmid emails them');
    expect(text).toContain('What to tell Cal Colleague');
    // A post that did not come from the confirmation's button does nothing.
    const bare = await postForm(browser, page.text, `/admin/people/${person.id}/${act}`, { _csrf: csrfOn(page.text) });
    expect(bare.status).toBe(400);
    expect((await userRow(person.id)).status).toBe('active');
    expect(await hasPassword(person.id)).toBe(true);
    expect(await audits(`user.${act}`, person.id)).toEqual([]);
    const done = await postForm(browser, confirm.text, `/admin/people/${person.id}/${act}`);
    expect(done.status).toBeLessThan(400);
    expect(await audits(`user.${act}`, person.id)).toEqual(['success']);
  });
});

describe('locks', () => {
  test('a temporary lock shows with its end time, and Unlock appears only while there is something to lift', async () => {
    const person = await colleague('Lena Locked');
    const before = await browser.open(`/admin/people/${person.id}`);
    expect(before.text).toContain('id="no-locks"');
    expect(before.text).not.toContain('id="unlock-form"');
    for (let i = 0; i < p.deps.settings.throttle.secondFactorFailures; i += 1) {
      const attempt = await beginAttempt(p.deps, { kind: 'second-factor', account: person.id, ip: '203.0.113.9' });
      await attempt.failed(person.id);
    }
    const locked = await browser.open(`/admin/people/${person.id}`);
    const locks = textOf(/id="person-locks"[\s\S]*?(?=<h2)/.exec(locked.text)![0]);
    expect(locks).toMatch(/Authenticator and recovery codes: locked after wrong tries, until \d{1,2} \w{3} \d{4}, \d{2}:\d{2}/);
    expect(locked.text).toContain('id="unlock-form"');
    const unlocked = await postForm(browser, locked.text, `/admin/people/${person.id}/unlock`);
    expect(unlocked.status).toBe(303);
    const after = await browser.open(`/admin/people/${person.id}`);
    expect(after.text).toContain('id="no-locks"');
    expect(after.text).not.toContain('id="unlock-form"');
  });
});

describe('a new activation code', () => {
  async function invite(name: string) {
    const email = uniqueEmail('invited');
    const page = await browser.open(`/admin/sites/${site.ods_code}/people/new`);
    const res = await postForm(browser, page.text, `/admin/sites/${site.ods_code}/people`, { name, email, role: 'member' });
    expect(res.status).toBe(201);
    const { id } = await one('SELECT id FROM users WHERE email_key = $1', [email]);
    return { id: id as string, email, code: unescapeHtml(/id="activation-code">([^<]+)</.exec(res.text)![1]!).trim() };
  }

  test('someone not yet activated gets "Send a new activation code" (not "Reset password"); the new code replaces the old', async () => {
    const nina = await invite('Nina New');
    const page = await browser.open(`/admin/people/${nina.id}`);
    expect(page.text).toContain('Send a new activation code');
    expect(page.text).not.toContain('id="reset-password-link"');
    const sent = await postForm(browser, page.text, `/admin/people/${nina.id}/activation-code`);
    expect(sent.status).toBe(200);
    const code = unescapeHtml(/id="activation-code">([^<]+)</.exec(sent.text)![1]!).trim();
    expect(code).not.toBe(nina.code);
    const row = await one("SELECT purpose, shown_to FROM activation_codes WHERE user_id = $1 AND purpose = 'activation'", [nina.id]);
    expect(row.purpose).toBe('activation');
    expect(await audits('user.activation-code', nina.id)).toEqual(['success']);
    expect(mailTo(p, nina.email).map((m) => m.subject)).toContain('A new pharmid activation code was issued');
  });

  test('for someone who also works at a site the administrator does not look after, the code goes to their email only', async () => {
    const lou = await invite('Lou Locum');
    await linkPerson(p.deps, lou.email, other.ods_code);
    const page = await browser.open(`/admin/people/${lou.id}`);
    const sent = await postForm(browser, page.text, `/admin/people/${lou.id}/activation-code`);
    expect(sent.status).toBe(200);
    expect(sent.text).not.toContain('id="activation-code"');
    expect(sent.text).toContain('id="code-emailed-only"');
    const mailed = mailTo(p, lou.email).filter((m) => m.subject === 'Your pharmid account').at(-1)!;
    const code = /one-time code: ([A-Z2-9]{5}-[A-Z2-9]{5})/.exec(mailed.body)![1]!;
    expect(sent.text).not.toContain(code);
  });

  test('someone who has activated is not sent one', async () => {
    const person = await colleague();
    const page = await browser.open(`/admin/people/${person.id}`);
    expect(page.text).not.toContain('Send a new activation code');
    const res = await postForm(browser, page.text, `/admin/people/${person.id}/activation-code`, { _csrf: csrfOn(page.text) });
    expect(res.status).toBe(409);
    expect(errorMessages(res.text).join()).toContain('has already activated');
  });
});

describe('name and email', () => {
  test('an administrator of all their sites corrects them; the email stays unique; the person is told at both addresses', async () => {
    const person = await colleague('Jon Smiht');
    const taken = await colleague('Someone Else');
    const form = await browser.open(`/admin/people/${person.id}/edit`);
    const clash = await postForm(browser, form.text, `/admin/people/${person.id}/edit`, { name: 'Jon Smith', email: taken.email.toUpperCase() });
    expect(clash.status).toBe(409);
    expect(errorMessages(clash.text).join()).toContain('Someone else already has the email');
    expect((await userRow(person.id)).name).toBe('Jon Smiht');

    const email = uniqueEmail('jon.smith');
    const saved = await postForm(browser, form.text, `/admin/people/${person.id}/edit`, { name: 'Jon Smith', email });
    expect(saved.status).toBe(303);
    expect(await userRow(person.id)).toMatchObject({ name: 'Jon Smith', email });
    expect(mailTo(p, person.email).map((m) => m.subject)).toContain('The email of your pharmid account was changed');
    expect(mailTo(p, email).map((m) => m.subject)).toContain('The email of your pharmid account was changed');
    expect(await audits('user.edit', person.id)).toEqual(['success']);
  });

  test('an administrator who reaches only part of a person (a locum) cannot change their email', async () => {
    const locum = await staff(p, other.ods_code, 'member', 'Lara Locum');
    await linkPerson(p.deps, locum.email, site.ods_code);
    const page = await browser.open(`/admin/people/${locum.id}`);
    expect(page.text).not.toContain('id="edit-link"');
    expect(page.text).not.toContain('id="disable-link"');
    // Neither the edit form nor the confirmation of an act they may not do is shown to them.
    expect((await browser.agent.get(`/admin/people/${locum.id}/edit`).redirects(0)).status).toBe(403);
    expect((await browser.agent.get(`/admin/people/${locum.id}/disable`).redirects(0)).status).toBe(403);
    const res = await postForm(browser, page.text, `/admin/people/${locum.id}/edit`, { _csrf: csrfOn(page.text), name: 'Lara Locum', email: uniqueEmail('attacker') });
    expect(res.status).toBe(403);
    expect((await userRow(locum.id)).email).toBe(locum.email);
    expect(new Set(await audits('user.edit', locum.id))).toEqual(new Set(['denied']));
  });
});

describe('the admin API', () => {
  test('PATCH /people/:id corrects a name and email over entire reach only; activation-code answers as a reset', async () => {
    const token = await apiToken(p, browser, admin);
    const api = (method: 'post' | 'patch', path: string, body: object = {}) => request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${token}`).send(body);
    const person = await colleague('Abe Api');
    const email = uniqueEmail('abe.api');
    const ok = await api('patch', `/people/${person.id}`, { email });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ email, changed: ['email'] });
    expect((await api('patch', `/people/${person.id}`, { email: `info@${email.split('@')[1]}` })).body.field).toBe('email');
    const locum = await staff(p, other.ods_code, 'member', 'Lia Locum');
    await linkPerson(p.deps, locum.email, site.ods_code);
    expect((await api('patch', `/people/${locum.id}`, { email: uniqueEmail('taken.over') })).status).toBe(403);
    expect((await userRow(locum.id)).email).toBe(locum.email);
    const invited = await makePerson(p.deps, { site: site.ods_code, activate: true, name: 'Ina Invited' });
    const code = await api('post', `/people/${invited.id}/activation-code`);
    expect(code.status).toBe(200);
    expect(code.body.activation_code).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
  });
});

describe('a shared mailbox', () => {
  test('pharmacy@ is refused with a warning until "Only this person reads this mailbox" is ticked', async () => {
    const form = await browser.open(`/admin/sites/${site.ods_code}/people/new`);
    const email = `pharmacy@${uniqueEmail('x').split('@')[0]}.example.nhs.uk`;
    const warned = await postForm(browser, form.text, `/admin/sites/${site.ods_code}/people`, { name: 'Pat Shared', email, role: 'member' });
    expect(warned.status).toBe(400);
    expect(textOf(warned.text)).toContain('looks like a shared team mailbox');
    expect(warned.text).toContain('name="one_person"');
    expect(await one('SELECT count(*)::int AS n FROM users WHERE email_key = $1', [email])).toEqual({ n: 0 });
    const added = await postForm(browser, warned.text, `/admin/sites/${site.ods_code}/people`, { name: 'Pat Shared', email, role: 'member', one_person: 'yes' });
    expect(added.status).toBe(201);
  });
});

describe("a person's sessions", () => {
  test('listed with browser, time and portals; an administrator ends one, audited; the person is told', async () => {
    const person = await colleague('Sam Session');
    const theirs = new Browser(p.url);
    const start = await theirs.agent.get('/account').set('User-Agent', 'Mozilla/5.0 (Windows NT 10.0) Chrome/120.0').redirects(0);
    await driveSignIn(theirs, start.headers.location!, person, p.clock);
    const page = await browser.open(`/admin/people/${person.id}`);
    const cards = textOf(/Where they are signed in[\s\S]*?(?=<h2|<\/main)/.exec(page.text)![0]);
    expect(cards).toContain('pharmid account pages');
    const sessionId = /data-session-id="([^"]+)"/.exec(page.text)![1]!;
    const ended = await postForm(browser, page.text, `/admin/people/${person.id}/sessions/${sessionId}/end`);
    expect(ended.status).toBe(303);
    expect((await browser.open(`/admin/people/${person.id}`)).text).not.toContain(sessionId);
    expect(await audits('session.end', person.id)).toEqual(['success']);
    expect(mailTo(p, person.email).map((m) => m.subject)).toContain('You were signed out of pharmid in one browser');
    // Their account page asks them to sign in again.
    expect((await theirs.agent.get('/account').redirects(0)).status).toBe(302);
  });
});

describe('another site\'s administrator', () => {
  test('is refused every new act on a person outside their reach, and nothing changes', async () => {
    const person = await colleague('Rita Reach');
    const invited = await makePerson(p.deps, { site: site.ods_code, activate: true, name: 'Ivy Invited' });
    // Rita is signed in somewhere: her session's id is on her page, as her own administrator sees it.
    const theirs = new Browser(p.url);
    await driveSignIn(theirs, (await theirs.agent.get('/account').redirects(0)).headers.location!, person, p.clock);
    const sessionId = /data-session-id="([^"]+)"/.exec((await browser.open(`/admin/people/${person.id}`)).text)![1]!;
    const home = await outsider.open('/admin');
    const token = csrfOn(home.text);
    const before = { person: await userRow(person.id), invited: await userRow(invited.id) };
    const tries: [string, Record<string, string>][] = [
      [`/admin/people/${person.id}/reset-password`, { confirm: 'yes' }],
      [`/admin/people/${person.id}/reset-mfa`, { confirm: 'yes' }],
      [`/admin/people/${person.id}/disable`, { confirm: 'yes' }],
      [`/admin/people/${invited.id}/activation-code`, {}],
      [`/admin/people/${person.id}/edit`, { name: 'Hacked', email: uniqueEmail('hacker') }],
      [`/admin/people/${person.id}/sessions/${sessionId}/end`, {}],
      [`/admin/people/${person.id}/unlock`, {}],
    ];
    for (const [path, fields] of tries) {
      const res = await outsider.agent.post(path).type('form').send({ _csrf: token, ...fields }).redirects(0);
      expect([path, res.status]).toEqual([path, 403]);
    }
    for (const path of [`/admin/people/${person.id}/reset-password`, `/admin/people/${person.id}/edit`]) {
      expect((await outsider.agent.get(path).redirects(0)).status).toBe(403);
    }
    expect({ person: await userRow(person.id), invited: await userRow(invited.id) }).toEqual(before);
    expect(await hasPassword(person.id)).toBe(true);
    expect((await browser.open(`/admin/people/${person.id}`)).text).toContain(sessionId);
    expect((await theirs.agent.get('/account').redirects(0)).status).toBe(200);
  });
});

describe('bad input on every form of the person page', () => {
  const shapes: [string, (field: string) => Record<string, string>][] = [
    ['missing', () => ({})],
    ['empty', (f) => ({ [f]: '' })],
    ['10 kB', (f) => ({ [f]: 'a'.repeat(10_000) })],
    ['control character', (f) => ({ [f]: 'Ann\u0007Smith' })],
  ];
  test('a message on the form (4xx), never a 500, nothing written', async () => {
    const person = await colleague('Bea Bad');
    const invited = await makePerson(p.deps, { site: site.ods_code, activate: true, name: 'Ian Invited' });
    const forms: [string, string[]][] = [
      [`/admin/people/${person.id}/edit`, ['name', 'email', 'one_person']],
      [`/admin/sites/${site.ods_code}/people`, ['name', 'email', 'one_person']],
      [`/admin/people/${person.id}/reset-password`, ['confirm']],
      [`/admin/people/${person.id}/reset-mfa`, ['confirm']],
      [`/admin/people/${person.id}/disable`, ['confirm']],
      [`/admin/people/${invited.id}/activation-code`, ['confirm']],
      [`/admin/people/${person.id}/sessions/x/end`, ['confirm']],
    ];
    const home = await browser.open('/admin');
    const token = csrfOn(home.text);
    const count = async () => (await one('SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM audit_events WHERE outcome = \'success\')::int AS acts', []));
    const before = await count();
    const problems: string[] = [];
    for (const [path, fields] of forms) {
      for (const field of fields) {
        for (const [shape, make] of shapes) {
          // An unticked box, or a form with no fields of its own, is sent with nothing: that is not bad input.
          if ((field === 'one_person' || path.endsWith('/activation-code')) && (shape === 'missing' || shape === 'empty')) continue;
          const base = path.endsWith('/people') ? { name: 'Ann Smith', email: uniqueEmail('bad'), role: 'member' } : path.endsWith('/edit') ? { name: 'Bea Bad', email: person.email } : {};
          const body = { ...base, ...make(field) };
          if (shape === 'missing') delete (body as Record<string, string>)[field];
          const res = await browser.agent.post(path).type('form').send({ _csrf: token, ...body }).redirects(0);
          const fine = res.status >= 400 && res.status < 500 && !looksLikeStackTrace(res.text);
          if (!fine) problems.push(`${path} ${field} ${shape}: ${res.status}`);
          // The forms with text to correct are shown again, with the message, rather than an error page.
          const form = path.endsWith('/edit') ? 'id="edit-person"' : path.endsWith('/people') ? 'id="new-person"' : undefined;
          if (form && !res.text.includes(form)) problems.push(`${path} ${field} ${shape}: not shown on the form`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(await count()).toEqual(before);
  });
});

describe('the idle limit', () => {
  let q: TestPharmid;
  beforeAll(async () => { q = await startTestPharmid({ CONSOLE_IDLE_TTL: '2' }); });
  afterAll(() => q.stop());

  test('after the console\'s idle limit it asks for the password and code again; a form posted then does nothing', async () => {
    const at = await makeSite(q.deps, 'Idle Pharmacy');
    const idle = await staff(q, at.ods_code, 'site-admin', 'Ida Idle');
    const target = await staff(q, at.ods_code, 'member', 'Tom Target');
    const { browser: b } = await consoleBrowser(q, idle);
    const confirm = await b.open(`/admin/people/${target.id}/disable`);
    expect(confirm.status).toBe(200);
    await new Promise((r) => { setTimeout(r, 3200); });
    const late = await postForm(b, confirm.text, `/admin/people/${target.id}/disable`);
    expect(late.status).toBe(401);
    expect(textOf(late.text)).toContain('Sign in again');
    expect((await q.deps.db.query('SELECT status FROM users WHERE id = $1', [target.id])).rows[0].status).toBe('active');
    const asked = await b.agent.get('/admin').redirects(0);
    expect(asked.status).toBe(302);
    expect(new URL(asked.headers.location!).searchParams.get('max_age')).toBe('0');
    // The password and the code again (not the silent sign-in a live pharmid session would give), then the console.
    q.clock.advance(30);
    const { page, steps } = await driveSignIn(b, asked.headers.location!, idle, q.clock);
    expect(steps).toEqual(['password', 'otp']);
    expect(page!.status).toBe(200);
    expect(textOf(page!.text)).toContain('Signed in as Ida Idle');
  });
});
