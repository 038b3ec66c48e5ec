import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { makePerson, makeSite } from '../../helpers/factories.js';
import { apiToken, consoleBrowser, staff } from '../../integration/admin-support.js';

/**
 * Round 4, bad bodies to the admin API's new routes (PATCH /people/:id,
 * POST /people/:id/activation-code, POST /import): each is a 4xx JSON error
 * that says what to send, never a 500, and nothing is written.
 */
let p: TestPharmid;
let token: string;
let site: { ods_code: string };
beforeAll(async () => {
  p = await startTestPharmid();
  site = await makeSite(p.deps, 'Hilltop Pharmacy');
  const admin = await staff(p, site.ods_code, 'site-admin', 'Bea Admin');
  token = await apiToken(p, (await consoleBrowser(p, admin)).browser, admin);
}, 60_000);
afterAll(() => p.stop());

/** The bytes as they are (supertest would write a Buffer out as JSON). */
async function raw(method: 'post' | 'patch', path: string, type: string, body: string | Buffer) {
  const res = await fetch(`${p.url}/api/admin${path}`, { method: method.toUpperCase(), headers: { Authorization: `Bearer ${token}`, 'Content-Type': type }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type')?.split(';')[0], body: JSON.parse(text) as Record<string, unknown> };
}

test('a JSON body that is not an object, or not UTF-8, is a 400 that says what to send; nothing is changed', async () => {
  const person = await makePerson(p.deps, { site: site.ods_code, activate: true, name: 'Ann Other' });
  const answers: Record<string, unknown> = {};
  const tries: [string, 'post' | 'patch', string, string | Buffer][] = [
    ['array', 'patch', `/people/${person.id}`, '[1,2]'],
    ['array to activation-code', 'post', `/people/${person.id}/activation-code`, '[{"x":1}]'],
    ['number', 'patch', `/people/${person.id}`, '42'],
    ['not UTF-8', 'patch', `/people/${person.id}`, Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ['broken JSON', 'patch', `/people/${person.id}`, '{"name": "Ann'],
    ['duplicate keys', 'patch', `/people/${person.id}`, '{"name": "Ann Other", "name": {"x": 1}}'],
  ];
  for (const [what, method, path, body] of tries) {
    const res = await raw(method, path, 'application/json', body);
    answers[what] = { status: res.status, json: res.type === 'application/json', error: res.body.error, says: String(res.body.error_description ?? '') };
  }
  for (const [what, a] of Object.entries(answers)) {
    expect({ what, ...(a as object) }).toEqual({ what, status: 400, json: true, error: expect.stringMatching(/^(invalid_input|bad_request)$/), says: expect.not.stringMatching(/undefined|^$/) });
  }
  const { rows: [row] } = await p.deps.db.query('SELECT name, email FROM users WHERE id = $1', [person.id]);
  expect(row).toEqual({ name: 'Ann Other', email: person.email });
  const codes = (await p.deps.db.query("SELECT count(*)::int AS n FROM audit_events WHERE action = 'user.activation-code' AND target_user = $1", [person.id])).rows[0].n;
  expect(codes).toBe(0);
});
