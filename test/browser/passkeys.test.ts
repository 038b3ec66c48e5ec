/**
 * Passkeys in a real browser: Debian's chromium (playwright-core) with the
 * DevTools protocol's virtual authenticator (a CTAP2 key built into the
 * platform, holding resident keys, verifying its user), against pharmid as a
 * real process. The portal is openid-client (test/helpers/portal.ts); its
 * redirect URI is answered by the browser context, and the code exchanged.
 *
 * A pharmacist with no phone at the counter sets up the PC's own passkey at
 * her first sign-in, signs in with password + passkey, then with the passkey
 * alone. A locum who uses an app meets a portal that asks for a passkey
 * (acr_values=phr): told plainly, she adds one at /account, and the portal's
 * next sign-in steps her code session up to the passkey alone.
 */
import type { Server } from 'node:http';
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import type { Portal, AuthorizationRequest } from '../helpers/portal.js';
import { portalWithCallback } from '../helpers/callback-portal.js';
import type { Deps } from '../../src/domain/deps.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import {
  PageChecks, enrolledApp, follow, heading, startBrowserWorld, type Authenticator, type BrowserWorld, type PharmidProcess,
} from './support.js';

jest.setTimeout(120_000);

let world: BrowserWorld;
let pharmid: PharmidProcess;
let deps: Deps;
let portal: Portal;
const checks = new PageChecks();

const cli = { kind: 'cli' } as const;
const pharmacist = { name: 'Amira Hussain', email: 'amira.hussain@example.nhs.uk', password: 'copper lantern meadow' };
const locum = { name: 'Priya Shah', email: 'priya.shah@example.nhs.uk', password: 'saffron window gravel' };
let locumApp: Authenticator;
let callbackServer: Server;
let callbackUrl: string;

beforeAll(async () => {
  world = await startBrowserWorld('passkeys');
  ({ pharmid, deps } = world);
  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  await createUser(deps, cli, { ...pharmacist, site: 'FA123' });
  const l = await createUser(deps, cli, { ...locum, site: 'FA123' });
  locumApp = (await enrolledApp(deps, l.user.id)).app;
  ({ portal, callbackUrl, callbackServer } = await portalWithCallback(world.config.issuer, deps));
});

afterAll(async () => {
  if (process.env.PK_DEBUG) (await import('node:fs')).writeFileSync('/tmp/pk-pharmid.log', pharmid?.output() ?? '');
  await world?.close();
  await new Promise((resolve) => { callbackServer?.close(resolve); });
});

/** A tab whose computer has a platform passkey (Windows Hello, in effect): the CDP virtual authenticator. */
async function tabWithPasskeys(): Promise<Page> {
  const page = await world.tab();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  // The person touching the sensor (or not): while off, nothing answers the browser, autofill included.
  presence.set(page, (on) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: on }).then(() => {}));
  return page;
}

const presence = new WeakMap<Page, (on: boolean) => Promise<void>>();
const touch = (page: Page, on: boolean) => presence.get(page)!(on);

/** Opens the portal's sign-in at pharmid. */
async function startSignIn(page: Page, params: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const req = await portal.authorizationRequest(params);
  await page.goto(req.url);
  return req;
}

/** Waits for the redirect back to the portal and exchanges the code: the ID token's claims. */
async function backAtPortal(page: Page, req: AuthorizationRequest) {
  await page.waitForURL((url) => url.href.startsWith(callbackUrl));
  return (await portal.exchange(page.url(), req)).claims()!;
}

let amira: Page;

test('first sign-in: the enrolment page offers a passkey; the PC\'s own passkey is set up, then recovery codes; the token says phr', async () => {
  amira = await tabWithPasskeys();
  const page = amira;
  const req = await startSignIn(page);
  expect(await heading(page)).toBe('Sign in to PharmOutcomes');
  expect(await page.getAttribute('#email', 'autocomplete')).toBe('username webauthn');
  await checks.look(page, 'passkeys-sign-in');
  await page.fill('#email', pharmacist.email);
  await page.fill('#password', pharmacist.password);
  await follow(page, 'form[action$="/password"] button[type="submit"]');
  expect(await heading(page)).toBe('Set up your authenticator app');
  await checks.look(page, 'passkeys-enrol-choice');
  await follow(page, '#passkey-choice a');
  expect(await heading(page)).toBe('Set up a passkey or security key');
  await checks.look(page, 'passkeys-enrol-passkey');
  await page.fill('#name', 'Dispensary PC');
  await follow(page, 'button[data-passkey-start]');
  expect(await heading(page)).toBe('Save your recovery codes');
  await checks.look(page, 'passkeys-recovery-codes');
  await page.click('form[action*="/interaction/"] button[type="submit"]');
  const claims = await backAtPortal(page, req);
  expect(claims.acr).toBe('phr');
  expect(claims.amr).toEqual(['pwd', expect.stringMatching(/^(hwk|swk)$/), 'mfa']);
});

test('password + passkey: after the password, the passkey step; the token says pwd + key, acr phr', async () => {
  const page = amira;
  await page.context().clearCookies();
  // She types her email and password and does not pick the passkey the email box offers (autofill).
  await touch(page, false);
  const req = await startSignIn(page);
  await page.fill('#email', pharmacist.email);
  await page.fill('#password', pharmacist.password);
  await follow(page, 'form[action$="/password"] button[type="submit"]');
  expect(await heading(page)).toBe('Use your passkey or security key');
  await touch(page, true);
  await checks.look(page, 'passkeys-second-factor');
  await page.click('button[data-passkey-start]');
  const claims = await backAtPortal(page, req);
  expect(claims.acr).toBe('phr');
  expect(claims.amr).toEqual(['pwd', expect.stringMatching(/^(hwk|swk)$/), 'mfa']);
});

test('the passkey alone, from the sign-in page\'s "Sign in with a passkey": no password; amr key + user + mfa, acr phr', async () => {
  const page = amira;
  await page.context().clearCookies();
  await touch(page, false);
  const req = await startSignIn(page);
  expect(await heading(page)).toBe('Sign in to PharmOutcomes');
  await page.waitForSelector('button[data-passkey-start]:not([hidden])');
  await touch(page, true);
  // The button stops the autofill's request and asks the browser for a passkey (whichever answers, the same sign-in follows).
  await page.click('button[data-passkey-start]').catch(() => {});
  const claims = await backAtPortal(page, req);
  expect(claims.acr).toBe('phr');
  expect(claims.amr).toEqual([expect.stringMatching(/^(hwk|swk)$/), 'user', 'mfa']);
});

test('the browser\'s passkey autofill (conditional mediation) on the sign-in page signs in with the passkey alone', async () => {
  const page = amira;
  await page.context().clearCookies();
  // The virtual authenticator answers the autofill's request at once, as a person picking the passkey from the email box.
  const req = await startSignIn(page);
  const claims = await backAtPortal(page, req);
  expect(claims.acr).toBe('phr');
  expect(claims.amr).toEqual([expect.stringMatching(/^(hwk|swk)$/), 'user', 'mfa']);
});

test('a portal asking acr_values=phr: a code session is told plainly; a passkey added at /account; the next sign-in steps up to it', async () => {
  const page = await tabWithPasskeys();
  const first = await startSignIn(page);
  await page.fill('#email', locum.email);
  await page.fill('#password', locum.password);
  await follow(page, 'form[action$="/password"] button[type="submit"]');
  await page.fill('#code', locumApp.code());
  await follow(page, 'form[action$="/otp"] button[type="submit"]');
  expect((await backAtPortal(page, first)).acr).toBe('mfa');

  // The portal now asks for a passkey: she has none.
  await startSignIn(page, { acr_values: 'phr' });
  expect(await heading(page)).toBe('PharmOutcomes needs a passkey or security key');
  await checks.look(page, 'passkeys-needed');

  // Her account page: prove the app's code, name the key, add it.
  await follow(page, '#add-passkey');
  expect(await heading(page)).toBe('Add a passkey or security key');
  await checks.look(page, 'passkeys-account-prove');
  await new Promise((r) => setTimeout(r, locumApp.waitForFreshStep()));
  await page.fill('#code', locumApp.code());
  await follow(page, 'form[action="/account/passkeys/add"] button[type="submit"]');
  await checks.look(page, 'passkeys-account-new');
  await page.fill('#name', 'Blue key');
  await follow(page, 'button[data-passkey-start]');
  expect(new URL(page.url()).pathname).toBe('/account');
  const listed = (await page.textContent('#passkey-list'))!.replace(/\s+/g, ' ');
  expect(listed).toContain('Blue key');
  await checks.look(page, 'passkeys-account-added');

  // Back to the portal: only the passkey is asked (no password), and the token says phr.
  const stepUp = await startSignIn(page, { acr_values: 'phr' });
  expect(await heading(page)).toBe('Use your passkey or security key');
  await checks.look(page, 'passkeys-step-up');
  await page.click('button[data-passkey-start]');
  const claims = await backAtPortal(page, stepUp);
  expect(claims.acr).toBe('phr');

  // The account page shows when the key was last used.
  await page.goto(`${pharmid.url}/account`);
  expect((await page.textContent('#passkey-list'))!).not.toContain('Not used yet');
});

test('every page shown has no serious or critical accessibility violations (axe-core)', () => {
  if (!checks.axeSource) throw new Error('axe-core is not installed (node_modules/axe-core/axe.min.js is missing)');
  expect(checks.pages).toEqual(expect.arrayContaining([
    'passkeys-sign-in', 'passkeys-enrol-choice', 'passkeys-enrol-passkey', 'passkeys-second-factor', 'passkeys-needed', 'passkeys-step-up',
  ]));
  expect(checks.findings).toEqual([]);
});
