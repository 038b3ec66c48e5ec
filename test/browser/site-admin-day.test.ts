/**
 * A site administrator's Monday morning in the console, in a real browser
 * (Debian's chromium through playwright-core) against pharmid as a real
 * process: sign in, add a person with a shared mailbox (warned) and then
 * properly, send a new activation code, see a colleague's lock and sessions,
 * end a session, lift the lock, correct an email, reset a password with its
 * confirmation, sign out. Each page is screenshotted at desktop width and at
 * 375 px into test-artifacts/browser and checked with axe-core.
 */
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import type { Deps } from '../../src/domain/deps.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { beginAttempt } from '../../src/domain/attempts.js';
import {
  PageChecks, STEP_BUTTON, enrolledApp, follow, heading, startBrowserWorld,
  type Authenticator, type BrowserWorld, type PharmidProcess,
} from './support.js';

jest.setTimeout(180_000);

let world: BrowserWorld;
let pharmid: PharmidProcess;
let deps: Deps;
const checks = new PageChecks();
const cli = { kind: 'cli' } as const;

interface Pharmacist { id?: string; name: string; email: string; password: string; app?: Authenticator }
const sam: Pharmacist = { name: 'Sam Taylor', email: 'sam.taylor@example.nhs.uk', password: 'copper lantern orchard' };
const priya: Pharmacist = { name: 'Priya Shah', email: 'priya.shah@example.nhs.uk', password: 'thistle harbour pebble' };

beforeAll(async () => {
  world = await startBrowserWorld('site-admin-day');
  ({ pharmid, deps } = world);
  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  for (const [p, role] of [[sam, 'site-admin'], [priya, 'member']] as const) {
    const { user } = await createUser(deps, cli, { email: p.email, name: p.name, site: 'FA123', role, password: p.password });
    p.id = user.id;
    p.app = (await enrolledApp(deps, user.id)).app;
  }
});

afterAll(async () => {
  await world?.close();
});

const tab = (userAgent?: string) => world.tab({ viewport: { width: 1280, height: 900 }, ...(userAgent ? { userAgent } : {}) });

async function signIn(page: Page, p: Pharmacist, start: string): Promise<void> {
  await page.goto(start);
  await page.fill('#email', p.email);
  await page.fill('#password', p.password);
  await follow(page, STEP_BUTTON);
  await page.fill('#code', p.app!.code());
  await follow(page, STEP_BUTTON);
}

let admin: Page;

test('Sam signs in to the console: every page says who is signed in, with a way to their account and to sign out', async () => {
  // Priya is signed in at the dispensary PC (her session is what Sam will end later).
  const priyaTab = await tab('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36');
  await signIn(priyaTab, priya, `${pharmid.url}/account`);
  expect(priyaTab.url()).toBe(`${pharmid.url}/account`);

  admin = await tab();
  await signIn(admin, sam, `${pharmid.url}/admin`);
  expect(await heading(admin)).toBe('Administration');
  expect(await admin.textContent('#signed-in-name')).toBe('Sam Taylor');
  expect(await admin.textContent('#signed-in-roles')).toContain('Site administrator at High Street Pharmacy');
  await checks.lookBoth(admin, 'day-home');
});

test('adding a shared mailbox is warned, and an individual address goes through with its activation code', async () => {
  await admin.goto(`${pharmid.url}/admin/sites/FA123/people/new`);
  await admin.fill('#name', 'Dispensary Team');
  await admin.fill('#email', 'pharmacy@highstreet.example.co.uk');
  await follow(admin, '#new-person button[type="submit"]');
  expect(await admin.textContent('.nhsuk-error-summary')).toContain('looks like a shared team mailbox');
  expect(await admin.locator('#one_person').count()).toBe(1);
  await checks.lookBoth(admin, 'day-shared-mailbox-warned');

  await admin.fill('#name', 'Nina Patel');
  await admin.fill('#email', 'nina.patel@example.nhs.uk');
  await follow(admin, '#new-person button[type="submit"]');
  expect(await heading(admin)).toContain('Nina Patel has been added');
  expect(await admin.textContent('#activation-code')).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
  await checks.look(admin, 'day-person-added');
});

test('Nina lost her code: "Send a new activation code" from her page', async () => {
  const { rows } = await deps.db.query("SELECT id FROM users WHERE email = 'nina.patel@example.nhs.uk'");
  await admin.goto(`${pharmid.url}/admin/people/${rows[0].id}`);
  expect(await admin.locator('#reset-password-link').count()).toBe(0);
  await checks.lookBoth(admin, 'day-invited-person');
  await follow(admin, '#activation-code-form button');
  expect(await heading(admin)).toBe('A new activation code for Nina Patel');
  expect(await admin.textContent('#activation-code')).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
  await checks.look(admin, 'day-new-activation-code');
});

test("Priya is locked out after wrong codes: Sam sees until when, ends her PC's session, and lifts the lock", async () => {
  for (let i = 0; i < deps.settings.throttle.secondFactorFailures; i += 1) {
    const attempt = await beginAttempt(deps, { kind: 'second-factor', account: priya.id!, ip: '203.0.113.20' });
    await attempt.failed(priya.id);
  }
  await admin.goto(`${pharmid.url}/admin/people/${priya.id}`);
  expect(await admin.textContent('#person-locks')).toMatch(/Authenticator and recovery codes: locked after wrong tries, until/);
  expect(await admin.textContent('.pharmid-session')).toContain('Chrome on Windows');
  await checks.lookBoth(admin, 'day-locked-person');

  await follow(admin, '.pharmid-session button');
  expect(await admin.textContent('#done')).toContain('That session has ended');
  expect(await admin.locator('.pharmid-session').count()).toBe(0);

  await follow(admin, '#unlock-form button');
  expect(await admin.textContent('#done')).toContain('unlocked');
  expect(await admin.locator('#no-locks').count()).toBe(1);
  expect(await admin.locator('#unlock-form').count()).toBe(0);
  await checks.look(admin, 'day-unlocked');
});

test("Sam corrects Priya's email", async () => {
  await follow(admin, '#edit-link');
  await checks.lookBoth(admin, 'day-edit-person');
  await admin.fill('#email', 'priya.shah2@example.nhs.uk');
  await follow(admin, '#edit-person button[type="submit"]');
  expect(await admin.textContent('#done')).toContain('Their email was changed');
  expect(await admin.textContent('#person-email')).toBe('priya.shah2@example.nhs.uk');
});

test("Sam resets Priya's password: a page says what will happen first", async () => {
  await follow(admin, '#reset-password-link');
  expect(await heading(admin)).toBe("Reset Priya Shah's password?");
  expect(await admin.textContent('#what-happens')).toContain('signed out everywhere');
  await checks.lookBoth(admin, 'day-confirm-reset');
  await follow(admin, '#confirm-form button');
  expect(await heading(admin)).toBe('Priya Shah needs to choose a new password');
  expect(await admin.textContent('#activation-code')).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
  await checks.look(admin, 'day-reset-code');
});

test('a page that is not there leads back to the console home; Sam signs out', async () => {
  await admin.goto(`${pharmid.url}/admin/no-such-page`);
  expect(await admin.locator('#console-home').count()).toBe(1);
  await checks.look(admin, 'day-not-found');
  await follow(admin, '#sign-out button');
  await checks.look(admin, 'day-sign-out-confirm');
  await follow(admin, 'form button[type="submit"]');
  expect(await heading(admin)).toBe('You have signed out');
  await checks.look(admin, 'day-signed-out');
  // The console asks for the password again.
  await admin.goto(`${pharmid.url}/admin`);
  expect(await admin.locator('#password').count()).toBe(1);
});

test('no serious or critical accessibility problems on any page', () => {
  expect(checks.findings).toEqual([]);
});
