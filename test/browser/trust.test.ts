/**
 * The trust boundaries as people meet them, in a real browser (Debian's
 * chromium, driven by playwright-core), against pharmid as a real process
 * with its own data directory and no SMTP, so mail lands in its outbox
 * folder as .eml files.
 *
 * Monday morning: the site administrator of ONE pharmacy resets the
 * authenticator of a locum who also works at a pharmacy the administrator
 * does not look after. The code goes only to the locum's email. The locum,
 * on a shared PC, first tries it at "Activate your account" (refused, with
 * where it goes instead), then signs in with their password, gives the code,
 * sets up a new authenticator and reaches the portal. Then they change their
 * password at /account, and their other browser is signed out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { makeClient } from '../helpers/factories.js';
import type { Deps } from '../../src/domain/deps.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser, linkUser } from '../../src/domain/users.js';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
import {
  Authenticator, PageChecks, STEP_BUTTON, enrolledApp, follow, heading, startBrowserWorld,
  type BrowserWorld, type PharmidProcess,
} from './support.js';

jest.setTimeout(120_000);

let world: BrowserWorld;
let pharmid: PharmidProcess;
let deps: Deps;
let dataDir: string;
let portal: RunningPortal;
const checks = new PageChecks();

const cli = { kind: 'cli' } as const;
const admin = { name: 'Sam Taylor', email: 'sam.taylor@example.nhs.uk', password: 'kettle orchard lantern' };
const locum = { name: 'Priya Shah', email: 'priya.shah@example.nhs.uk', password: 'saffron window gravel' };
let adminApp: Authenticator;

beforeAll(async () => {
  world = await startBrowserWorld('trust');
  ({ pharmid, deps, dataDir } = world);

  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  await addSite(deps, cli, { ods: 'FX456', name: 'Riverside Pharmacy' });
  const a = await createUser(deps, cli, { email: admin.email, name: admin.name, site: 'FA123', role: 'site-admin', password: admin.password });
  const l = await createUser(deps, cli, { email: locum.email, name: locum.name, site: 'FA123', password: 'old pebble harbour' });
  await linkUser(deps, cli, { email: locum.email, site: 'FX456' });
  adminApp = (await enrolledApp(deps, a.user.id)).app;
  await enrolledApp(deps, l.user.id);

  portal = await startPortal({ name: 'PharmOutcomes', colour: '#005eb8' });
  const client = await makeClient(deps, {
    name: 'PharmOutcomes', redirectUris: [portal.redirectUri], postLogoutRedirectUris: [portal.postLogoutRedirectUri],
    backchannelLogoutUri: portal.backchannelLogoutUri,
  });
  await portal.connect({ issuer: world.config.issuer, clientId: client.client_id, clientSecret: client.client_secret });
});

afterAll(async () => {
  await portal?.close();
  await world?.close();
});

const tab = () => world.tab();
const errorSummary = async (page: Page) => (await page.locator('.nhsuk-error-summary').textContent())?.replace(/\s+/g, ' ').trim();
/** The whole visible text of the page, for "nothing raw" checks. */
const visibleText = (page: Page) => page.locator('body').innerText();

/** The messages pharmid wrote to its outbox folder for one address, as the person's mail program would show them. */
function mailTo(email: string): { subject: string; body: string }[] {
  const dir = join(dataDir, 'outbox');
  let files: string[] = [];
  try { files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort(); } catch { /* nothing sent yet */ }
  return files.map((f) => readFileSync(join(dir, f), 'utf8'))
    .filter((raw) => new RegExp(`^To: .*${email.replace(/\./g, '\\.')}`, 'mi').test(raw))
    .map((raw) => {
      const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
      // Quoted-printable, as nodemailer writes long lines.
      const body = rest.join('\n\n').replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
      return { subject: /^Subject: (.*)$/mi.exec(head)?.[1]?.trim() ?? '', body };
    });
}

/** Nothing a person should ever see: ids, JSON, protocol error codes, stack traces. */
function expectPlain(text: string): void {
  expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
  expect(text).not.toMatch(/[{[]\s*"\w+"\s*:/);
  expect(text).not.toMatch(/invalid_request|invalid_grant|access_denied|login_required|undefined|null|\[object Object\]|at \w+ \(/);
}

let adminTab: Page;
let emailedCode: string;
let locumTab: Page;
let locumApp: Authenticator;
let recoveryCodes: string[];

test('Monday morning, the site administrator signs in to the console with password and authenticator code', async () => {
  adminTab = await tab();
  const page = adminTab;
  await page.goto(`${pharmid.url}/admin`);
  expect(await heading(page)).toBe('Sign in to your pharmid account');
  await checks.look(page, 'trust-admin-sign-in');
  await page.fill('#email', admin.email);
  await page.fill('#password', admin.password);
  await follow(page, STEP_BUTTON);
  await checks.look(page, 'trust-admin-otp');
  await page.fill('#code', adminApp.code());
  await follow(page, STEP_BUTTON);
  expect(page.url()).toBe(`${pharmid.url}/admin`);
  expect(await heading(page)).toBe('Administration');
  await checks.look(page, 'trust-admin-home');
  expectPlain(await visibleText(page));
});

test('the administrator finds the locum; the page says a reset\'s code would go to the locum alone', async () => {
  const page = adminTab;
  await follow(page, 'a[href="/admin/people"]');
  await page.fill('#q', 'Priya');
  await follow(page, 'main form[action="/admin/people"] button[type="submit"]');
  await checks.look(page, 'trust-admin-search');
  await follow(page, '#results a');
  expect(await heading(page)).toBe(locum.name);
  expect(await page.textContent('#codes-go-to-person')).toContain(locum.email);
  await checks.look(page, 'trust-admin-locum');
  expectPlain(await visibleText(page));
});

test('resetting the locum\'s authenticator: "We emailed the code to …", and no code on the page', async () => {
  const page = adminTab;
  const mailBefore = mailTo(locum.email).length;
  // The reset asks first, on a page that says the code goes to the locum alone.
  await follow(page, '#reset-mfa-link');
  expect((await page.textContent('#what-happens'))!.replace(/\s+/g, ' ')).toContain(`pharmid emails the one-time code to ${locum.email} only`);
  await follow(page, '#confirm-form button[type="submit"]');
  await checks.look(page, 'trust-admin-mfa-reset-emailed');
  expect(await heading(page)).toContain(locum.name);
  const emailed = (await page.textContent('#code-emailed-only'))!.replace(/\s+/g, ' ');
  expect(emailed).toContain(`We emailed the code to ${locum.email}`);
  expect(await page.locator('.activation-code').count()).toBe(0);
  // One next step for the administrator: what to tell the locum.
  expect(await page.textContent('#next-step')).toContain('Sign in as usual with your email and password');

  const mail = mailTo(locum.email).slice(mailBefore);
  const codeMail = mail.find((m) => /one-time code:/i.test(m.body));
  expect(codeMail?.subject).toBe('Your two-step sign-in was reset');
  emailedCode = /one-time code: (\S+)/i.exec(codeMail!.body)![1]!;
  // The administrator's screen shows no trace of it.
  expect(await visibleText(page)).not.toContain(emailedCode);
  // And the locum is told of the reset itself (who did it), as every reset is.
  expect(mail.some((m) => m.body.includes(admin.name) || m.body.includes(admin.email))).toBe(true);
  expectPlain(await visibleText(page));
});

test('on a shared PC, the locum first tries the emailed code at "Activate your account": a plain message says where it goes', async () => {
  locumTab = await tab();
  const page = locumTab;
  await page.goto(portal.url);
  await follow(page, '#sign-in');
  expect(await heading(page)).toBe('Sign in to PharmOutcomes');
  await follow(page, 'a[href$="/activate"]');
  expect(await heading(page)).toBe('Activate your account');
  await page.fill('#email', locum.email);
  await page.fill('#activation_code', emailedCode);
  await page.fill('#new_password', 'tangerine bicycle meadow');
  await follow(page, STEP_BUTTON);
  await checks.look(page, 'trust-activate-with-mfa-reset-code');
  expect(await heading(page)).toBe('Sign in with your password first');
  const message = await errorSummary(page);
  expect(message).toContain('That code is for after your password');
  expect(message).toContain('Sign in with your email and usual password');
  // One next step, right there: signing in. The activation form (and its button) is gone.
  expect((await page.textContent('#sign-in-instead'))!.replace(/\s+/g, ' ')).toContain('ask for the code from your email');
  expect(await page.locator('#new_password').count()).toBe(0);
  // Nothing was set up: no authenticator page, and the code still works where it belongs.
  expect(await page.locator('#totp-secret').count()).toBe(0);
  expectPlain(await visibleText(page));
});

test('the locum signs in with their password, types the emailed code, sets up a new authenticator, saves recovery codes, and reaches the portal', async () => {
  const page = locumTab;
  await follow(page, 'main a.nhsuk-button');
  expect(await heading(page)).toBe('Sign in to PharmOutcomes');
  await page.fill('#email', locum.email);
  await page.fill('#password', 'old pebble harbour');
  await follow(page, STEP_BUTTON);

  await checks.look(page, 'trust-reset-code');
  expect(await heading(page)).toBe('Enter your one-time code');
  expect(await page.textContent('main')).toContain('the email from pharmid called "Your two-step sign-in was reset"');
  await page.fill('#activation_code', emailedCode);
  await follow(page, STEP_BUTTON);

  expect(await heading(page)).toBe('Set up your authenticator app');
  await checks.look(page, 'trust-enrol');
  locumApp = Authenticator.fromKey(await page.textContent('#totp-secret') ?? '');
  await page.fill('#code', locumApp.code());
  await follow(page, STEP_BUTTON);

  expect(await heading(page)).toBe('Save your recovery codes');
  await checks.look(page, 'trust-recovery-codes');
  recoveryCodes = await page.locator('.recovery-code').allTextContents();
  expect(recoveryCodes).toHaveLength(10);
  await follow(page, STEP_BUTTON);

  // Two pharmacies: which one today.
  expect(await heading(page)).toBe('Which site are you working at?');
  await checks.look(page, 'trust-choose-site');
  await page.check('input[name="site"][value="FX456"]');
  await follow(page, STEP_BUTTON);
  expect(page.url()).toBe(`${portal.url}/`);
  expect(await page.textContent('#signed-in-as')).toBe(locum.name);
  expect(await page.textContent('#site')).toBe('Riverside Pharmacy (FX456)');
});

let otherTab: Page;

test('the locum is also signed in on a second computer', async () => {
  await new Promise((r) => setTimeout(r, locumApp.waitForFreshStep()));
  otherTab = await tab();
  const page = otherTab;
  await page.goto(`${pharmid.url}/account`);
  await page.fill('#email', locum.email);
  await page.fill('#password', 'old pebble harbour');
  await follow(page, STEP_BUTTON);
  await page.fill('#code', locumApp.code());
  await follow(page, STEP_BUTTON);
  if (await page.locator('input[name="site"]').count()) {
    await page.check('input[name="site"][value="FA123"]');
    await follow(page, STEP_BUTTON);
  }
  expect(page.url()).toBe(`${pharmid.url}/account`);
  expect(await page.locator('.pharmid-session').count()).toBeGreaterThanOrEqual(2);
});

test('on /account the locum changes their password: the page says other sessions were signed out, and the second computer is', async () => {
  const page = locumTab;
  await page.goto(`${pharmid.url}/account`);
  await checks.look(page, 'trust-account');
  await follow(page, 'a[href="/account/password"]');
  expect(await heading(page)).toBe('Change your password');
  await page.fill('#current_password', 'old pebble harbour');
  await page.fill('#new_password', locum.password);
  await follow(page, 'form[action="/account/password"] button[type="submit"]');
  expect(new URL(page.url()).pathname).toBe('/account');
  await checks.look(page, 'trust-account-password-changed');
  expect((await page.textContent('main'))!.replace(/\s+/g, ' ')).toContain('Your password has been changed. You have been signed out everywhere else.');
  expect(await page.locator('.pharmid-session').count()).toBe(1);
  expectPlain(await visibleText(page));

  // The second computer: back to the sign-in page.
  await otherTab.goto(`${pharmid.url}/account`);
  expect(await heading(otherTab)).toBe('Sign in to your pharmid account');
  expect(await otherTab.locator('#password').count()).toBe(1);
  await checks.look(otherTab, 'trust-other-computer-signed-out');

  // And the person is told by email.
  expect(mailTo(locum.email).some((m) => /password/i.test(m.subject))).toBe(true);
});

test('every page shown has no serious or critical accessibility violations (axe-core)', () => {
  if (!checks.axeSource) {
    throw new Error('axe-core is not installed (node_modules/axe-core/axe.min.js is missing): run npm install; the other browser checks ran without it');
  }
  expect(checks.pages).toEqual(expect.arrayContaining([
    'trust-admin-sign-in', 'trust-admin-otp', 'trust-admin-locum', 'trust-admin-mfa-reset-emailed',
    'trust-activate-with-mfa-reset-code', 'trust-reset-code', 'trust-enrol', 'trust-recovery-codes', 'trust-account-password-changed',
  ]));
  expect(checks.findings).toEqual([]);
});
