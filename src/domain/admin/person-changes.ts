import { withTransaction } from '../../db/pool.js';
import * as users from '../../db/queries/users.js';
import * as activationCodes from '../../db/queries/activation-codes.js';
import type { UserRow } from '../../db/queries/users.js';
import { authorize, codeGoesTo, loadPersonTarget, type Act } from '../authorization.js';
import { actorName, audit } from '../audit.js';
import { sendCodeToPerson } from '../code-mail.js';
import { normaliseEmail } from '../email.js';
import { Conflict, InvalidInput, NotFound } from '../errors.js';
import { describeActor } from '../notice-by.js';
import { tellPerson } from '../person-notices.js';
import { checkName, issueActivationCode, noticeTo, type ResetOutcome } from '../users.js';
import { requireUserById } from '../people.js';
import { checkOwnMailbox, type AdminRequest } from './people.js';
import { countActivationCode } from '../activation-code-sends.js';
import type { SignInSessions } from '../sessions.js';
import type { Deps } from '../deps.js';
import type { Db } from '../../db/pool.js';

/** The person, once the asker may do `act` to them, decided again inside `tx` with their row locked (a link cannot slip in). */
async function lockedTarget(deps: Deps, tx: Db, r: AdminRequest, id: string, act: Act) {
  const user = await users.lockUserRow(tx, id);
  if (!user) throw new NotFound('No such person');
  const target = await loadPersonTarget(deps, user.id, tx);
  await authorize(deps, r.principal, act, { person: target }, r);
  return { user, target };
}

/**
 * A new activation code for someone who has not activated yet (it replaces
 * the earlier one), a few a day at most (activation-code-sends.ts). As with resets, it is shown to the asker only when the
 * person is entirely within their reach; otherwise pharmid emails it to the
 * person alone, before the commit, so a mail that cannot go undoes it.
 */
export async function sendNewActivationCode(deps: Deps, r: AdminRequest, id: string): Promise<ResetOutcome> {
  const first = await requireUserById(deps, id);
  await authorize(deps, r.principal, 'user.activation-code', { person: await loadPersonTarget(deps, first.id) }, r);
  const giveBack = await countActivationCode(deps, r.principal.actor, first);
  const { user, code, codeTo } = await withTransaction(deps.db, async (tx) => {
    const { user, target } = await lockedTarget(deps, tx, r, id, 'user.activation-code');
    if (user.status !== 'invited') {
      throw new Conflict(`${user.name} has already activated their account: use "Reset password" if they cannot sign in`);
    }
    const codeTo = codeGoesTo(r.principal, target);
    const code = await issueActivationCode(deps, tx, user.id, 'activation', codeTo === 'caller' ? actorName(r.principal.actor) : null);
    await audit(tx, r.principal.actor, { action: 'user.activation-code', outcome: 'success', targetUser: user.id, ip: r.ip, details: { code_to: codeTo } });
    if (codeTo === 'person') await sendCodeToPerson(deps.mailer, deps.settings.issuer, user, code, 'new-account');
    return { user, code, codeTo };
  }).catch(async (err: unknown) => {
    await giveBack();
    throw err;
  });
  await noticeTo(deps, user, 'activation-code', r.principal.actor);
  return codeTo === 'person' ? { user, emailedTo: user.email } : { user, activationCode: code };
}

/**
 * The codes a new email withdraws: those that let their holder choose the
 * password (an invited person's first one). The code of an authenticator reset
 * stays, because it is asked after the password, and without it the password
 * alone would set up a new authenticator; so does a site's confirmation code,
 * asked after the password and authenticator.
 */
const CODES_BY_EMAIL = ['activation', 'password-reset', 'forgotten-password'] as const;

export interface DetailsChange { name?: string; email?: string; onePersonOnly?: boolean }

/**
 * Corrects a person's name and email. Only an administrator of every one of
 * the person's sites may (user.edit): a new email receives every code and
 * link from then on, and the codes and links sent before it stop working.
 * The email stays unique; the change is audited, and the person is told at
 * the old address and at the new one.
 */
export async function changePersonDetails(deps: Deps, r: AdminRequest, id: string, input: DetailsChange): Promise<{ user: UserRow; changed: ('name' | 'email')[] }> {
  const before = await requireUserById(deps, id);
  await authorize(deps, r.principal, 'user.edit', { person: await loadPersonTarget(deps, before.id) }, r);
  const name = input.name === undefined ? before.name : checkName(input.name);
  const next = input.email === undefined ? { email: before.email, key: normaliseEmail(before.email).key } : normaliseEmail(input.email);
  const changed = [
    ...(name !== before.name ? ['name' as const] : []),
    ...(next.email !== before.email ? ['email' as const] : []),
  ];
  if (changed.includes('email')) checkOwnMailbox(next.email, undefined, input.onePersonOnly);
  if (!changed.length) return { user: before, changed };
  const taken = () => new Conflict(`Someone else already has the email ${next.email}: each person needs their own`, 'email');
  const { user, old } = await withTransaction(deps.db, async (tx) => {
    const { user: old } = await lockedTarget(deps, tx, r, id, 'user.edit');
    const other = await users.findUserByEmailKey(tx, next.key);
    if (other && other.id !== old.id) throw taken();
    let user: UserRow | undefined;
    try {
      user = await users.updateUserDetails(tx, old.id, { name, email: next.email, emailKey: next.key });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw taken();
      throw err;
    }
    // Codes and links went to the old address, which may be the wrong one (the reason to correct it), and the notice
    // below tells it the new one: with both, its reader could activate an invited account or choose its password.
    const withdrawn = changed.includes('email') ? await activationCodes.deleteCodes(tx, old.id, CODES_BY_EMAIL) : 0;
    await audit(tx, r.principal.actor, {
      action: 'user.edit', outcome: 'success', targetUser: old.id, ip: r.ip,
      details: {
        changed, ...(changed.includes('email') ? { old_email: old.email, new_email: next.email, codes_withdrawn: withdrawn } : {}),
        ...(changed.includes('name') ? { old_name: old.name } : {}),
      },
    });
    return { user: user!, old };
  });
  const by = await describeActor(deps, r.principal.actor);
  if (changed.includes('email')) {
    const detail = `from ${old.email} to ${user.email}`;
    // Both addresses: the old one is where the real person hears of a change they did not ask for.
    await tellPerson(deps, { email: old.email, name: user.name }, { change: 'email-changed', by, detail });
    await tellPerson(deps, user, { change: 'email-changed', by, detail });
  }
  if (changed.includes('name')) await tellPerson(deps, user, { change: 'name-changed', by, detail: `from ${old.name} to ${user.name}` });
  return { user, changed };
}

/**
 * Ends one of a person's sign-in sessions (its portals are told by
 * back-channel logout). Allowed over partial reach, as resets are: a reset
 * already ends every session, and ending one hands nobody anything.
 */
export async function endPersonSession(deps: Deps, sessions: SignInSessions, r: AdminRequest, id: string, sessionId: string): Promise<UserRow> {
  const user = await requireUserById(deps, id);
  await authorize(deps, r.principal, 'user.end-session', { person: await loadPersonTarget(deps, user.id) }, r);
  if (!/^[\w-]{1,100}$/.test(sessionId)) throw new InvalidInput('That is not a session of theirs', 'session');
  if (!(await sessions.end(r.principal.actor, user.id, sessionId))) throw new NotFound('That session has already ended.');
  await noticeTo(deps, user, 'session-ended', r.principal.actor);
  return user;
}

/** A person's live sessions, for those who may end them (the same reach). */
export async function personSessions(deps: Deps, sessions: SignInSessions, r: AdminRequest, id: string) {
  const user = await requireUserById(deps, id);
  await authorize(deps, r.principal, 'user.end-session', { person: await loadPersonTarget(deps, user.id) }, r);
  return sessions.list(user.id);
}
