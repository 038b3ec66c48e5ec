import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { freePort } from '../helpers/pharmid.js';
import { createTestBackends } from '../helpers/backends.js';
import { totpCode } from '../helpers/sign-in.js';
import { loadConfig, type Config } from '../../src/config.js';
import { buildDeps, openBackends } from '../../src/backends.js';
import type { Deps } from '../../src/domain/deps.js';
import { beginEnrolment, confirmEnrolment } from '../../src/domain/factors/authenticators.js';
import { findTotpCredential } from '../../src/db/queries/totp-credentials.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'browser');
const AXE = join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');

/** Debian's chromium, driven by playwright-core (no browser download). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does this in CI`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** A running `node dist/src/main.js` (built by `npm test`'s pretest), with its output kept for failures. */
export interface PharmidProcess { url: string; child: ChildProcess; output(): string; stop(): Promise<void> }

export async function startPharmidProcess(env: Record<string, string>, port: number): Promise<PharmidProcess> {
  if (!existsSync(join(ROOT, 'dist/src/main.js'))) throw new Error('dist/ is missing: run npm run build (npm test does it first)');
  const child = spawn(process.execPath, ['dist/src/main.js'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => { text += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { text += c.toString(); });
  const url = `http://localhost:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pharmid exited (${child.exitCode}):\n${text}`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > until) throw new Error(`pharmid did not become ready:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output: () => text,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** Authenticator codes as an app computes them, never reusing a time step a person already used. */
export class Authenticator {
  private lastStep = 0;

  constructor(readonly secret: string) {}

  static fromKey(shown: string): Authenticator {
    return new Authenticator(shown.replace(/\s+/g, ''));
  }

  private totp() {
    return new TOTP({ secret: Secret.fromBase32(this.secret), digits: 6, period: 30, algorithm: 'SHA1' });
  }

  /** The code now, marking this time step used. */
  code(): string {
    this.lastStep = Math.floor(Date.now() / 30_000);
    return this.totp().generate();
  }

  /** Milliseconds until a step later than the last used one begins. */
  waitForFreshStep(): number {
    return Math.max(0, (this.lastStep + 1) * 30_000 - Date.now() + 50);
  }
}

export interface A11yFinding { page: string; id: string; impact: string; help: string; targets: string[] }

/**
 * Every pharmid page the test shows goes through `look`: a screenshot in
 * test-artifacts/browser, and (when axe-core is installed) an axe run whose
 * serious and critical violations are kept for one assertion at the end.
 */
export class PageChecks {
  readonly findings: A11yFinding[] = [];
  readonly pages: string[] = [];
  readonly axeSource = existsSync(AXE) ? readFileSync(AXE, 'utf8') : undefined;
  private n = 0;

  constructor() {
    mkdirSync(ARTIFACTS, { recursive: true });
  }

  async look(page: Page, name: string): Promise<void> {
    this.n += 1;
    this.pages.push(name);
    await page.screenshot({ path: join(ARTIFACTS, `${String(this.n).padStart(2, '0')}-${name}.png`), fullPage: true });
    if (!this.axeSource) return;
    // Runs through the DevTools protocol, so the pages' strict CSP (no inline script) does not block it.
    await page.evaluate(this.axeSource);
    const violations = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
      const result = await axe.run(document, { resultTypes: ['violations'] });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
    });
    for (const v of violations) {
      if (v.impact === 'serious' || v.impact === 'critical') this.findings.push({ page: name, ...v });
    }
  }

  /** `look` at desktop width, then again (as `NAME-375`) at 375 px, a phone; the page is left at desktop width. */
  async lookBoth(page: Page, name: string): Promise<void> {
    await this.look(page, name);
    await page.setViewportSize({ width: 375, height: 800 });
    await this.look(page, `${name}-375`);
    await page.setViewportSize({ width: 1280, height: 900 });
  }
}

/**
 * What a browser test starts with: pharmid as a real process (its own
 * database, Redis prefix, data directory and port; no SMTP, so mail lands in
 * the data directory's outbox), Debian's chromium, and the domain on the same
 * backends for setting people up. `tab()` opens a page in a fresh browser
 * context (its own cookies); `close()` ends it all.
 */
export interface BrowserWorld {
  pharmid: PharmidProcess;
  chromium: Browser;
  config: Config;
  deps: Deps;
  dataDir: string;
  tab(options?: BrowserContextOptions): Promise<Page>;
  close(): Promise<void>;
}

export async function startBrowserWorld(name: string): Promise<BrowserWorld> {
  const backends = await createTestBackends();
  const dataDir = mkdtempSync(join(tmpdir(), `pharmid-${name}-`));
  const port = await freePort();
  const env = {
    NODE_ENV: 'test', PORT: String(port), ISSUER: `http://localhost:${port}`, PHARMID_DATA_DIR: dataDir,
    DATABASE_URL: backends.databaseUrl, REDIS_URL: backends.redisUrl, REDIS_KEY_PREFIX: backends.redisKeyPrefix,
    PHARMID_SECRET_KEY: randomBytes(32).toString('base64'), COOKIE_KEYS: randomBytes(24).toString('base64url'), LOG_LEVEL: 'warn',
  };
  const [pharmid, chromiumBrowser] = await Promise.all([startPharmidProcess(env, port), launchChromium()]);
  const config = loadConfig(env);
  const opened = await openBackends(config);
  const deps = buildDeps(config, opened.pool, opened.store);
  const contexts: BrowserContext[] = [];
  return {
    pharmid, chromium: chromiumBrowser, config, deps, dataDir,
    async tab(options) {
      const context = await chromiumBrowser.newContext(options);
      contexts.push(context);
      return context.newPage();
    },
    async close() {
      await Promise.all(contexts.map((c) => c.close().catch(() => {})));
      await chromiumBrowser.close();
      await pharmid.stop();
      await opened.close();
      await backends.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * An authenticator set up through the domain (the enrolment pages are the
 * demo test's), confirmed with the previous time step's code so that the
 * person's first code in the browser is a fresh one.
 */
export async function enrolledApp(deps: Deps, userId: string): Promise<{ app: Authenticator; recoveryCodes: string[] }> {
  const credentialId = await beginEnrolment(deps, userId);
  const row = await findTotpCredential(deps.db, credentialId, userId);
  const secret = deps.sealer.open(row!.secret_sealed);
  const recoveryCodes = await confirmEnrolment(deps, userId, credentialId, totpCode(secret, new Date(Date.now() - 30_000)));
  return { app: new Authenticator(secret), recoveryCodes };
}

/** Clicks and waits for the page it leads to (through any redirects). */
export async function follow(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

/** The page's h1, spaces collapsed. */
export const heading = async (page: Page) => (await page.textContent('h1'))?.replace(/\s+/g, ' ').trim();

/** The submit button of a sign-in step's form. */
export const STEP_BUTTON = 'form[action*="/interaction/"] button[type="submit"]';
