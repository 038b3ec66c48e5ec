import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { SmtpSink } from '../helpers/smtp.js';
import { addSite } from '../../src/domain/sites.js';
import { setRolloutPolicy } from '../../src/domain/rollout.js';
import { sendDueNotices } from '../../src/domain/notices.js';
import { buildMailer } from '../../src/backends.js';
import { linkUser } from '../../src/domain/users.js';
import { consoleBrowser, grant, postForm, staff, uniqueEmail } from './admin-support.js';

const cli = { kind: 'cli' } as const;

describe('with SMTP', () => {
  let p: TestPharmid;
  let smtp: SmtpSink;
  beforeAll(async () => {
    smtp = await new SmtpSink().start();
    p = await startTestPharmid({ SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM: 'pharmid <no-reply@example.nhs.uk>' });
  });
  afterAll(async () => { await p.stop(); await smtp.stop(); });

  test('a new person\'s activation code and an MFA reset\'s code go by email as well as on the page', async () => {
    const site = (await addSite(p.deps, cli, { ods: 'MAIL1', name: 'Mail Pharmacy', userCap: null })).ods_code;
    const admin = await staff(p, site, 'site-admin', 'Ada Admin');
    const { browser } = await consoleBrowser(p, admin, `/admin/sites/${site}/people/new`);
    const email = uniqueEmail('newbie');
    const form = await browser.open(`/admin/sites/${site}/people/new`);
    const added = await postForm(browser, form.text, `/admin/sites/${site}/people`, { email, name: 'Nel Newbie', role: 'member' });
    expect(added.status).toBe(201);
    const code = /id="activation-code"[^>]*>([^<]+)</.exec(added.text)![1]!.trim();
    expect(added.text).toContain('pharmid has also emailed this code');
    const mail = smtp.messages.find((m) => m.to.some((t) => t.includes(email)))!;
    expect(mail.data).toContain('Subject: Your pharmid account');
    expect(mail.data).toContain(code);

    const { rows } = await p.deps.db.query('SELECT id FROM users WHERE email = $1', [email]);
    const personPage = await browser.open(`/admin/people/${rows[0].id}/reset-mfa`);
    const reset = await postForm(browser, personPage.text, `/admin/people/${rows[0].id}/reset-mfa`);
    const resetCode = /id="activation-code"[^>]*>([^<]+)</.exec(reset.text)![1]!.trim();
    expect(resetCode).not.toBe(code);
    const resetMail = smtp.messages.find((m) => m.data.includes('Subject: Your two-step sign-in was reset'))!;
    expect(resetMail.data).toContain(resetCode);
    // The person is told of the reset, and by whom, in a notice that carries no code.
    const notice = smtp.messages.find((m) => m.to.some((t) => t.includes(email)) && m.data.includes('Subject: Your pharmid two-step sign-in was reset'))!;
    expect(notice.data).toContain(`Done by: Ada Admin (${admin.email})`);
    expect(notice.data).not.toContain(resetCode);

    // A locum who also works at another site: the code goes by SMTP to the locum alone, and the page says so.
    const other = (await addSite(p.deps, cli, { ods: 'MAIL2', name: 'Other Pharmacy', userCap: null })).ods_code;
    const locum = await staff(p, other, 'member', 'Lou Locum');
    await linkUser(p.deps, cli, { email: locum.email, site });
    const locumPage = await browser.open(`/admin/people/${locum.id}/reset-password`);
    const mailed = await postForm(browser, locumPage.text, `/admin/people/${locum.id}/reset-password`);
    expect(mailed.status).toBe(200);
    expect(mailed.text).toContain('We emailed the code to');
    expect(mailed.text).not.toContain('id="activation-code"');
    const codeMail = smtp.messages.find((m) => m.to.some((t) => t.includes(locum.email)) && m.data.includes('Subject: Choose a new pharmid password'))!;
    const locumCode = /one-time code: ([A-Z2-9]{5}-[A-Z2-9]{5})/.exec(codeMail.data)![1]!;
    expect(mailed.text).not.toContain(locumCode);
  });
});

describe('without SMTP', () => {
  let p: TestPharmid;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pharmid-outbox-'));
    p = await startTestPharmid({ PHARMID_DATA_DIR: dataDir });
  });
  afterAll(async () => { await p.stop(); rmSync(dataDir, { recursive: true, force: true }); });

  test('rollout notices land in the outbox, which superadmins see in the console; codes are never written there', async () => {
    const site = (await addSite(p.deps, cli, { ods: 'OUTB1', name: 'Outbox Pharmacy', userCap: null })).ods_code;
    const superadmin = await staff(p, site, 'member', 'Sid Super');
    await grant(p, superadmin.email, 'superadmin');
    const waiting = await p.deps.db.query("INSERT INTO users (email, email_key, name, status) VALUES ('wes.waiting@example.nhs.uk', 'wes.waiting@example.nhs.uk', 'Wes Waiting', 'active') RETURNING id");
    await p.deps.db.query("INSERT INTO memberships (user_id, site_id, role) SELECT $1, id, 'member' FROM sites WHERE ods_code = $2", [waiting.rows[0].id, site]);
    await setRolloutPolicy(p.deps, cli, { scope: 'site', site, state: 'announced', enforceOn: '2099-05-01' });
    expect(await sendDueNotices(p.deps, buildMailer(p.config), { reminderDays: 7, issuer: p.config.issuer })).toBe(1);

    const { browser, page } = await consoleBrowser(p, superadmin, '/admin/outbox');
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/id="outbox"[\s\S]*wes.waiting@example.nhs.uk[\s\S]*Two-step sign-in starts on/);

    // A reset's code is shown once, and not written to the outbox; the notice that tells Wes of the reset is (with no code in it).
    const person = await browser.open(`/admin/people/${waiting.rows[0].id}/reset-password`);
    const reset = await postForm(browser, person.text, `/admin/people/${waiting.rows[0].id}/reset-password`);
    expect(reset.text).not.toContain('also emailed');
    const code = /id="activation-code"[^>]*>([^<]+)</.exec(reset.text)![1]!.trim();
    const after = await browser.open('/admin/outbox');
    expect((after.text.match(/wes.waiting@example.nhs.uk/g) ?? []).length).toBe(2);
    expect(after.text).toContain('Your pharmid password was reset');
    const files = readdirSync(join(dataDir, 'outbox')).map((f) => readFileSync(join(dataDir, 'outbox', f), 'utf8'));
    expect(files.some((f) => f.includes(code) || f.includes(code.replace('-', '')))).toBe(false);

    // A commissioner does not see other people's mail.
    const commissioner = await staff(p, site, 'member', 'Cora Comm');
    await grant(p, commissioner.email, 'commissioner', [site]);
    const other = await consoleBrowser(p, commissioner, '/admin/rollout');
    expect(other.page.text).not.toContain('/admin/outbox');
    expect((await other.browser.agent.get('/admin/outbox').redirects(0)).status).toBe(403);
  });
});
