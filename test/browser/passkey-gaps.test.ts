/**
 * The passkey gaps in a real browser (Debian's chromium with the DevTools
 * protocol's virtual authenticator), against pharmid as a real process: a
 * pharmacist whose only factor is the PC's passkey forgets her password and
 * proves the passkey at the link's page; she adds an authenticator app at
 * /account; at another PC (no key there) a portal asking for a passkey
 * tells her what to do, and after a recovery code she sets up that PC's
 * passkey. Every page is screenshotted and checked with axe-core.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import type { Portal, AuthorizationRequest } from '../helpers/portal.js';
import { portalWithCallback } from '../helpers/callback-portal.js';
import type { Deps } from '../../src/domain/deps.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { Authenticator, PageChecks, follow, heading, startBrowserWorld, type BrowserWorld, type PharmidProcess } from './support.js';

jest.setTimeout(120_000);

let world: BrowserWorld;
let pharmid: PharmidProcess;
let deps: Deps;
let portal: Portal;
let callbackServer: Server;
let callbackUrl: string;
const checks = new PageChecks();
const cli = { kind: 'cli' } as const;
const amira = { name: 'Amira Hussain', email: 'amira.hussain@example.nhs.uk', password: 'copper lantern meadow' };
let recoveryCodes: string[] = [];

beforeAll(async () => {
  world = await startBrowserWorld('passkey-gaps');
  ({ pharmid, deps } = world);
  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  await createUser(deps, cli, { ...amira, site: 'FA123' });
  ({ portal, callbackUrl, callbackServer } = await portalWithCallback(world.config.issuer, deps));
});

afterAll(async () => {
  await world?.close();
  await new Promise((resolve) => { callbackServer?.close(resolve); });
});

afterAll(() => {
  expect(checks.findings).toEqual([]);
});

/** A tab on a PC with its own passkey store (Windows Hello, in effect). */
async function tabWithPasskeys(): Promise<Page> {
  const page = await world.tab();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return page;
}

async function startSignIn(page: Page, params: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const req = await portal.authorizationRequest(params);
  await page.goto(req.url);
  return req;
}

async function password(page: Page) {
  await page.fill('#email', amira.email);
  await page.fill('#password', amira.password);
  await follow(page, 'form[action$="/password"] button[type="submit"]');
}

async function mailedLink(email: string): Promise<string> {
  for (let i = 0; i < 100; i += 1) {
    let files: string[] = [];
    try { files = readdirSync(join(world.dataDir, 'outbox')).filter((f) => f.endsWith('.eml')).sort(); } catch { /* nothing yet */ }
    for (const raw of files.map((f) => readFileSync(join(world.dataDir, 'outbox', f), 'utf8')).reverse()) {
      const body = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
      if (new RegExp(`^To: .*${email.replace(/\./g, '\\.')}`, 'mi').test(raw) && /Subject: Choose a new pharmid password/.test(raw)) {
        return /(http\S+\/password\/reset\?\S+)/.exec(body)![1]!;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no link mailed to ${email}`);
}

let pc: Page;

test('a passkey-only pharmacist forgets her password: the link\'s page takes her passkey with the new password', async () => {
  pc = await tabWithPasskeys();
  const req = await startSignIn(pc);
  await password(pc);
  await follow(pc, '#passkey-choice a');
  await pc.fill('#name', 'Dispensary PC');
  await follow(pc, 'button[data-passkey-start]');
  recoveryCodes = await pc.locator('.recovery-code').allTextContents();
  await pc.click('form[action*="/interaction/"] button[type="submit"]');
  await pc.waitForURL((url) => url.href.startsWith(callbackUrl));
  await portal.exchange(pc.url(), req);

  await pc.goto(`${pharmid.url}/password/forgotten`);
  await pc.fill('#email', amira.email);
  await follow(pc, 'form[action="/password/forgotten"] button[type="submit"]');
  await pc.goto(await mailedLink(amira.email));
  expect(await heading(pc)).toBe('Choose a new password');
  await checks.look(pc, 'gaps-forgotten-passkey');
  amira.password = 'harbour thistle pebble';
  await pc.fill('#new_password', amira.password);
  await follow(pc, 'button[data-passkey-start]');
  expect(await heading(pc)).toBe('Sign in with your new password');
  await checks.look(pc, 'gaps-forgotten-passkey-done');
});

test('at /account she adds an authenticator app after proving her passkey', async () => {
  // The sign-in page offers the PC's passkey in the email box's suggestions: the passkey alone signs her in.
  const req = await startSignIn(pc);
  await pc.waitForURL((url) => url.href.startsWith(callbackUrl));
  await portal.exchange(pc.url(), req);
  await pc.goto(`${pharmid.url}/account`);
  await checks.look(pc, 'gaps-account-passkey-only');
  await follow(pc, '#add-app');
  expect(await heading(pc)).toBe('Add an authenticator app');
  await checks.look(pc, 'gaps-account-add-app-prove');
  await follow(pc, 'button[data-passkey-start]');
  expect(await heading(pc)).toBe('Set up your authenticator app');
  expect(await pc.textContent('label[for="code"]')).toMatch(/code from your app/);
  await checks.look(pc, 'gaps-account-add-app');
  const app = Authenticator.fromKey((await pc.textContent('#totp-secret'))!);
  await pc.fill('#code', app.code());
  await follow(pc, 'form[action="/account/authenticator/new"] button[type="submit"]');
  expect(await heading(pc)).toBe('Save your new recovery codes');
  await checks.look(pc, 'gaps-account-add-app-codes');
  recoveryCodes = await pc.locator('.recovery-code').allTextContents();
});

test('at another PC a portal asking for a passkey says what to do; after a recovery code she sets up that PC\'s passkey', async () => {
  const other = await tabWithPasskeys();
  await startSignIn(other, { acr_values: 'phr' });
  await password(other);
  expect(await heading(other)).toBe('Use your passkey or security key');
  await checks.look(other, 'gaps-phr-lost-key');
  expect(await other.locator('a[href$="/recovery"]').count()).toBe(0);

  const req = await startSignIn(other);
  await password(other);
  // She has her app too now, but not with her: the code page's recovery-code link.
  await follow(other, 'a[href$="/recovery"]');
  await other.fill('#recovery_code', recoveryCodes[0]!);
  await follow(other, 'form[action$="/recovery"] button[type="submit"]');
  expect(await heading(other)).toBe('You used a recovery code');
  await checks.look(other, 'gaps-after-recovery');
  await follow(other, '#new-passkey');
  expect(await heading(other)).toBe('Set up a passkey or security key');
  await checks.look(other, 'gaps-recovery-passkey');
  await other.fill('#name', 'Back office PC');
  await follow(other, 'button[data-passkey-start]');
  expect(await heading(other)).toBe('Save your recovery codes');
  await other.click('form[action*="/interaction/"] button[type="submit"]');
  await other.waitForURL((url) => url.href.startsWith(callbackUrl));
  expect((await portal.exchange(other.url(), req)).claims()!.acr).toBe('mfa');
});
