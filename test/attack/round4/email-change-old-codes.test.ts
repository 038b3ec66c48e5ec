import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser } from '../../helpers/browser.js';
import { makePerson, makeSite } from '../../helpers/factories.js';
import { errorMessages } from '../../helpers/pages.js';
import { mailTo, mailedCode } from '../../helpers/mail.js';
import { consoleBrowser, csrfOn, staff, uniqueEmail } from '../../integration/admin-support.js';

/**
 * Round 4, the console's "Change name or email": an administrator corrects
 * the email of someone who has not activated yet, because the first address
 * was wrong (a typo, a colleague's, a shared mailbox). The activation code
 * already went to that wrong address, and the notice of the change tells it
 * the new one: with both, whoever reads the wrong mailbox could activate the
 * account, choose its password and set up their own authenticator. A change
 * of email withdraws the codes and links that went to the old address.
 */
let p: TestPharmid;
beforeAll(async () => { p = await startTestPharmid(); });
afterAll(() => p.stop());

test('the activation code mailed to the old address no longer activates the account once the email is corrected', async () => {
  const site = await makeSite(p.deps, 'Hilltop Pharmacy');
  const admin = await staff(p, site.ods_code, 'site-admin', 'Bea Admin');
  const { browser } = await consoleBrowser(p, admin);
  const invited = await makePerson(p.deps, { site: site.ods_code, activate: true, name: 'Jane Smyth' });
  const wrong = invited.email;

  // A code emailed to the (wrong) address on file: the bulk form sends it to the person alone.
  const token = csrfOn((await browser.open(`/admin/sites/${site.ods_code}`)).text);
  const sent = await browser.agent.post(`/admin/sites/${site.ods_code}/people/bulk/confirm`).type('form')
    .send({ _csrf: token, act: 'send-codes', person: invited.id }).redirects(0);
  expect(sent.status).toBe(200);
  const code = mailedCode(p, wrong, 'Your pharmid account')!;
  expect(code).toBeTruthy();

  // The administrator corrects the email; the old address is told the new one.
  const right = uniqueEmail('jane.smyth');
  const edit = await browser.open(`/admin/people/${invited.id}/edit`);
  const changed = await browser.agent.post(`/admin/people/${invited.id}/edit`).type('form')
    .send({ _csrf: csrfOn(edit.text), name: 'Jane Smyth', email: right }).redirects(0);
  expect(changed.status).toBe(303);
  expect(mailTo(p, wrong).some((m) => m.body.includes(right))).toBe(true);

  // Whoever reads the wrong mailbox tries the code with the new address.
  const stranger = new Browser(p.url);
  const start = await stranger.open((await stranger.agent.get('/account').redirects(0)).headers.location!);
  const activate = /action="([^"]*\/activate)"/.exec(start.text)?.[1]
    ?? /action="([^"]*\/password)"/.exec(start.text)![1]!.replace(/password$/, 'activate');
  await stranger.open(activate);
  const tried = await stranger.submit(activate, { email: right, activation_code: code, new_password: 'stolen harbour violet' });
  expect(tried.status).toBeGreaterThanOrEqual(400);
  expect(errorMessages(tried.text).join(' ')).not.toBe('');
  const { rows: [row] } = await p.deps.db.query('SELECT status, (SELECT count(*)::int FROM passwords WHERE user_id = $1) AS passwords FROM users WHERE id = $1', [invited.id]);
  expect(row).toEqual({ status: 'invited', passwords: 0 });
});
