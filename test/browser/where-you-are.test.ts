/**
 * Pages that say where you are, in a real browser (Debian's chromium, driven
 * by playwright-core), against pharmid as a real process with two demo
 * portals, PharmRefer and PharmOutcomes. A locum signs in to both; the
 * sign-in page names the portal; signing out of PharmRefer offers to leave
 * just that one, and PharmOutcomes stays signed in; an unknown portal and an
 * expired sign-in get plain pages with the next step. Then a pharmacist
 * replaces their authenticator at /account, and the new app's first code,
 * in the same 30 seconds as the old app's, is accepted.
 */
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { makeClient } from '../helpers/factories.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { startPortal, type RunningPortal } from '../../examples/portal/portal.js';
import {
  Authenticator, PageChecks, STEP_BUTTON, enrolledApp, follow, heading, startBrowserWorld, type BrowserWorld,
} from './support.js';

jest.setTimeout(120_000);

let world: BrowserWorld;
let refer: RunningPortal;
let outcomes: RunningPortal;
let outcomesClientId: string;
const checks = new PageChecks();
const cli = { kind: 'cli' } as const;

const locum = { name: 'Dana Price', email: 'dana.price@example.nhs.uk', password: 'harbour violet anchor', app: undefined as unknown as Authenticator };
const pharmacist = { name: 'Eve Laurent', email: 'eve.laurent@example.nhs.uk', password: 'quartz meadow lantern', app: undefined as unknown as Authenticator };

beforeAll(async () => {
  world = await startBrowserWorld('where');
  const { deps, config } = world;
  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  for (const person of [locum, pharmacist]) {
    const { user } = await createUser(deps, cli, { email: person.email, name: person.name, site: 'FA123', password: person.password });
    person.app = (await enrolledApp(deps, user.id)).app;
  }
  [refer, outcomes] = await Promise.all([
    startPortal({ name: 'PharmRefer', colour: '#007f3b' }),
    startPortal({ name: 'PharmOutcomes', colour: '#005eb8' }),
  ]);
  for (const portal of [refer, outcomes]) {
    const client = await makeClient(deps, {
      name: portal.name, redirectUris: [portal.redirectUri], postLogoutRedirectUris: [portal.postLogoutRedirectUri],
      backchannelLogoutUri: portal.backchannelLogoutUri,
    });
    if (portal === outcomes) outcomesClientId = client.client_id;
    await portal.connect({ issuer: config.issuer, clientId: client.client_id, clientSecret: client.client_secret });
  }
});

afterAll(async () => {
  await refer?.close();
  await outcomes?.close();
  await world?.close();
});

const status = (page: Page) => page.getAttribute('#status', 'data-status');
const items = async (page: Page, list: string) => (await page.locator(`${list} li`).allTextContents()).map((t) => t.trim());
/** What a person reads on the page, leaving out the small print for the helpdesk. */
const plainText = async (page: Page) => (await page.locator('main').innerText()).replace(/If this keeps happening[^\n]*/g, '');
const PROTOCOL_WORDS = /invalid_|client_id|redirect_uri|interaction|session not found|client is invalid/i;

let locumTab: Page;

test('the sign-in page names the portal that asked: "Sign in to PharmRefer"', async () => {
  locumTab = await world.tab();
  await locumTab.goto(refer.url);
  await follow(locumTab, '#sign-in');
  expect(await heading(locumTab)).toBe('Sign in to PharmRefer');
  expect(await locumTab.title()).toBe('Sign in to PharmRefer – pharmid');
  await checks.look(locumTab, 'where-sign-in-names-portal');
  await locumTab.fill('#email', locum.email);
  await locumTab.fill('#password', locum.password);
  await follow(locumTab, STEP_BUTTON);
  await locumTab.fill('#code', locum.app.code());
  await follow(locumTab, STEP_BUTTON);
  expect(await status(locumTab)).toBe('signed-in');
  // The back button to the finished sign-in page: it says it was used, and where to go.
  await locumTab.goBack();
  expect(await heading(locumTab)).toBe('You have already signed in with this page');
  expect(await plainText(locumTab)).not.toMatch(PROTOCOL_WORDS);
  await checks.look(locumTab, 'where-sign-in-used-again');
  await follow(locumTab, '#next-step');
  expect(await status(locumTab)).toBe('signed-in');
  // The second portal signs her in with no pharmid page at all.
  await locumTab.goto(outcomes.url);
  await follow(locumTab, '#sign-in');
  expect(await status(locumTab)).toBe('signed-in');
});

test('signing out of PharmRefer lists both portals; "just this one" leaves PharmOutcomes signed in', async () => {
  await locumTab.goto(refer.url);
  await follow(locumTab, '#sign-out');
  expect(await heading(locumTab)).toBe('Sign out of pharmid?');
  expect((await items(locumTab, '#signed-in-portals')).sort()).toEqual(['PharmOutcomes', 'PharmRefer']);
  expect((await locumTab.textContent('#sign-out-one'))?.trim()).toBe('Sign out of just this one (PharmRefer)');
  await checks.look(locumTab, 'where-sign-out-two-portals');
  await follow(locumTab, '#sign-out-one');
  expect(locumTab.url()).toContain(`${refer.url}/signed-out`);

  // PharmRefer was told by back-channel logout; PharmOutcomes was not, and is still signed in.
  expect(refer.backchannelEnded).toHaveLength(1);
  expect(outcomes.backchannelEnded).toHaveLength(0);
  await locumTab.goto(outcomes.url);
  expect(await status(locumTab)).toBe('signed-in');
  expect(outcomes.openSessions()).toHaveLength(1);
});

test('signing out of the last portal at pharmid: one "Sign out" button, then a page naming what was signed out', async () => {
  await locumTab.goto(`${world.pharmid.url}/session/end?client_id=${encodeURIComponent(outcomesClientId)}`);
  expect(await items(locumTab, '#signed-in-portals')).toEqual(['PharmOutcomes']);
  expect(await locumTab.locator('#sign-out-one').count()).toBe(0);
  await follow(locumTab, '#sign-out-all');
  expect(await heading(locumTab)).toBe('You have signed out');
  expect(await items(locumTab, '#signed-out-of')).toEqual(['PharmOutcomes']);
  await checks.look(locumTab, 'where-signed-out');
  expect(outcomes.backchannelEnded).toHaveLength(1);
});

test('an unknown portal gets a plain page, with what to do, and no protocol words', async () => {
  const page = await world.tab();
  const query = new URLSearchParams({ client_id: 'no-such-portal', redirect_uri: 'http://localhost:9/callback', response_type: 'code', scope: 'openid' });
  const res = await page.goto(`${world.pharmid.url}/auth?${query}`);
  expect(res?.status()).toBe(400);
  expect(await heading(page)).toBe('pharmid does not know this portal');
  expect(await plainText(page)).not.toMatch(PROTOCOL_WORDS);
  await checks.look(page, 'where-unknown-portal');
});

test('an expired sign-in names the portal and links back to it, where sign-in starts again', async () => {
  const page = await world.tab();
  await page.goto(refer.url);
  await follow(page, '#sign-in');
  const uid = new URL(page.url()).pathname.split('/')[2]!;
  // Left too long: the sign-in is gone from the store.
  await world.deps.store.del(`oidc:Interaction:${uid}`);
  await page.fill('#email', locum.email);
  await page.fill('#password', locum.password);
  await follow(page, STEP_BUTTON);
  expect(await heading(page)).toBe('This sign-in has expired');
  expect(await plainText(page)).toContain('Start again from PharmRefer');
  expect(await plainText(page)).not.toMatch(PROTOCOL_WORDS);
  await checks.look(page, 'where-sign-in-expired');
  await follow(page, '#next-step');
  expect(page.url()).toBe(`${refer.url}/`);
  await follow(page, '#sign-in');
  expect(await heading(page)).toBe('Sign in to PharmRefer');
});

test('a new authenticator app\'s first code, in the same 30 seconds as the old app\'s last, is accepted at /account', async () => {
  const page = await world.tab();
  await page.goto(`${world.pharmid.url}/account`);
  expect(await heading(page)).toBe('Sign in to your pharmid account');
  await page.fill('#email', pharmacist.email);
  await page.fill('#password', pharmacist.password);
  await follow(page, STEP_BUTTON);
  await page.fill('#code', pharmacist.app.code());
  await follow(page, STEP_BUTTON);
  expect(new URL(page.url()).pathname).toBe('/account');

  await page.goto(`${world.pharmid.url}/account/authenticator`);
  // The old app's next code is a fresh time step (the sign-in used the last); with 12 s of it left at least.
  await new Promise((r) => setTimeout(r, pharmacist.app.waitForFreshStep()));
  if (Date.now() % 30_000 > 18_000) await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 50));
  const oldCode = pharmacist.app.code();
  const step = Math.floor(Date.now() / 30_000);
  await page.fill('#code', oldCode);
  await follow(page, 'form[action="/account/authenticator"] button[type="submit"]');
  expect(await heading(page)).toBe('Set up your new authenticator app');
  const newApp = Authenticator.fromKey((await page.textContent('#totp-secret'))!);
  await page.fill('#code', newApp.code());
  expect(Math.floor(Date.now() / 30_000)).toBe(step);
  await checks.look(page, 'where-new-app-same-step');
  await follow(page, 'form[action="/account/authenticator/new"] button[type="submit"]');
  expect(await heading(page)).toBe('Save your new recovery codes');
  await checks.look(page, 'where-new-app-accepted');
});

test('no serious or critical accessibility problems on any page', () => {
  expect(checks.findings).toEqual([]);
});
