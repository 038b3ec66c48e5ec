import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startTestPharmid, freePort, type TestPharmid } from '../helpers/pharmid.js';
import { hostPort } from '../helpers/tcp-proxy.js';
import { TEST_REDIS_URL } from '../helpers/backends.js';
import { Browser } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo } from '../helpers/sign-in.js';
import { parseSentinelUrl } from '../../src/store/redis-store.js';

/** pharmid finds its Redis through a real Sentinel (redis-server --sentinel) watching the test Redis. */
let sentinel: ChildProcess;
let dir: string;
let port: number;
let p: TestPharmid;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pharmid-sentinel-'));
  port = await freePort();
  const redis = hostPort(TEST_REDIS_URL);
  writeFileSync(join(dir, 'sentinel.conf'), [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor pharmid-test ${redis.host} ${redis.port} 1`,
    'sentinel down-after-milliseconds pharmid-test 60000',
  ].join('\n'));
  sentinel = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], { stdio: 'ignore' });
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100 });
  for (let i = 0; i < 50; i += 1) {
    const answer = await probe.call('SENTINEL', 'get-master-addr-by-name', 'pharmid-test').catch(() => undefined);
    if (Array.isArray(answer)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  probe.disconnect();
  p = await startTestPharmid({ REDIS_URL: `redis+sentinel://127.0.0.1:${port}/pharmid-test` });
});

afterAll(async () => {
  await p?.stop();
  sentinel?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

test('a whole sign-in with Redis found through Sentinel', async () => {
  const ready = await new Browser(p.url).agent.get('/readyz');
  expect(ready.body).toMatchObject({ status: 'ready', redis: 'ok' });
  const person = await makePerson(p.deps);
  const portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
  const { claims } = await signInTo(portal, new Browser(p.url), person, p.clock);
  expect(claims).toMatchObject({ sub: person.id, acr: 'mfa' });
  // The keys landed in the Redis the Sentinel points at, under this test's prefix.
  const direct = new Redis(TEST_REDIS_URL);
  expect((await direct.keys(`${p.config.redisKeyPrefix}oidc:Session:*`)).length).toBeGreaterThan(0);
  direct.disconnect();
});

test('sentinel URLs: hosts, master name, password', () => {
  expect(parseSentinelUrl('redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2/main')).toEqual({
    sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }], name: 'main', password: 's3cret',
  });
  expect(parseSentinelUrl('redis://127.0.0.1:6379')).toBeUndefined();
});
