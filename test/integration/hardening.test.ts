import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { createTestBackends } from '../helpers/backends.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo, stepOf, totpCode, type Person } from '../helpers/sign-in.js';
import { createUser } from '../../src/domain/users.js';
import { findPasswordHash } from '../../src/db/queries/passwords.js';

describe('headers and cookies', () => {
  let p: TestPharmid;
  beforeAll(async () => { p = await startTestPharmid(); });
  afterAll(() => p.stop());

  test('pages forbid framing and anything from elsewhere', async () => {
    const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
    const browser = new Browser(p.url);
    const page = await browser.open((await portal.authorizationRequest()).url);
    const csp = page.headers['content-security-policy']!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:\/\//);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('same-origin');
    expect(page.headers['cache-control']).toContain('no-store');
    // Nothing on the page comes from another origin.
    expect(page.text).not.toMatch(/(src|href)="https?:\/\/(?!localhost)/);
  });

  test('in production every cookie is Secure and HttpOnly', async () => {
    const backends = await createTestBackends();
    // The test plays the one TLS-terminating proxy in front of pharmid (it sends X-Forwarded-Proto).
    const prod = await startTestPharmid({ NODE_ENV: 'production', ISSUER: 'https://pharmid.example', TRUST_PROXY: '1' }, {
      backends, secretKey: randomBytes(32).toString('base64'), cookieKey: randomBytes(24).toString('base64url'),
    });
    try {
      const client = await makeClient(prod.deps, { redirectUris: ['https://portal.example/callback'], postLogoutRedirectUris: [] });
      const res = await new Browser(prod.url).agent
        .get(`/auth?client_id=${client.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://portal.example/callback')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`)
        .set('X-Forwarded-Proto', 'https').redirects(0);
      const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
      expect(res.status).toBe(303);
      expect(cookies.length).toBeGreaterThan(0);
      for (const c of cookies) {
        expect(c).toMatch(/;\s*secure/i);
        expect(c).toMatch(/;\s*httponly/i);
        expect(c).toMatch(/;\s*samesite=(lax|strict|none)/i);
      }
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    } finally {
      await prod.stop();
      await backends.drop();
    }
  });
});

describe('passwords', () => {
  test('a hash made with older argon2 parameters is upgraded at the next successful sign-in', async () => {
    const p = await startTestPharmid();
    try {
      const person = await makePerson(p.deps);
      const weak = await argon2.hash(person.password, { type: argon2.argon2id, memoryCost: 8192, timeCost: 1, parallelism: 1 });
      await p.deps.db.query('UPDATE passwords SET hash = $2 WHERE user_id = $1', [person.id, weak]);
      const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
      const browser = new Browser(p.url);
      const page = await browser.open((await portal.authorizationRequest()).url);
      await browser.submit(formAction(page.text, '/interaction/')!, { email: person.email, password: person.password });
      const upgraded = (await findPasswordHash(p.deps.db, person.id))!;
      expect(upgraded).not.toBe(weak);
      expect(upgraded).toContain(`m=${p.config.argon2.memoryKiB},p=${p.config.argon2.parallelism},t=${p.config.argon2.timeCost}`);
      expect(await argon2.verify(upgraded, person.password)).toBe(true);
    } finally {
      await p.stop();
    }
  });

  test('common passwords and ones containing the email name are refused', async () => {
    const p = await startTestPharmid();
    try {
      const site = (await p.deps.db.query("INSERT INTO sites (ods_code, name) VALUES ('HPW1', 'x') RETURNING ods_code")).rows[0].ods_code;
      for (const password of ['password1', 'qwertyuiop', 'jane.smith-2024!']) {
        await expect(createUser(p.deps, { kind: 'cli' }, { email: 'jane.smith@example.nhs.uk', name: 'Jane', site, password }))
          .rejects.toThrow(/common|email name/);
      }
      expect((await p.deps.db.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(0);
    } finally {
      await p.stop();
    }
  });
});

describe('single use under a race between two processes', () => {
  let a: TestPharmid;
  let b: TestPharmid;
  beforeAll(async () => {
    a = await startTestPharmid();
    b = await startTestPharmid({}, { backends: a.backends_, secretKey: a.config.secretKey.toString('base64'), cookieKey: a.config.cookieKeys[0]! });
  });
  afterAll(async () => { await b.close(); await a.stop(); });

  /** Two browsers of the same person, each at the code page, one on each process. */
  async function twoAtCodeStep(person: Person) {
    const out = [];
    for (const p of [a, b]) {
      const portal = await Portal.connect(p.config.issuer, await makeClient(a.deps));
      const browser = new Browser(p.url);
      const page = await browser.open((await portal.authorizationRequest()).url);
      const res = await browser.submit(formAction(page.text, '/interaction/')!, { email: person.email, password: person.password });
      expect(stepOf(res.text)).toBe('otp');
      out.push({ browser, action: formAction(res.text, '/interaction/')! });
    }
    return out;
  }

  test('one authenticator code, sent to both at once: exactly one sign-in gets through', async () => {
    const person = await makePerson(a.deps);
    await signInTo(await Portal.connect(a.config.issuer, await makeClient(a.deps)), new Browser(a.url), person, a.clock);
    a.clock.advance(30);
    b.clock.advance(30);
    const [x, y] = await twoAtCodeStep(person);
    const code = totpCode(person.totpSecret!, a.clock.now());
    const results = await Promise.all([x!.browser.submit(x!.action, { code }), y!.browser.submit(y!.action, { code })]);
    expect(results.map((r) => r.status).sort()).toEqual([303, 401]);
  });

  test('one recovery code, sent to both at once: exactly one gets through', async () => {
    const person = await makePerson(a.deps);
    await signInTo(await Portal.connect(a.config.issuer, await makeClient(a.deps)), new Browser(a.url), person, a.clock);
    const [x, y] = await twoAtCodeStep(person);
    for (const t of [x!, y!]) await t.browser.open(t.action.replace(/otp$/, 'recovery'));
    const code = person.recoveryCodes![0]!;
    const results = await Promise.all([
      x!.browser.submit(x!.action.replace(/otp$/, 'recovery'), { recovery_code: code }),
      y!.browser.submit(y!.action.replace(/otp$/, 'recovery'), { recovery_code: code }),
    ]);
    const passed = results.filter((r) => stepOf(r.text) === 'after-recovery');
    expect(passed).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(1);
  });

  test('one activation code, used by two at once: exactly one activates', async () => {
    const site = (await a.deps.db.query("INSERT INTO sites (ods_code, name) VALUES ('RACE1', 'Race') RETURNING ods_code")).rows[0].ods_code;
    const email = `race.${randomBytes(3).toString('hex')}@example.nhs.uk`;
    const { activationCode } = await createUser(a.deps, { kind: 'cli' }, { email, name: 'Ray Smith', site });
    const tries = [];
    for (const p of [a, b]) {
      const portal = await Portal.connect(p.config.issuer, await makeClient(a.deps));
      const browser = new Browser(p.url);
      const page = await browser.open((await portal.authorizationRequest()).url);
      const activate = await browser.open(formAction(page.text, '/interaction/')!.replace(/password$/, 'activate'));
      tries.push({ browser, action: formAction(activate.text, '/interaction/')! });
    }
    const results = await Promise.all(tries.map((t, i) => t.browser.submit(t.action, {
      email, activation_code: activationCode!, new_password: `a fresh long phrase ${i}`,
    })));
    expect(results.filter((r) => stepOf(r.text) === 'enrol')).toHaveLength(1);
    expect(results.filter((r) => r.status === 400)).toHaveLength(1);
  });
});
