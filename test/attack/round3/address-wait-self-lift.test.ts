import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { startTestPharmid, STORE_MODES, type TestPharmid } from '../../helpers/pharmid.js';
import { makeClient } from '../../helpers/factories.js';
import { Portal } from '../../helpers/portal.js';
import { afterPasswordStep } from '../../helpers/sign-in.js';
import { addSite } from '../../../src/domain/sites.js';
import { apiToken, consoleBrowser, staff } from '../../integration/admin-support.js';

/**
 * Round 3, address waits (src/domain/address-waits.ts): unlocking a person
 * lifts the wait of every address a try *for that person* was refused from.
 * Nothing ties the refused try to the person, so a script whose address
 * waits types the email of someone it can get unlocked, and the unlock lifts
 * the script's own wait. The sharpest form: a site administrator sprays
 * passwords across the organisation from one address; each time it waits,
 * they type one of their own staff's emails, then unlock that person through
 * the API (which they may: the person is entirely theirs). The per-address
 * limit (ADDRESS_MAX_FAILURES in ADDRESS_WINDOW) then never holds for them.
 */
describe.each(STORE_MODES)('%s', (_mode, modeEnv) => {
  let p: TestPharmid;
  let portal: Portal;
  let token: string;
  let member: Awaited<ReturnType<typeof staff>>;
  const sprayed = () => ({ email: `target.${randomBytes(4).toString('hex')}@example.nhs.uk`, password: `Spring2026 ${randomBytes(2).toString('hex')}` });

  beforeAll(async () => {
    p = await startTestPharmid({ ...modeEnv, ADDRESS_MAX_FAILURES: '4' });
    portal = await Portal.connect(p.config.issuer, await makeClient(p.deps));
    const site = (await addSite(p.deps, { kind: 'cli' }, { ods: 'AWL01', name: 'Alder Pharmacy', userCap: null })).ods_code;
    const admin = await staff(p, site, 'site-admin', 'Ava Sprayer');
    member = await staff(p, site, 'member', 'Mo Member');
    token = await apiToken(p, (await consoleBrowser(p, admin, '/account')).browser, admin);
  }, 60_000);
  afterAll(() => p.stop());

  test('an administrator cannot lift their own address\'s wait by unlocking a person whose email they typed while waiting', async () => {
    for (let i = 0; i < 4; i += 1) expect((await afterPasswordStep(p.url, portal, sprayed())).res.status).toBe(401);
    expect((await afterPasswordStep(p.url, portal, sprayed())).res.status).toBe(429);
    // While the address waits, one try with a staff member's email (any password): refused, and remembered against them.
    const planted = await afterPasswordStep(p.url, portal, { email: member.email, password: 'anything at all 1' });
    expect(planted.res.status).toBe(429);
    // Unlock the member: an ordinary act within the administrator's reach.
    const unlocked = await request(p.url).post(`/api/admin/people/${member.id}/unlock`).set('Authorization', `Bearer ${token}`);
    expect(unlocked.status).toBe(200);
    // Held: the spraying address still waits. Got through: the spray goes on (401 = a password was checked).
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await afterPasswordStep(p.url, portal, sprayed())).res.status);
    expect(statuses).toEqual([429, 429, 429, 429]);
  }, 60_000);
});
