import { randomBytes } from 'node:crypto';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { createTestBackends, type TestBackends } from '../helpers/backends.js';
import { TcpProxy, hostPort, withPort } from '../helpers/tcp-proxy.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo, stepOf, totpCode } from '../helpers/sign-in.js';

async function eventually<T>(check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('backends going away and coming back', () => {
  let backends: TestBackends;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let p: TestPharmid;
  let portal: Portal;

  beforeAll(async () => {
    backends = await createTestBackends();
    pgProxy = await new TcpProxy([hostPort(backends.databaseUrl)]).start();
    redisProxy = await new TcpProxy([hostPort(backends.redisUrl)]).start();
    p = await startTestPharmid({}, {
      backends: { ...backends, databaseUrl: withPort(backends.databaseUrl, pgProxy.port), redisUrl: withPort(backends.redisUrl, redisProxy.port) },
      secretKey: randomBytes(32).toString('base64'),
      cookieKey: randomBytes(24).toString('base64url'),
    });
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  });
  afterAll(async () => {
    await p.stop();
    await pgProxy.stop();
    await redisProxy.stop();
    await backends.drop();
  });

  test.each([
    ['Redis', () => redisProxy],
    ['Postgres', () => pgProxy],
  ])('%s stops: readiness fails within a second, sign-in says "temporarily unavailable" (503); it recovers by itself', async (_name, proxy) => {
    const browser = new Browser(p.url);
    await proxy().cut();

    const started = Date.now();
    const ready = await browser.agent.get('/readyz');
    expect(ready.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(1_500);

    const req = await portal.authorizationRequest();
    const page = await browser.agent.get(new URL(req.url).pathname + new URL(req.url).search).redirects(0);
    expect(page.status).toBe(503);
    expect(page.text).toContain('temporarily unavailable');
    expect(page.text).not.toMatch(/ECONNREFUSED|at .*\.(ts|js):\d+/);

    await proxy().restore();
    await eventually(async () => ((await browser.agent.get('/readyz')).status === 200 ? true : undefined));
    const person = await makePerson(p.deps);
    const { claims } = await signInTo(portal, new Browser(p.url), person, p.clock);
    expect(claims.sub).toBe(person.id);
  });
});

describe('two processes behind one address', () => {
  test('a sign-in started on one process finishes on the other, and SSO works across them', async () => {
    const backends = await createTestBackends();
    const lb = await new TcpProxy([]).start();
    const issuer = `http://localhost:${lb.port}`;
    const shared = { backends, secretKey: randomBytes(32).toString('base64'), cookieKey: randomBytes(24).toString('base64url') };
    const a = await startTestPharmid({ ISSUER: issuer }, shared);
    const b = await startTestPharmid({ ISSUER: issuer }, shared);
    try {
      // Alternate connections between the two processes, as a load balancer would.
      const portOf = (t: TestPharmid) => (t.server.address() as { port: number }).port;
      lb.targets = [{ host: '127.0.0.1', port: portOf(a) }, { host: '127.0.0.1', port: portOf(b) }];
      const person = await makePerson(a.deps);
      const first = await makeClient(a.deps);
      const second = await makeClient(a.deps, { name: 'PharmRefer' });
      const browser = new Browser(issuer);
      const p1 = await Portal.connect(issuer, first);
      const { claims } = await signInTo(p1, browser, person, a.clock);
      expect(claims.acr).toBe('mfa');
      const p2 = await Portal.connect(issuer, second);
      const sso = await signInTo(p2, browser, person, a.clock);
      expect(sso.steps).toEqual([]);
      expect(sso.claims.sub).toBe(person.id);

      // A process dies between the password and the code: the person carries on with the other.
      a.clock.advance(30);
      const browser2 = new Browser(issuer);
      const req = await p1.authorizationRequest();
      const page = await browser2.open(req.url);
      const codePage = await browser2.submit(formAction(page.text, '/interaction/')!, { email: person.email, password: person.password });
      expect(stepOf(codePage.text)).toBe('otp');
      await a.close();
      lb.targets = [{ host: '127.0.0.1', port: portOf(b) }];
      const done = await browser2.submit(formAction(codePage.text, '/interaction/')!, { code: totpCode(person.totpSecret!, a.clock.now()) });
      expect(done.status).toBe(303);
      const tokens = await p1.exchange(done.headers.location!, req);
      expect(tokens.claims()!.sub).toBe(person.id);
    } finally {
      await b.close();
      await a.close().catch(() => {});
      await lb.stop();
      await backends.drop();
    }
  });
});
