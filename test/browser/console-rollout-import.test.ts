/**
 * The console's bulk work and the rollout, as people meet them in a real
 * browser (Debian's chromium, driven by playwright-core), against pharmid as
 * a real process with no SMTP (mail lands in its outbox folder).
 *
 * The site administrator of one pharmacy adds three new starters from a
 * spreadsheet (a dry run first, which catches a shared mailbox), sends two of
 * them activation codes in one go, and reads the audit trail. A commissioner
 * announces MFA for the pharmacy, and a superadmin sets a grace period for
 * everyone. Every page is shot at desktop width and at 375 px, and checked
 * with axe.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import type { Page } from 'playwright-core';
import type { Deps } from '../../src/domain/deps.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser } from '../../src/domain/users.js';
import { grantOrgRole } from '../../src/domain/org-roles.js';
import { OPERATOR } from '../../src/domain/authorization.js';
import {
  PageChecks, enrolledApp, follow, heading, startBrowserWorld, type Authenticator, type BrowserWorld, type PharmidProcess,
} from './support.js';

jest.setTimeout(180_000);

let world: BrowserWorld;
let pharmid: PharmidProcess;
let deps: Deps;
let dataDir: string;
const checks = new PageChecks();

const cli = { kind: 'cli' } as const;
const sam = { name: 'Sam Taylor', email: 'sam.taylor@example.nhs.uk', password: 'kettle orchard lantern' };
const chris = { name: 'Chris Morgan', email: 'chris.morgan@example.nhs.uk', password: 'copper meadow tunnel' };
const sue = { name: 'Sue Patel', email: 'sue.patel@example.nhs.uk', password: 'violet harbour engine' };
const apps = new Map<string, Authenticator>();

beforeAll(async () => {
  world = await startBrowserWorld('console-b');
  ({ pharmid, deps, dataDir } = world);

  await addSite(deps, cli, { ods: 'FA123', name: 'High Street Pharmacy' });
  for (const [who, role] of [[sam, 'site-admin'], [chris, 'member'], [sue, 'member']] as const) {
    const u = await createUser(deps, cli, { email: who.email, name: who.name, site: 'FA123', role, password: who.password });
    apps.set(who.email, (await enrolledApp(deps, u.user.id)).app);
  }
  await createUser(deps, cli, { email: 'ravi.kumar@example.nhs.uk', name: 'Ravi Kumar', site: 'FA123', password: 'plain biscuit ladder' });
  await grantOrgRole(deps, { principal: OPERATOR }, { email: chris.email, role: 'commissioner', sites: ['FA123'] });
  await grantOrgRole(deps, { principal: OPERATOR }, { email: sue.email, role: 'superadmin', sites: [] });
});

afterAll(async () => {
  await world?.close();
});

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };

const tab = () => world.tab({ viewport: DESKTOP });

/** A screenshot (and an axe run) at desktop width and at 375 px; nothing on the phone may be wider than the screen. */
async function lookBoth(page: Page, name: string): Promise<void> {
  await checks.look(page, `${name}-desktop`);
  await page.setViewportSize(PHONE);
  await checks.look(page, `${name}-375`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  expect({ page: name, scrollWidth: overflow }).toEqual({ page: name, scrollWidth: PHONE.width });
  await page.setViewportSize(DESKTOP);
}

const visibleText = (page: Page) => page.locator('body').innerText();

function expectPlain(text: string): void {
  expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
  expect(text).not.toMatch(/[{[]\s*"\w+"\s*:/);
  expect(text).not.toMatch(/undefined|null|\[object Object\]|user\.[a-z-]+|--[a-z]/);
}

function outboxTo(email: string): string[] {
  const dir = join(dataDir, 'outbox');
  let files: string[] = [];
  try { files = readdirSync(dir).filter((f) => f.endsWith('.eml')); } catch { /* nothing sent yet */ }
  return files.map((f) => readFileSync(join(dir, f), 'utf8')).filter((raw) => new RegExp(`^To: .*${email.replace(/\./g, '\\.')}`, 'mi').test(raw));
}

async function signIn(page: Page, who: { email: string; password: string }, path: string): Promise<void> {
  await page.goto(`${pharmid.url}${path}`);
  await page.fill('#email', who.email);
  await page.fill('#password', who.password);
  await follow(page, 'form[action*="/interaction/"] button[type="submit"]');
  await page.fill('#code', apps.get(who.email)!.code());
  await follow(page, 'form[action*="/interaction/"] button[type="submit"]');
  expect(page.url()).toBe(`${pharmid.url}${path}`);
}

let samTab: Page;
const starters: [string, string][] = [
  ['nina.new@example.nhs.uk', 'Nina New'], ['omar.owusu@example.nhs.uk', 'Omar Owusu'], ['pat.price@example.nhs.uk', 'Pat Price'],
];

test('a site administrator checks a spreadsheet of new starters: the shared mailbox is caught, nobody is added', async () => {
  samTab = await tab();
  const page = samTab;
  await signIn(page, sam, '/admin');
  await follow(page, 'a[href="/admin/sites/FA123"]');
  await lookBoth(page, 'b-site');
  await follow(page, 'a[href="/admin/import"]');
  expect(await heading(page)).toBe('Add people from a spreadsheet');
  await lookBoth(page, 'b-import-form');

  const withShared = `email,name,site,role\n${starters.map(([e, n]) => `${e},${n},FA123,member`).join('\n')}\npharmacy@highstreet.example,The Counter,FA123,member\n`;
  await page.setInputFiles('#file', { name: 'starters.csv', mimeType: 'text/csv', buffer: Buffer.from(withShared) });
  await follow(page, 'form[action="/admin/import"] button[type="submit"]');
  expect(await heading(page)).toBe('Fix these rows first');
  expect(await page.textContent('#import-problems')).toContain('pharmacy@highstreet.example');
  await lookBoth(page, 'b-import-problems');
  expect(await deps.db.query("SELECT 1 FROM users WHERE email = 'nina.new@example.nhs.uk'").then((r) => r.rowCount)).toBe(0);
});

test('the corrected file is checked, then added as checked: each code shown once', async () => {
  const page = samTab;
  await follow(page, 'a[href="/admin/import"]');
  const fixed = `email,name,site,role\n${starters.map(([e, n]) => `${e},${n},FA123,member`).join('\n')}\n`;
  await page.fill('#csv', fixed);
  await follow(page, 'form[action="/admin/import"] button[type="submit"]');
  expect(await heading(page)).toBe('Check the people to add');
  expect(await page.textContent('#import-people')).toContain('Will be added to FA123 as a member');
  await lookBoth(page, 'b-import-check');
  await follow(page, '#import-apply');
  expect((await page.textContent('#import-done'))?.trim()).toBe('3 people added');
  expect(await page.locator('#imported .activation-code').count()).toBe(3);
  await lookBoth(page, 'b-import-done');
  expectPlain(await visibleText(page));
});

test('activation codes go to two starters in one go, after a page that names them', async () => {
  const page = samTab;
  await page.goto(`${pharmid.url}/admin/sites/FA123`);
  const ids = await deps.db.query<{ id: string; email: string }>('SELECT id, email FROM users WHERE email = ANY($1)', [[starters[0]![0], starters[1]![0], 'ravi.kumar@example.nhs.uk']]);
  for (const row of ids.rows) await page.check(`#choose-${row.id}`);
  await lookBoth(page, 'b-site-ticked');
  await follow(page, '#bulk-send-codes');
  expect(await heading(page)).toBe('Send a new activation code to these 2 people?');
  expect(await page.textContent('#bulk-skipped')).toContain('Ravi Kumar');
  await lookBoth(page, 'b-bulk-confirm');
  await follow(page, '#bulk-confirm');
  expect(await heading(page)).toBe('Activation codes sent to 2 people');
  await lookBoth(page, 'b-bulk-done');
  expect(outboxTo(starters[0]![0]).some((m) => /Subject: Your pharmid account/.test(m))).toBe(true);
  expect(outboxTo('ravi.kumar@example.nhs.uk')).toHaveLength(0);
});

test('the audit trail reads in plain words, and filters by a list', async () => {
  const page = samTab;
  await page.goto(`${pharmid.url}/admin/sites/FA123/audit`);
  const text = await visibleText(page);
  expect(text).toContain('Sam Taylor sent Nina New a new activation code by email');
  expect(text).toContain('Sam Taylor added Pat Price to High Street Pharmacy as a member (from a file)');
  expect(text).toContain('Sam Taylor signed in to pharmid');
  expectPlain(text);
  await lookBoth(page, 'b-audit');
  await page.selectOption('#action', 'user.activation-code');
  await follow(page, '#audit-filters button[type="submit"]');
  expect(await page.locator('#audit tbody tr').count()).toBe(2);
  await lookBoth(page, 'b-audit-filtered');
});

test('a commissioner announces MFA for the pharmacy: a past date is refused in plain words, a future one saved', async () => {
  const page = await tab();
  await signIn(page, chris, '/admin/rollout');
  await lookBoth(page, 'b-rollout-commissioner');
  await page.selectOption('#site', 'FA123');
  await page.check('#state-announced');
  await page.fill('#enforce_on', '2020-01-01');
  await follow(page, 'form[action="/admin/rollout"] button[type="submit"]');
  const refused = (await page.textContent('.nhsuk-error-summary'))!.replace(/\s+/g, ' ');
  expect(refused).toContain('gives nobody notice');
  expect(refused).not.toMatch(/--[a-z]/);
  await lookBoth(page, 'b-rollout-past-date');
  const later = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
  await page.fill('#enforce_on', later);
  await follow(page, 'form[action="/admin/rollout"] button[type="submit"]');
  expect(await page.textContent('#done')).toContain('The policy was saved');
  expect(await page.textContent('#policies')).toContain('High Street Pharmacy (FA123)');
  await lookBoth(page, 'b-rollout-saved-site');
});

test('a superadmin sets a grace period for everyone from the console', async () => {
  const page = await tab();
  await signIn(page, sue, '/admin/rollout');
  await page.selectOption('#scope', 'global');
  await page.check('#state-grace');
  await page.fill('#enforce_on', new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10));
  await page.fill('#max_skips', '2');
  await follow(page, 'form[action="/admin/rollout"] button[type="submit"]');
  expect(await page.textContent('#done')).toContain('The policy was saved');
  expect(await page.textContent('#policies')).toContain('Everyone');
  await lookBoth(page, 'b-rollout-saved-global');
  expectPlain(await visibleText(page));
  // The superadmin's other tables, on a phone too.
  for (const [path, name] of [['/admin', 'b-home'], ['/admin/people?q=new', 'b-search'], ['/admin/portals', 'b-portals'], ['/admin/outbox', 'b-outbox']] as const) {
    await page.goto(`${pharmid.url}${path}`);
    await lookBoth(page, name);
  }
});

test('no serious or critical accessibility findings on any page', () => {
  expect(checks.findings).toEqual([]);
});
