import { usePharmidWithPortal } from '../helpers/setup.js';
import { makePerson } from '../helpers/factories.js';
import { withAuthenticator } from '../helpers/pages.js';
import { totpCode } from '../helpers/sign-in.js';
import { beginEnrolment, checkTotp, confirmEnrolment } from '../../src/domain/factors/authenticators.js';
import { proveAuthenticator } from '../../src/domain/self-service.js';
import { findTotpCredential } from '../../src/db/queries/totp-credentials.js';
import { findUserById } from '../../src/db/queries/users.js';

/**
 * Enrolment that forgives: the "clock may be wrong" and "already used"
 * advice is given at enrolment and on the account page as at sign-in, and
 * replay is tracked per authenticator, so a new app's first code in the same
 * 30 seconds as the old app's last is accepted (and each code still works once).
 */
const t = usePharmidWithPortal();
const IP = '192.0.2.44';

async function newSecret(userId: string) {
  const { pharmid: p } = t;
  const credentialId = await beginEnrolment(p.deps, userId);
  const row = await findTotpCredential(p.deps.db, credentialId, userId);
  return { credentialId, secret: p.deps.sealer.open(row!.secret_sealed) };
}

test('a new app\'s first code, in the same 30 seconds as the old app\'s, is accepted; each code still works once', async () => {
  const { pharmid: p } = t;
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const now = p.clock.now();
  expect(await checkTotp(p.deps, person.id, totpCode(person.totpSecret, now), IP)).toBe('ok');
  // On the account page: a new app set up in the same time step.
  const next = await newSecret(person.id);
  const firstNewCode = totpCode(next.secret, now);
  await expect(confirmEnrolment(p.deps, person.id, next.credentialId, firstNewCode, { replaces: 'current' })).resolves.toHaveLength(10);
  // The new app's code that confirmed it does not work again.
  expect(await checkTotp(p.deps, person.id, firstNewCode, IP)).toBe('used');
  // The old app's codes no longer work at all.
  p.clock.advance(30);
  expect(await checkTotp(p.deps, person.id, totpCode(person.totpSecret, p.clock.now()), IP)).toBe('wrong');
});

test('at enrolment, a code from a wrong clock gets the clock advice', async () => {
  const { pharmid: p } = t;
  const person = await makePerson(p.deps);
  const next = await newSecret(person.id);
  const skewed = totpCode(next.secret, new Date(p.clock.now().getTime() - 3 * 60_000));
  await expect(confirmEnrolment(p.deps, person.id, next.credentialId, skewed)).rejects.toThrow(/clock on your phone or computer may be wrong/);
});

test('on the account page, a code used already gets the "used already" advice, and a wrong clock the clock advice', async () => {
  const { pharmid: p } = t;
  const person = await withAuthenticator(p.deps, await makePerson(p.deps), p.clock);
  const user = (await findUserById(p.deps.db, person.id))!;
  const code = totpCode(person.totpSecret, p.clock.now());
  expect(await checkTotp(p.deps, person.id, code, IP)).toBe('ok');
  await expect(proveAuthenticator(p.deps, user, code, IP)).rejects.toThrow(/That code has been used already/);
  const skewed = totpCode(person.totpSecret, new Date(p.clock.now().getTime() + 3 * 60_000));
  await expect(proveAuthenticator(p.deps, user, skewed, IP)).rejects.toThrow(/clock on your phone or computer may be wrong/);
});
