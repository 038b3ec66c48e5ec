/**
 * Passkeys as an administrator meets them, in a real browser (Debian's
 * chromium through playwright-core) against pharmid as a real process: a
 * person's factors on their page (the app, each key by name with its last
 * use, recovery codes left), the reset that says the keys stop working too,
 * and the rollout form's choice of what an enforced policy requires. Each
 * page is screenshotted at desktop width and at 375 px into
 * test-artifacts/browser and checked with axe-core.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import type { BrowserContext, Browser as Chromium, Page } from 'playwright-core';
import { freePort } from '../helpers/pharmid.js';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { totpCode } from '../helpers/sign-in.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import { loadConfig } from '../../src/config.js';
import { buildDeps, openBackends, type Backends } from '../../src/backends.js';
import type { Deps } from '../../src/domain/deps.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { grantOrgRole } from '../../src/domain/org-roles.js';
import { OPERATOR } from '../../src/domain/authorization.js';
import { beginEnrolment, confirmEnrolment } from '../../src/domain/authenticators.js';
import { addPasskey, authenticationOptions, provePasskey, registrationOptions } from '../../src/domain/factors/passkey-ceremonies.js';
import { listPasskeys } from '../../src/domain/factors/passkeys.js';
import { findTotpCredential } from '../../src/db/queries/totp-credentials.js';
import { Authenticator, PageChecks, launchChromium, startPharmidProcess, type PharmidProcess } from './support.js';

jest.setTimeout(180_000);

let backends: TestBackends;
let dataDir: string;
let pharmid: PharmidProcess;
let opened: Backends;
let deps: Deps;
let chromium: Chromium;
const checks = new PageChecks();
const contexts: BrowserContext[] = [];
const cli = { kind: 'cli' } as const;

interface Pharmacist { id?: string; name: string; email: string; password: string; app?: Authenticator }
const sol: Pharmacist = { name: 'Sol Reyes', email: 'sol.reyes@example.nhs.uk', password: 'granite meadow lantern' };
const priya: Pharmacist = { name: 'Priya Shah', email: 'priya.shah@example.nhs.uk', password: 'thistle harbour pebble' };

async function enrolled(userId: string): Promise<Authenticator> {
  const credentialId = await beginEnrolment(deps, userId);
  const row = await findTotpCredential(deps.db, credentialId, userId);
  const secret = deps.sealer.open(row!.secret_sealed);
  await confirmEnrolment(deps, userId, credentialId, totpCode(secret, new Date(Date.now() - 30_000)));
  return new Authenticator(secret);
}

beforeAll(async () => {
  backends = await createTestBackends();
  dataDir = mkdtempSync(join(tmpdir(), 'pharmid-passkeys-admin-'));
  const port = await freePort();
  const env = {
    NODE_ENV: 'test', PORT: String(port), ISSUER: `http://localhost:${port}`, PHARMID_DATA_DIR: dataDir,
    DATABASE_URL: backends.databaseUrl, REDIS_URL: backends.redisUrl, REDIS_KEY_PREFIX: backends.redisKeyPrefix,
    PHARMID_SECRET_KEY: randomBytes(32).toString('base64'), COOKIE_KEYS: randomBytes(24).toString('base64url'), LOG_LEVEL: 'warn',
  };
  [pharmid, chromium] = await Promise.all([startPharmidProcess(env, port), launchChromium()]);
  const config = loadConfig(env);
  opened = await openBackends(config);
  deps = buildDeps(config, opened.pool, opened.store);
  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  await addSite(deps, cli, { ods: 'FB456', name: 'Riverside Pharmacy' });
  for (const p of [sol, priya]) {
    const { user } = await createUser(deps, cli, { email: p.email, name: p.name, site: 'FA123', password: p.password });
    p.id = user.id;
    p.app = await enrolled(user.id);
  }
  await grantOrgRole(deps, { principal: OPERATOR }, { email: sol.email, role: 'superadmin', sites: [] });
  // Priya's keys, registered and (one of them) used as a browser and a key would.
  const keys = new SoftAuthenticator(new URL(config.issuer).origin);
  const who = { id: priya.id!, email: priya.email, name: priya.name };
  for (const [name, synced] of [['Blue key', false], ['Phone', true]] as const) {
    const { response } = keys.create(await registrationOptions(deps, who, `test:${name}`), { synced });
    await addPasskey(deps, who, `test:${name}`, response, name, { actor: cli, ip: '127.0.0.1', by: 'a test' });
  }
  const options = await authenticationOptions(deps, 'test:use', priya.id);
  await provePasskey(deps, 'test:use', keys.get(options, keys.keys[0]!), { userId: priya.id, ip: '127.0.0.1' });
});

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close().catch(() => {})));
  await chromium?.close();
  await pharmid?.stop();
  await opened?.close();
  await backends?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function follow(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

async function lookBoth(page: Page, name: string): Promise<void> {
  await checks.look(page, name);
  await page.setViewportSize({ width: 375, height: 800 });
  await checks.look(page, `${name}-375`);
  await page.setViewportSize({ width: 1280, height: 900 });
}

const heading = async (page: Page) => (await page.textContent('h1'))?.replace(/\s+/g, ' ').trim();
const STEP_BUTTON = 'form[action*="/interaction/"] button[type="submit"]';
let admin: Page;

test("Sol sees Priya's factors: her app, each key by name with its last use, and her recovery codes", async () => {
  const context = await chromium.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  admin = await context.newPage();
  await admin.goto(`${pharmid.url}/admin`);
  await admin.fill('#email', sol.email);
  await admin.fill('#password', sol.password);
  await follow(admin, STEP_BUTTON);
  await admin.fill('#code', sol.app!.code());
  await follow(admin, STEP_BUTTON);
  expect(await heading(admin)).toBe('Administration');

  await admin.goto(`${pharmid.url}/admin/people/${priya.id}`);
  expect(await admin.textContent('#person-enrolled')).toMatch(/^Set up \d/);
  const keys = (await admin.textContent('#person-passkeys'))!.replace(/\s+/g, ' ');
  expect(keys).toMatch(/Blue key \(security key or passkey on one device\) Added [^.]+\. Last used: \d/);
  expect(keys).toMatch(/Phone \(passkey synced between devices\) Added [^.]+\. Last used: Not used yet/);
  expect(await admin.textContent('#person-recovery-codes')).toBe('10 of 10 left');
  await lookBoth(admin, 'passkeys-admin-person');
});

test('the reset says the keys stop working too, and takes them away', async () => {
  await follow(admin, '#reset-mfa-link');
  expect(await heading(admin)).toBe("Reset Priya Shah's authenticator?");
  expect(await admin.textContent('#what-happens')).toContain('any passkeys or security keys');
  await lookBoth(admin, 'passkeys-admin-confirm-reset');
  await follow(admin, '#confirm-form button');
  expect(await heading(admin)).toBe('Priya Shah will set up a new authenticator');
  expect(await listPasskeys(deps, priya.id!)).toEqual([]);
  await admin.goto(`${pharmid.url}/admin/people/${priya.id}`);
  expect((await admin.textContent('#person-passkeys'))!.trim()).toBe('None');
  await checks.look(admin, 'passkeys-admin-person-after-reset');
});

test('the rollout form asks what an enforced policy requires; a policy that is off cannot require a passkey', async () => {
  await admin.goto(`${pharmid.url}/admin/rollout`);
  expect(await admin.textContent('label[for="require"]')).toBe('Once enforced, people must use');
  await admin.selectOption('#scope', 'site');
  await admin.selectOption('#site', 'FB456');
  await admin.check('input[name="state"][value="off"]');
  await admin.selectOption('#require', 'phr');
  await follow(admin, 'form[action="/admin/rollout"] button[type="submit"]');
  // The message sits beside the select, and the choices are kept.
  expect(await admin.textContent('#require-error')).toContain('A policy that is off requires nothing');
  expect(await admin.inputValue('#require')).toBe('phr');
  await lookBoth(admin, 'passkeys-admin-rollout-refused');
});

test('no page has serious or critical accessibility problems', () => {
  expect(checks.findings).toEqual([]);
});
