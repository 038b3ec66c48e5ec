/**
 * An audit event told as a sentence an administrator reads at a glance
 * ("Sam Taylor reset Priya Shah's authenticator"). The trail keeps its
 * machine-readable columns; this is how the console and the CSV say them.
 * An action this table does not know yet is still told in words, never as
 * its code or its details.
 */

import { PASSKEY_PHRASES } from '../factors/passkey-words.js';

export interface EventFacts {
  action: string;
  outcome: 'success' | 'failure' | 'denied';
  /** Who acted, by name: a person, "an operator", a portal, or pharmid itself. */
  actor: string;
  /** The person acted upon, by name (undefined when none). */
  target?: string;
  /** The same person acted on themselves. */
  self: boolean;
  site?: string;
  portal?: string;
  details: Record<string, unknown>;
}

const ROLE: Record<string, string> = { member: 'a member', 'site-admin': 'a site administrator' };
const STATE: Record<string, string> = { off: 'off', announced: 'announced', grace: 'a grace period', enforced: 'enforced' };
const FACTOR: Record<string, string> = { password: 'wrong passwords', otp: 'wrong codes', recovery: 'wrong recovery codes', activation: 'wrong activation codes' };
const DAY = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'Europe/London' });

const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const roleOf = (v: unknown) => ROLE[text(v)] ?? 'a member';

/** What was done, in the past tense, and what was tried, for a refusal. */
type Phrase = (f: EventFacts, whose: string, whom: string) => [done: string, tried: string];

const PHRASES: Record<string, Phrase> = {
  'sign-in': (f) => [`signed in${f.portal ? ` to ${f.portal}` : ''}`, `sign in${f.portal ? ` to ${f.portal}` : ''}`],
  'user.add': (f, _w, whom) => [`added ${whom}${f.site ? ` to ${f.site}` : ''} as ${roleOf(f.details.role)}${f.details.import ? ' (from a file)' : ''}`, `add ${whom}${f.site ? ` to ${f.site}` : ''}`],
  'user.import': (f) => [`imported a file of ${text(f.details.people) || 'some'} people`, 'import a file of people'],
  'user.reset-mfa': (_f, whose) => [`reset ${whose} authenticator`, `reset ${whose} authenticator`],
  'user.reset-password': (_f, whose) => [`reset ${whose} password`, `reset ${whose} password`],
  'user.activation-code': (f, _w, whom) => [
    f.details.code_to === 'caller' ? `made a new activation code for ${whom}` : `sent ${whom} a new activation code by email`, `send ${whom} a new activation code`,
  ],
  'user.edit': (f, whose) => {
    const changed = Array.isArray(f.details.changed) ? f.details.changed.map(text) : [];
    const what = changed.includes('email') && changed.includes('name') ? 'name and email address' : changed.includes('email') ? 'email address' : 'name';
    return [`changed ${whose} ${what}`, `change ${whose} ${what}`];
  },
  'user.disable': (_f, whose) => [`disabled ${whose} account`, `disable ${whose} account`],
  'user.enable': (_f, whose) => [`let ${whose} account sign in again`, `enable ${whose} account`],
  'user.unlock': (_f, whose) => [`unlocked ${whose} account`, `unlock ${whose} account`],
  'user.link': (f, _w, whom) => [`linked ${whom} to ${f.site ?? 'a site'} as ${roleOf(f.details.role)}${f.details.waiting_for_person ? ', waiting for them to confirm' : ''}`, `link ${whom} to ${f.site ?? 'a site'}`],
  'user.link-confirmed': (f) => [`confirmed they work at ${f.site ?? 'the site'}`, `confirm they work at ${f.site ?? 'the site'}`],
  'user.link-declined': (f) => [`said they do not work at ${f.site ?? 'the site'}`, `decline ${f.site ?? 'the site'}`],
  'user.role': (f, whose) => [`changed ${whose} role${f.site ? ` at ${f.site}` : ''} to ${roleOf(f.details.to).replace(/^a /, '')}`, `change ${whose} role`],
  'user.unlink': (f, _w, whom) => [`removed ${whom} from ${f.site ?? 'the site'}`, `remove ${whom} from ${f.site ?? 'the site'}`],
  'session.end': (_f, whose) => [`ended one of ${whose} sessions`, `end one of ${whose} sessions`],
  'session.end-all': (_f, whose) => [`ended all of ${whose} sessions`, `end ${whose} sessions`],
  'session.end-others': (_f, whose) => [`ended ${whose} other sessions`, `end ${whose} other sessions`],
  'account.change-password': (_f, whose) => [`changed ${whose} password`, `change ${whose} password`],
  'account.change-authenticator': (_f, whose) => [`replaced ${whose} authenticator app`, `replace ${whose} authenticator app`],
  'account.regenerate-recovery-codes': (_f, whose) => [`made new recovery codes for ${whose} account`, 'make new recovery codes'],
  'account.forgotten-password': (_f, whose) => [`set a new password for ${whose} account with a forgotten-password link`, 'set a new password'],
  'account.forgotten-password-link': (_f, _w, whom) => [`emailed ${whom} a link to set a new password`, 'email a password link'],
  'mfa.enrolment-skipped': () => ['put off setting up an authenticator app', 'put off setting up an authenticator app'],
  'rollout.set': (f) => {
    const on = text(f.details.enforce_on);
    const scope = f.details.scope === 'global' ? 'everyone' : f.details.scope === 'client' ? (f.portal ?? 'a portal') : (f.site ?? 'a site');
    return [`set the MFA rollout for ${scope} to ${STATE[text(f.details.state)] ?? text(f.details.state)}${on ? `, enforced from ${DAY.format(new Date(on))}` : ''}`, `set the MFA rollout for ${scope}`];
  },
  'site.add': (f) => [`added the site ${f.site ?? ''}`.trim(), 'add a site'],
  'site.update': (f) => [`changed the details of ${f.site ?? 'the site'}`, `change the details of ${f.site ?? 'the site'}`],
  'logout.backchannel': (f, _w, whom) => [`told ${f.portal ?? 'a portal'} that ${whom} signed out`, `tell ${f.portal ?? 'a portal'} that ${whom} signed out`],
  'org-role.grant': (f, _w, whom) => [`made ${whom} ${text(f.details.role) === 'superadmin' ? 'a superadmin' : `a ${text(f.details.role)}`}`, `give ${whom} a role`],
  'org-role.revoke': (f, _w, whom) => [`took the ${text(f.details.role)} role from ${whom}`, `take a role from ${whom}`],
  // Passkey events, and the reset that names the keys it removed (it replaces the plain reset above).
  ...PASSKEY_PHRASES,
};

/** An action's code in words, for one this table does not know: "user.change-email" becomes "change email". */
function fallback(action: string): string {
  return action.replace(/^[a-z-]+\./, '').replace(/[.-]/g, ' ');
}

/** An act this table does not know yet: its name in words, and to whom. */
const unknownPhrase: Phrase = (f, _w, whom) => {
  const words = fallback(f.action);
  const to = f.target ? ` for ${whom}` : '';
  return [`did this: ${words}${to}`, `${words}${to}`];
};

function lockSentence(f: EventFacts): string | undefined {
  const kind = /^lock\.(.+)$/.exec(f.action)?.[1];
  if (!kind) return undefined;
  const what = FACTOR[kind] ?? 'wrong answers';
  const how = f.details.until_unlocked ? 'until an administrator unlocks it' : f.details.seconds ? `for ${Math.ceil(Number(f.details.seconds) / 60)} minutes` : 'for a while';
  return `${f.target ? `${f.target}'s` : 'An'} account was locked ${how} after ${text(f.details.failures) || 'several'} ${what}`;
}

export function describeEvent(f: EventFacts): string {
  const locked = lockSentence(f);
  if (locked) return locked;
  const whose = f.self ? 'their' : f.target ? `${f.target}'s` : 'an';
  const whom = f.self ? 'themselves' : f.target ?? 'someone';
  const phrase = PHRASES[f.action];
  const [done, tried] = (phrase ?? unknownPhrase)(f, whose, whom);
  if (f.outcome === 'denied') {
    const reason = text(f.details.reason);
    return `${f.actor} tried to ${tried} and was refused${reason ? `: ${reason.replace(/\.$/, '')}` : ''}`;
  }
  if (f.outcome === 'failure') return `${f.actor} could not ${tried}${text(f.details.reason) ? ` (${text(f.details.reason)})` : ''}`;
  return `${f.actor} ${done}`;
}

/** Who acted, by name: the audit's actor is `user:ID`, `client:ID`, `cli` or `anonymous`. */
export function actorWords(actor: string, names: { person?: string | null; portal?: string | null }): string {
  if (actor.startsWith('user:')) return names.person ?? 'Someone no longer registered';
  if (actor.startsWith('client:')) return names.portal ?? 'A portal';
  if (actor === 'cli') return 'An operator (command line)';
  return 'pharmid';
}
