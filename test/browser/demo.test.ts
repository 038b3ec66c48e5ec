/**
 * The demo in a real browser (Debian's chromium, driven by playwright-core):
 * pharmid runs as a real process (the built dist/, as `npm start` runs it),
 * seeded as `npm run demo` seeds it, with the three demo portals in this
 * process, all on free ports. A person signs in to PharmOutcomes with
 * enrolment, moves to PharmRefer and Outcomes4Health with no pharmid page,
 * and signs out of all three at once. Every pharmid page shown is
 * screenshotted into test-artifacts/browser and checked with axe-core.
 */
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import type { Deps } from '../../src/domain/deps.js';
import { createUser } from '../../src/domain/users.js';
import { registerClient } from '../../src/domain/clients.js';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
import { DEMO_PORTALS, seedDemo, type DemoPerson } from '../../examples/demo-seed.js';
import {
  Authenticator, PageChecks, STEP_BUTTON, follow, startBrowserWorld, type BrowserWorld, type PharmidProcess,
} from './support.js';

jest.setTimeout(90_000);

let world: BrowserWorld;
let pharmid: PharmidProcess;
let deps: Deps;
let portals: RunningPortal[];
let admin: DemoPerson;
let locum: DemoPerson;
let consentUrl: string;
const checks = new PageChecks();
/** Pages pharmid drew in a tab (as opposed to redirects through it), by tab. */
const drawn = new Map<Page, string[]>();

beforeAll(async () => {
  // The world's own data directory rather than `npm run demo`'s .data/: mail sent here lands in a folder removed at the end.
  world = await startBrowserWorld('demo');
  ({ pharmid, deps } = world);
  const { config } = world;
  portals = await Promise.all(DEMO_PORTALS.map((p) => startPortal({ name: p.name, colour: p.colour })));
  const seeded = await seedDemo(deps, portals);
  ({ admin, locum } = seeded.people);
  for (const [i, portal] of portals.entries()) {
    await portal.connect({ issuer: config.issuer, clientId: seeded.clients[i]!.client_id, clientSecret: seeded.clients[i]!.client_secret });
    portal.setOthers(portals.filter((o) => o !== portal).map((o) => ({ name: o.name, url: o.url })));
  }
  // A portal that is not first-party, to see pharmid's consent page.
  const thirdParty = await registerClient(deps, { kind: 'cli' }, { name: 'Community Referrals', redirectUris: ['http://localhost:9/callback'] });
  const auth = new URL(`${config.issuer}/auth`);
  Object.entries({
    client_id: thirdParty.client_id, redirect_uri: 'http://localhost:9/callback', response_type: 'code', scope: 'openid email',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'st',
  }).forEach(([k, v]) => auth.searchParams.set(k, v));
  consentUrl = auth.href;
});

afterAll(async () => {
  await Promise.all((portals ?? []).map((p) => p.close()));
  await world?.close();
});

async function tab(): Promise<Page> {
  const page = await world.tab();
  drawn.set(page, []);
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.url().startsWith(pharmid.url) && r.status() === 200) drawn.get(page)!.push(new URL(r.url()).pathname);
  });
  return page;
}

const portal = (name: string) => portals.find((p) => p.name === name)!;

let adminTab: Page;
let adminApp: Authenticator;
let adminRecoveryCode: string;
let locumTab: Page;
let locumApp: Authenticator;
let thirdTab: Page;
let thirdApp: Authenticator;
const third = { email: 'alex.morgan@example.nhs.uk', password: 'copper meadow lantern' };

test('sign in to PharmOutcomes: password, set up an authenticator from the typed-in key, save the recovery codes', async () => {
  adminTab = await tab();
  const page = adminTab;
  await page.goto(portal('PharmOutcomes').url);
  await follow(page, '#sign-in');
  expect(page.url()).toContain(`${pharmid.url}/interaction/`);
  await checks.look(page, 'sign-in');
  await page.fill('#email', admin.email);
  await page.fill('#password', admin.password!);
  await follow(page, STEP_BUTTON);

  await checks.look(page, 'enrol');
  adminApp = Authenticator.fromKey(await page.textContent('#totp-secret') ?? '');
  expect(await page.getAttribute('img[data-otpauth]', 'data-otpauth')).toContain(`secret=${adminApp.secret}`);
  await page.fill('#code', adminApp.code());
  await follow(page, STEP_BUTTON);

  await checks.look(page, 'recovery-codes');
  const codes = await page.locator('.recovery-code').allTextContents();
  expect(codes).toHaveLength(10);
  adminRecoveryCode = codes[0]!;
  await follow(page, STEP_BUTTON);

  expect(page.url()).toBe(`${portal('PharmOutcomes').url}/`);
  expect(await page.textContent('#signed-in-as')).toBe('Sam Taylor');
  expect(await page.textContent('#site')).toBe('High Street Pharmacy (FA123)');
});

test.each(['PharmRefer', 'Outcomes4Health'])('SSO into %s: signed in with no pharmid page at all', async (name) => {
  const page = adminTab;
  const before = drawn.get(page)!.length;
  await page.goto(portal(name).url);
  expect(await page.getAttribute('#status', 'data-status')).toBe('signed-out');
  await follow(page, '#sign-in');
  expect(page.url()).toBe(`${portal(name).url}/`);
  expect(await page.textContent('#signed-in-as')).toBe('Sam Taylor');
  expect(drawn.get(page)!.slice(before)).toEqual([]);
});

test('the account page, reached by SSO: where you are signed in, and the password, authenticator and recovery-code pages', async () => {
  const page = adminTab;
  const before = drawn.get(page)!.length;
  await page.goto(`${pharmid.url}/account`);
  expect(drawn.get(page)!.slice(before)).toEqual(['/account']);
  await checks.look(page, 'account');
  const portalsLine = await page.locator('.pharmid-session .pharmid-session-portals').first().textContent();
  for (const name of ['PharmOutcomes', 'PharmRefer', 'Outcomes4Health']) expect(portalsLine).toContain(name);
  expect(await page.locator('.pharmid-session .nhsuk-tag').first().textContent()).toBe('This browser');

  await page.goto(`${pharmid.url}/account/password`);
  await checks.look(page, 'account-password');
  await follow(page, 'form[action="/account/password"] button[type="submit"]');
  expect(await page.locator('.nhsuk-error-summary').count()).toBe(1);
  await checks.look(page, 'account-password-errors');

  await page.goto(`${pharmid.url}/account/authenticator`);
  await checks.look(page, 'account-prove-code');
  await page.goto(`${pharmid.url}/account/recovery-codes`);
  await checks.look(page, 'account-prove-code-for-recovery-codes');
});

test('a portal that is not first-party asks for consent; a request from an unknown portal gets the error page', async () => {
  const page = adminTab;
  await page.goto(consentUrl);
  expect(await page.textContent('h1')).toContain('Community Referrals');
  await checks.look(page, 'consent');
  const res = await page.goto(`${pharmid.url}/auth?client_id=no-such-portal&response_type=code&scope=openid`);
  expect(res!.status()).toBe(400);
  await checks.look(page, 'error');
});

test('single logout: signing out of PharmRefer, pharmid confirms, and all three portals are signed out', async () => {
  const page = adminTab;
  await page.goto(portal('PharmRefer').url);
  await follow(page, '#sign-out');
  expect(page.url()).toContain(`${pharmid.url}/session/end`);
  await checks.look(page, 'logout');
  await follow(page, 'form[action*="/session/end/confirm"] button[type="submit"]');
  expect(page.url()).toContain(`${portal('PharmRefer').url}/signed-out`);
  expect(await page.getAttribute('#status', 'data-status')).toBe('signed-out');
  for (const name of ['PharmOutcomes', 'Outcomes4Health']) {
    await page.goto(portal(name).url);
    expect(await page.getAttribute('#status', 'data-status')).toBe('signed-out');
    expect(await page.textContent('#notice')).toContain(`pharmid told ${name} that you signed out`);
  }
  // And pharmid's own session is over: the next sign-in asks for the password again.
  await follow(page, '#sign-in');
  expect(page.url()).toContain(`${pharmid.url}/interaction/`);
  expect(await page.locator('#password').count()).toBe(1);
});

test('the locum activates with the code, enrols, and chooses a site; "Choose another site" asks again with the choice preselected', async () => {
  // Meanwhile a third person enrols, for the recovery-code pages later.
  await createUser(deps, { kind: 'cli' }, { email: third.email, name: 'Alex Morgan', site: 'FA123', password: third.password });
  thirdTab = await tab();
  await thirdTab.goto(`${pharmid.url}/account`);
  await thirdTab.fill('#email', third.email);
  await thirdTab.fill('#password', third.password);
  await follow(thirdTab, STEP_BUTTON);
  thirdApp = Authenticator.fromKey(await thirdTab.textContent('#totp-secret') ?? '');
  await thirdTab.fill('#code', thirdApp.code());
  await follow(thirdTab, STEP_BUTTON);
  await follow(thirdTab, STEP_BUTTON);
  expect(thirdTab.url()).toBe(`${pharmid.url}/account`);

  locumTab = await tab();
  const page = locumTab;
  await page.goto(portal('PharmOutcomes').url);
  await follow(page, '#sign-in');
  await follow(page, 'a[href$="/activate"]');
  await checks.look(page, 'activate');
  await page.fill('#email', locum.email);
  await page.fill('#activation_code', locum.activationCode!);
  await page.fill('#new_password', 'saffron window gravel');
  await follow(page, STEP_BUTTON);
  locumApp = Authenticator.fromKey(await page.textContent('#totp-secret') ?? '');
  await page.fill('#code', locumApp.code());
  await follow(page, STEP_BUTTON);
  await follow(page, STEP_BUTTON);

  await checks.look(page, 'choose-site');
  await page.check('input[name="site"][value="FX456"]');
  await follow(page, STEP_BUTTON);
  expect(await page.textContent('#signed-in-as')).toBe('Priya Shah');
  expect(await page.textContent('#site')).toBe('Riverside Pharmacy (FX456)');

  await follow(page, 'a[href="/login?prompt=select_site"]');
  expect(await page.isChecked('input[name="site"][value="FX456"]')).toBe(true);
  await checks.look(page, 'choose-site-again');
  await page.check('input[name="site"][value="FA123"]');
  await follow(page, STEP_BUTTON);
  expect(await page.textContent('#site')).toBe('High Street Pharmacy (FA123)');
});

test('signing in again: the authenticator code page, and the recovery-code page it links to', async () => {
  const page = adminTab;
  await page.fill('#email', admin.email);
  await page.fill('#password', admin.password!);
  await follow(page, STEP_BUTTON);
  await checks.look(page, 'otp');
  await follow(page, 'a[href$="/recovery"]');
  await checks.look(page, 'recovery');
  await page.fill('#recovery_code', adminRecoveryCode);
  await follow(page, STEP_BUTTON);
  // After a recovery code the person chooses; here, a new authenticator now.
  await checks.look(page, 'after-recovery');
  await follow(page, '#new-authenticator');
  expect(await page.locator('#totp-secret').count()).toBe(1);
});

test('on the account page, proving the current code: a new authenticator to set up, and new recovery codes shown once', async () => {
  await new Promise((r) => setTimeout(r, Math.max(locumApp.waitForFreshStep(), thirdApp.waitForFreshStep())));

  await locumTab.goto(`${pharmid.url}/account/authenticator`);
  await locumTab.fill('#code', locumApp.code());
  await follow(locumTab, 'form[action="/account/authenticator"] button[type="submit"]');
  expect(locumTab.url()).toBe(`${pharmid.url}/account/authenticator/new`);
  expect((await locumTab.textContent('#totp-secret'))?.trim()).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{4})+$/);
  await checks.look(locumTab, 'account-new-authenticator');

  await thirdTab.goto(`${pharmid.url}/account/recovery-codes`);
  await thirdTab.fill('#code', thirdApp.code());
  await follow(thirdTab, 'form[action="/account/recovery-codes"] button[type="submit"]');
  expect(await thirdTab.locator('.recovery-code').count()).toBe(10);
  await checks.look(thirdTab, 'account-new-recovery-codes');
});

test('signing out from the account page ends on pharmid\'s own signed-out page', async () => {
  const page = thirdTab;
  await page.goto(`${pharmid.url}/account`);
  await follow(page, 'main form[action="/portal/sign-out"]:last-of-type button[type="submit"]');
  await follow(page, 'form[action*="/session/end/confirm"] button[type="submit"]');
  expect(page.url()).toBe(`${pharmid.url}/portal/signed-out`);
  await checks.look(page, 'signed-out');
});

test('every pharmid page shown has no serious or critical accessibility violations (axe-core)', () => {
  if (!checks.axeSource) {
    throw new Error('axe-core is not installed (node_modules/axe-core/axe.min.js is missing): run npm install; the other browser checks ran without it');
  }
  expect(checks.pages).toEqual(expect.arrayContaining([
    'sign-in', 'enrol', 'recovery-codes', 'account', 'account-password', 'consent', 'error', 'logout', 'activate', 'choose-site',
    'otp', 'recovery', 'account-new-authenticator', 'account-new-recovery-codes', 'signed-out',
  ]));
  expect(checks.findings).toEqual([]);
});
