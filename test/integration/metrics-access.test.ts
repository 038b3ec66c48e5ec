/**
 * /metrics is not on the public port in production: it is served on its own
 * port (METRICS_PORT) or behind a bearer token (METRICS_TOKEN), and with
 * neither it is not served at all.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { freePort, startTestPharmid } from '../helpers/pharmid.js';
import { loadConfig } from '../../src/config.js';

const PRODUCTION = { NODE_ENV: 'production', TRUST_PROXY: '1' };

test('in production with neither setting, the public port does not serve /metrics', async () => {
  const pharmid = await startTestPharmid(PRODUCTION);
  try {
    await request(pharmid.url).get('/metrics').expect(404);
    await request(pharmid.url).get('/healthz').expect(200);
  } finally {
    await pharmid.stop();
  }
});

test('with METRICS_PORT, /metrics is served on that port and not on the public one', async () => {
  const metricsPort = await freePort();
  const pharmid = await startTestPharmid({ ...PRODUCTION, METRICS_PORT: String(metricsPort) });
  try {
    await request(pharmid.url).get('/metrics').expect(404);
    await request(pharmid.url).get('/healthz').expect(200);
    const res = await request(`http://127.0.0.1:${metricsPort}`).get('/metrics').expect(200);
    expect(res.text).toContain('pharmid_http_request_duration_seconds');
    await request(`http://127.0.0.1:${metricsPort}`).get('/healthz').expect(404);
  } finally {
    await pharmid.stop();
  }
  // Stopping pharmid frees the metrics port too.
  await expect(request(`http://127.0.0.1:${metricsPort}`).get('/metrics')).rejects.toThrow();
});

test('with METRICS_TOKEN, the public port serves /metrics only to that bearer token', async () => {
  const token = randomBytes(24).toString('hex');
  const pharmid = await startTestPharmid({ ...PRODUCTION, METRICS_TOKEN: token });
  try {
    const none = await request(pharmid.url).get('/metrics').expect(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    await request(pharmid.url).get('/metrics').set('Authorization', `Bearer ${token}x`).expect(401);
    await request(pharmid.url).get('/metrics').set('Authorization', `Basic ${token}`).expect(401);
    const res = await request(pharmid.url).get('/metrics').set('Authorization', `Bearer ${token}`).expect(200);
    expect(res.text).toContain('pharmid_http_request_duration_seconds');
  } finally {
    await pharmid.stop();
  }
});

test('a METRICS_TOKEN too short to be a secret is refused at start', async () => {
  const secrets = { PHARMID_SECRET_KEY: randomBytes(32).toString('base64'), COOKIE_KEYS: 'a-cookie-key', ISSUER: 'https://id.example.org' };
  expect(() => loadConfig({ ...PRODUCTION, ...secrets, METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: must be at least 16 characters/);
});
