/**
 * "Forgotten your password?" in a real browser (Debian's chromium, driven by
 * playwright-core), against pharmid as a real process with no SMTP, so the
 * link lands in its outbox folder. Three pharmacists who forgot their
 * password, each starting at a portal's sign-in page: one with an
 * authenticator app, one whose phone is elsewhere (a recovery code), one who
 * has not set up an authenticator yet. Each page is screenshotted into
 * test-artifacts/browser and checked with axe-core.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { makeClient } from '../helpers/factories.js';
import type { Deps } from '../../src/domain/deps.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
import {
  PageChecks, STEP_BUTTON, enrolledApp, follow, heading, startBrowserWorld,
  type Authenticator, type BrowserWorld, type PharmidProcess,
} from './support.js';

jest.setTimeout(120_000);

let world: BrowserWorld;
let pharmid: PharmidProcess;
let deps: Deps;
let dataDir: string;
let portal: RunningPortal;
const checks = new PageChecks();
const cli = { kind: 'cli' } as const;

interface Pharmacist { name: string; email: string; password: string; app?: Authenticator; recoveryCodes?: string[] }
const withApp: Pharmacist = { name: 'Amir Hussain', email: 'amir.hussain@example.nhs.uk', password: 'copper lantern orchard' };
const phoneAtHome: Pharmacist = { name: 'Beth Morgan', email: 'beth.morgan@example.nhs.uk', password: 'thistle harbour pebble' };
const notEnrolled: Pharmacist = { name: 'Chris Okafor', email: 'chris.okafor@example.nhs.uk', password: 'meadow kettle saffron' };

beforeAll(async () => {
  world = await startBrowserWorld('forgotten');
  ({ pharmid, deps, dataDir } = world);
  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  for (const p of [withApp, phoneAtHome, notEnrolled]) {
    const { user } = await createUser(deps, cli, { email: p.email, name: p.name, site: 'FA123', password: p.password });
    if (p !== notEnrolled) Object.assign(p, await enrolledApp(deps, user.id));
  }
  portal = await startPortal({ name: 'PharmRefer', colour: '#007f3b' });
  const client = await makeClient(deps, {
    name: 'PharmRefer', redirectUris: [portal.redirectUri], postLogoutRedirectUris: [portal.postLogoutRedirectUri],
    backchannelLogoutUri: portal.backchannelLogoutUri,
  });
  await portal.connect({ issuer: world.config.issuer, clientId: client.client_id, clientSecret: client.client_secret });
});

afterAll(async () => {
  await portal?.close();
  await world?.close();
});

const tab = () => world.tab();

/** The link in the forgotten-password mail to this address, waited for (it is sent after the answer). */
async function mailedLink(email: string): Promise<string> {
  for (let i = 0; i < 100; i += 1) {
    let files: string[] = [];
    try { files = readdirSync(join(dataDir, 'outbox')).filter((f) => f.endsWith('.eml')).sort(); } catch { /* nothing yet */ }
    for (const raw of files.map((f) => readFileSync(join(dataDir, 'outbox', f), 'utf8')).reverse()) {
      const body = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
      if (new RegExp(`^To: .*${email.replace(/\./g, '\\.')}`, 'mi').test(raw) && /Subject: Choose a new pharmid password/.test(raw)) {
        return /(http\S+\/password\/reset\?\S+)/.exec(body)![1]!;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no link mailed to ${email}`);
}

/** From the portal's sign-in page to the page the emailed link opens. */
async function askAndOpenLink(p: Pharmacist, shoot: boolean): Promise<Page> {
  const page = await tab();
  await page.goto(portal.url);
  await follow(page, '#sign-in');
  expect(await heading(page)).toMatch(/^Sign in/);
  await follow(page, '#forgotten-password');
  expect(await heading(page)).toBe('Forgotten your password?');
  if (shoot) await checks.look(page, 'forgotten-ask');
  await page.fill('#email', p.email);
  await follow(page, 'form[action="/password/forgotten"] button[type="submit"]');
  expect(await heading(page)).toBe('Check your email');
  if (shoot) await checks.look(page, 'forgotten-sent');
  await page.goto(await mailedLink(p.email));
  expect(await heading(page)).toBe('Choose a new password');
  return page;
}

test('with an authenticator: the link alone is not enough; with the code, a new password, and on to PharmRefer where the code is asked again', async () => {
  const page = await askAndOpenLink(withApp, true);
  await checks.look(page, 'forgotten-link-authenticator');
  const newPassword = 'walnut ferry bramble';
  await page.fill('#new_password', newPassword);
  await follow(page, 'form[action="/password/reset"] button[type="submit"]');
  expect(await page.locator('.nhsuk-error-summary').textContent()).toContain('6-digit code');
  await checks.look(page, 'forgotten-link-no-code');
  await page.fill('#code', withApp.app!.code());
  await page.fill('#new_password', newPassword);
  await follow(page, 'form[action="/password/reset"] button[type="submit"]');
  expect(await page.textContent('#password-changed')).toContain('Your password has been changed');
  await checks.look(page, 'forgotten-done');
  expect(await page.textContent('#carry-on')).toContain('Carry on to PharmRefer');
  await follow(page, '#carry-on');
  await page.fill('#email', withApp.email);
  await page.fill('#password', newPassword);
  await follow(page, STEP_BUTTON);
  // Signed in by nobody: the authenticator code is asked as at every sign-in.
  expect(await page.locator('#code').count()).toBe(1);
  expect(page.url()).toContain('/interaction/');
});

test('with a recovery code instead (the phone is at home): the code is spent, the authenticator stays', async () => {
  const page = await askAndOpenLink(phoneAtHome, false);
  await follow(page, 'text=I cannot use my authenticator: use a recovery code');
  await checks.look(page, 'forgotten-link-recovery-code');
  await page.fill('#recovery_code', phoneAtHome.recoveryCodes![0]!);
  await page.fill('#new_password', 'juniper signal harvest');
  await follow(page, 'form[action="/password/reset"] button[type="submit"]');
  expect(await page.textContent('#password-changed')).toContain('Your password has been changed');
  await follow(page, '#carry-on');
  await page.fill('#email', phoneAtHome.email);
  await page.fill('#password', 'juniper signal harvest');
  await follow(page, STEP_BUTTON);
  expect(await page.locator('#code').count()).toBe(1);
});

test('not yet enrolled: a new password from the link alone, then the authenticator is set up at sign-in', async () => {
  const page = await askAndOpenLink(notEnrolled, false);
  expect(await page.locator('#code').count()).toBe(0);
  await checks.look(page, 'forgotten-link-not-enrolled');
  await page.fill('#new_password', 'pepper island compass');
  await follow(page, 'form[action="/password/reset"] button[type="submit"]');
  await follow(page, '#carry-on');
  await page.fill('#email', notEnrolled.email);
  await page.fill('#password', 'pepper island compass');
  await follow(page, STEP_BUTTON);
  expect(await heading(page)).toBe('Set up your authenticator app');
  // A copy button beside the key (a script file of pharmid's; the CSP stays strict).
  const copy = page.locator('button[data-copy-from="totp-secret"]');
  expect(await copy.isVisible()).toBe(true);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: pharmid.url });
  await copy.click();
  await page.waitForFunction(() => (document.getElementById('copy-key-status')?.textContent ?? '').length > 0);
  const key = (await page.textContent('#totp-secret'))!.replace(/\s+/g, '');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
  await checks.look(page, 'enrol-copy-key');
});

test('without scripts, the enrolment page still shows the key, and no button that would do nothing', async () => {
  const page = await world.tab({ javaScriptEnabled: false });
  await page.goto(portal.url);
  await follow(page, '#sign-in');
  await page.fill('#email', notEnrolled.email);
  await page.fill('#password', 'pepper island compass');
  await follow(page, STEP_BUTTON);
  expect(await heading(page)).toBe('Set up your authenticator app');
  expect((await page.textContent('#totp-secret'))!.replace(/\s+/g, '')).toMatch(/^[A-Z2-7]{16,}$/);
  expect(await page.locator('button[data-copy-from="totp-secret"]').isVisible()).toBe(false);
});

test('at sign-in, after a recovery code, the person chooses to carry on with their app; the codes left are shown', async () => {
  const page = await tab();
  await page.goto(portal.url);
  await follow(page, '#sign-in');
  await page.fill('#email', phoneAtHome.email);
  await page.fill('#password', 'juniper signal harvest');
  await follow(page, STEP_BUTTON);
  await follow(page, 'text=I cannot use my authenticator: use a recovery code');
  expect(await page.textContent('#after-recovery-code')).toContain('After the code, you choose');
  await checks.look(page, 'recovery-before');
  await page.fill('#recovery_code', phoneAtHome.recoveryCodes![1]!);
  await follow(page, STEP_BUTTON);
  expect(await heading(page)).toBe('You used a recovery code');
  expect(await page.textContent('#recovery-codes-left')).toContain('You have 8 recovery codes left.');
  await checks.look(page, 'recovery-choice');
  await follow(page, '#carry-on');
  expect(page.url()).toBe(`${portal.url}/`);
});

test('a used link gets a plain page with a way to ask again', async () => {
  const page = await tab();
  await page.goto(await mailedLink(withApp.email));
  expect(await heading(page)).toBe('This link does not work any more');
  await checks.look(page, 'forgotten-link-gone');
});

test('no serious or critical accessibility problems on any page', () => {
  expect(checks.findings).toEqual([]);
});
