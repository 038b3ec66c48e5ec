import request from 'supertest';
import pg from 'pg';
import { startTestPharmid, type TestPharmid } from '../../helpers/pharmid.js';
import { Browser } from '../../helpers/browser.js';
import { makeClient } from '../../helpers/factories.js';
import { Portal } from '../../helpers/portal.js';
import { signInTo } from '../../helpers/sign-in.js';
import { addSite } from '../../../src/domain/sites.js';
import { activate } from '../../../src/domain/sign-in.js';
import { apiToken, consoleBrowser, staff } from '../../integration/admin-support.js';

/**
 * Round 3: a direct link ("a person with no password yet is linked at once")
 * rests on two reads in the link's transaction: "no password" and "the codes
 * I must replace". Site A's administrator holds an account made in a future
 * colleague's name (password reset: no password, a password-reset code shown
 * to A). When site B's administrator links it, A's code must be replaced and
 * mailed to the person; A activating at the same moment must not slip
 * between the two reads. Postgres only (the race is in SQL), so one mode.
 *
 * To make the window deterministic the test holds SHARE on `passwords`
 * (reads go on; the activation's password write waits after its code DELETE).
 */
let p: TestPharmid;
let A: string;
let B: string;
let tokenA: string;
let tokenB: string;
/** What the racing link was answered (the second test reads it). */
let raceAnswer: { status: number; body: unknown } | undefined;

beforeAll(async () => {
  p = await startTestPharmid({ REDIS_URL: '' });
  const cli = { kind: 'cli' } as const;
  A = (await addSite(p.deps, cli, { ods: 'RCA01', name: 'Aster Pharmacy', userCap: null })).ods_code;
  B = (await addSite(p.deps, cli, { ods: 'RCB02', name: 'Bramble Pharmacy', userCap: null })).ods_code;
  const adminA = await staff(p, A, 'site-admin', 'Ada Attacker');
  const adminB = await staff(p, B, 'site-admin', 'Bea Honest');
  tokenA = await apiToken(p, (await consoleBrowser(p, adminA, '/account')).browser, adminA);
  tokenB = await apiToken(p, (await consoleBrowser(p, adminB, '/account')).browser, adminB);
}, 60_000);
afterAll(() => p.stop());

async function waiters(db: pg.Client, n: number): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const { rows } = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (rows[0].n >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never saw ${n} waiting`);
}

test('an activation racing a direct link does not leave the code-holder with an account at the other site', async () => {
  // A's "future colleague": made at A by A, with an authenticator A set up (staff() does that).
  const fake = await staff(p, A, 'member', 'Fern Future');
  const reset = await request(p.url).post(`/api/admin/people/${fake.id}/reset-password`).set('Authorization', `Bearer ${tokenA}`);
  expect(reset.status).toBe(200);
  const code: string = reset.body.activation_code;
  expect(code).toBeTruthy();

  const hold = new pg.Client({ connectionString: p.backends_.databaseUrl });
  await hold.connect();
  try {
    await hold.query('BEGIN');
    await hold.query('LOCK TABLE passwords IN SHARE MODE');
    const newPassword = 'a quiet meadow 9431';
    const activation = activate(p.deps, fake.email, code, newPassword, '198.51.100.7').then(() => 'activated', (e: Error) => `refused: ${e.message}`);
    await waiters(hold, 1);
    const link = request(p.url).post(`/api/admin/sites/${B}/locums`).set('Authorization', `Bearer ${tokenB}`).send({ email: fake.email }).then((r) => r);
    await waiters(hold, 2);
    await hold.query('COMMIT');
    const [activated, linked] = await Promise.all([activation, link]);
    raceAnswer = { status: linked.status, body: linked.body };

    const { rows } = await p.deps.db.query<{ ods_code: string }>(
      'SELECT s.ods_code FROM memberships m JOIN sites s ON s.id = m.site_id WHERE m.user_id = $1', [fake.id],
    );
    const sites = rows.map((r) => r.ods_code).sort();
    // If the link went straight through AND A's code set the password, A holds an account at B.
    const aHoldsB = activated === 'activated' && sites.includes(B);
    if (aHoldsB) {
      // Show it end to end: A signs in as the "colleague" and is given B.
      const portal = await Portal.connect(p.url, await makeClient(p.deps));
      p.clock.advance(31);
      const { tokens, claims } = await signInTo(portal, new Browser(p.url), { ...fake, password: newPassword }, p.clock, { scope: 'openid sites' }, { site: B });
      const info = await portal.userinfo(tokens.access_token, claims.sub) as { sites?: { ods: string }[] };
      expect({ linkStatus: linked.status, linkBody: linked.body, sitesClaim: info.sites?.map((s) => s.ods) }).toEqual('the code shown to A to be dead once B linked the person');
    }
    expect(aHoldsB).toBe(false);
  } finally {
    await hold.query('ROLLBACK').catch(() => undefined);
    await hold.end();
  }
}, 60_000);

test('the link that met the activation is answered plainly (refused or done), never with a 500', () => {
  // Seen: the link's transaction holds the person's row FOR UPDATE and then waits for the code row; the
  // activation holds the code row and waits for the person's row (its INSERT into passwords takes
  // FOR KEY SHARE on users): Postgres breaks the deadlock by failing the link, and the API answers 500.
  expect(raceAnswer).toBeDefined();
  expect(raceAnswer!.status).not.toBe(500);
});
