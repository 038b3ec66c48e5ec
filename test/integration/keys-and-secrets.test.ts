import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { createTestBackends } from '../helpers/backends.js';
import { Browser } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo } from '../helpers/sign-in.js';
import { rotateSigningKeys } from '../../src/domain/signing-keys.js';
import { rekeySecrets } from '../../src/domain/rekey.js';

const cli = { kind: 'cli' } as const;

async function jwksKids(p: TestPharmid): Promise<string[]> {
  const res = await fetch(`${p.config.issuer}/jwks`);
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}

test('keys rotate: the new key signs, the old one stays published for tokens it signed, then goes', async () => {
  const p = await startTestPharmid({ KEYS_REFRESH_SECONDS: '1' });
  try {
    const client = await makeClient(p.deps);
    const portal = await Portal.connect(p.config.issuer, client);
    const person = await makePerson(p.deps);
    const before = await signInTo(portal, new Browser(p.url), person, p.clock);
    const oldKid = decodeProtectedHeader(before.tokens.id_token!).kid!;

    await rotateSigningKeys(p.deps, cli);
    // The one-second timer may pick the change up first; either way the keys below are checked.
    await p.refreshKeys();

    p.clock.advance(30);
    const after = await signInTo(portal, new Browser(p.url), person, p.clock);
    const newKid = decodeProtectedHeader(after.tokens.id_token!).kid!;
    expect(newKid).not.toBe(oldKid);
    const kids = await jwksKids(p);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    // The token signed before the rotation still verifies against the published keys.
    await expect(portal.verifyIdToken(before.tokens.id_token!)).resolves.toMatchObject({ sub: person.id });

    // Once the grace period (ID token lifetime + refresh interval) has passed, the old key is gone.
    await p.deps.db.query("UPDATE signing_keys SET retired_at = now() - interval '1 day' WHERE retired_at IS NOT NULL");
    await p.refreshKeys();
    const later = await jwksKids(p);
    expect(later).toContain(newKid);
    expect(later).not.toContain(oldKid);
  } finally {
    await p.stop();
  }
});

test('secrets rekey: every sealed secret moves to the new key while both keys are configured; sign-in carries on', async () => {
  const oldKey = randomBytes(32).toString('base64');
  const backendsShared = await createTestBackends();
  const cookieKey = randomBytes(24).toString('base64url');
  const before = await startTestPharmid({}, { backends: backendsShared, secretKey: oldKey, cookieKey });
  const client = await makeClient(before.deps);
  const person = await makePerson(before.deps);
  await signInTo(await Portal.connect(before.config.issuer, client), new Browser(before.url), person, before.clock);
  await before.close();

  const newKey = randomBytes(32).toString('base64');
  const after = await startTestPharmid({ PHARMID_PREVIOUS_SECRET_KEYS: oldKey }, { backends: backendsShared, secretKey: newKey, cookieKey });
  try {
    // With both keys configured, the old records still open: the person signs in before the rekey.
    after.clock.advance(30);
    const portal = await Portal.connect(after.config.issuer, client);
    await signInTo(portal, new Browser(after.url), person, after.clock);

    const counts = await rekeySecrets(after.deps, cli);
    expect(counts.totp_secrets).toBe(1);
    // The portal registered above, and pharmid's own portal (account and admin pages).
    expect(counts.client_secrets).toBe(2);
    expect(counts.signing_keys).toBeGreaterThanOrEqual(2);
    const { rows } = await after.deps.db.query<{ sealed: string }>(
      `SELECT secret_sealed AS sealed FROM totp_credentials UNION ALL SELECT secret_sealed FROM clients
       UNION ALL SELECT jwk_sealed FROM signing_keys`,
    );
    for (const r of rows) expect(after.deps.sealer.isCurrent(r.sealed)).toBe(true);
    expect(await rekeySecrets(after.deps, cli)).toEqual({ totp_secrets: 0, client_secrets: 0, signing_keys: 0 });
  } finally {
    await after.close();
  }

  // Without the old key, pharmid still starts and signs in: nothing depends on it any more.
  const only = await startTestPharmid({}, { backends: backendsShared, secretKey: newKey, cookieKey });
  try {
    only.clock.advance(60);
    const portal = await Portal.connect(only.config.issuer, client);
    const { claims } = await signInTo(portal, new Browser(only.url), person, only.clock);
    expect(claims.sub).toBe(person.id);
  } finally {
    await only.close();
    await backendsShared.drop();
  }
});
