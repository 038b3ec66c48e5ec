/**
 * Passkeys as an administrator meets them, in a real browser (Debian's
 * chromium through playwright-core) against pharmid as a real process: a
 * person's factors on their page (the app, each key by name with its last
 * use, recovery codes left), the reset that says the keys stop working too,
 * and the rollout form's choice of what an enforced policy requires. Each
 * page is screenshotted at desktop width and at 375 px into
 * test-artifacts/browser and checked with axe-core.
 */
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import type { Deps } from '../../src/domain/deps.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { grantOrgRole } from '../../src/domain/org-roles.js';
import { OPERATOR } from '../../src/domain/authorization.js';
import { addPasskey, authenticationOptions, provePasskey, registrationOptions } from '../../src/domain/factors/passkey-ceremonies.js';
import { listPasskeys } from '../../src/domain/factors/passkeys.js';
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
const sol: Pharmacist = { name: 'Sol Reyes', email: 'sol.reyes@example.nhs.uk', password: 'granite meadow lantern' };
const priya: Pharmacist = { name: 'Priya Shah', email: 'priya.shah@example.nhs.uk', password: 'thistle harbour pebble' };

beforeAll(async () => {
  world = await startBrowserWorld('passkeys-admin');
  ({ pharmid, deps } = world);
  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  await addSite(deps, cli, { ods: 'FB456', name: 'Riverside Pharmacy' });
  for (const p of [sol, priya]) {
    const { user } = await createUser(deps, cli, { email: p.email, name: p.name, site: 'FA123', password: p.password });
    p.id = user.id;
    p.app = (await enrolledApp(deps, user.id)).app;
  }
  await grantOrgRole(deps, { principal: OPERATOR }, { email: sol.email, role: 'superadmin', sites: [] });
  // Priya's keys, registered and (one of them) used as a browser and a key would.
  const keys = new SoftAuthenticator(new URL(world.config.issuer).origin);
  const who = { id: priya.id!, email: priya.email, name: priya.name };
  for (const [name, synced] of [['Blue key', false], ['Phone', true]] as const) {
    const { response } = keys.create(await registrationOptions(deps, who, `test:${name}`), { synced });
    await addPasskey(deps, who, `test:${name}`, response, name, { actor: cli, ip: '127.0.0.1', by: 'a test' });
  }
  const options = await authenticationOptions(deps, 'test:use', priya.id);
  await provePasskey(deps, 'test:use', keys.get(options, keys.keys[0]!), { userId: priya.id, ip: '127.0.0.1' });
});

afterAll(async () => {
  await world?.close();
});

let admin: Page;

test("Sol sees Priya's factors: her app, each key by name with its last use, and her recovery codes", async () => {
  admin = await world.tab({ viewport: { width: 1280, height: 900 } });
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
  await checks.lookBoth(admin, 'passkeys-admin-person');
});

test('the reset says the keys stop working too, and takes them away', async () => {
  await follow(admin, '#reset-mfa-link');
  expect(await heading(admin)).toBe("Reset Priya Shah's authenticator?");
  expect(await admin.textContent('#what-happens')).toContain('any passkeys or security keys');
  await checks.lookBoth(admin, 'passkeys-admin-confirm-reset');
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
  await checks.lookBoth(admin, 'passkeys-admin-rollout-refused');
});

test('no page has serious or critical accessibility problems', () => {
  expect(checks.findings).toEqual([]);
});
