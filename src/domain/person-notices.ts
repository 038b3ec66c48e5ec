import type { Deps } from './deps.js';

/**
 * Notices that tell a person something changed on their account: every
 * credential change, by an administrator or by the person, is emailed to the
 * person it touches (ASVS V2.2, NIST SP 800-63B 6.1.2.3). A notice never
 * carries a code, a password or a link that signs anyone in; it says what
 * happened, who did it, when, and what to do if it was not expected.
 */
export type AccountChange =
  | 'password-reset' | 'mfa-reset' | 'activation-code' | 'unlocked' | 'disabled' | 'enabled'
  | 'site-linked' | 'site-unlinked' | 'role-changed' | 'codes-replaced' | 'site-link-confirmed' | 'site-link-declined'
  | 'password-changed' | 'password-forgotten' | 'authenticator-changed' | 'authenticator-added' | 'recovery-codes-renewed'
  | 'code-lock' | 'email-changed' | 'name-changed' | 'session-ended' | 'passkey-added' | 'passkey-removed';

const WHAT: Record<AccountChange, { subject: string; line: string; advice?: string }> = {
  'password-reset': { subject: 'Your pharmid password was reset', line: 'Your password was reset. Your old password no longer works.' },
  'mfa-reset': {
    subject: 'Your pharmid two-step sign-in was reset',
    line: 'Your two-step sign-in was reset: at your next sign-in you will set up a new authenticator. Your authenticator app, your recovery codes and any passkeys or security keys were removed, and none of them signs you in any more',
  },
  'activation-code': { subject: 'A new pharmid activation code was issued', line: 'A new activation code was issued for your account. Any earlier code no longer works.' },
  unlocked: { subject: 'Your pharmid account was unlocked', line: 'The locks on your account after wrong passwords or codes were lifted.' },
  disabled: { subject: 'Your pharmid account was disabled', line: 'Your account was disabled: you can no longer sign in, and every session was ended.' },
  enabled: { subject: 'Your pharmid account was enabled again', line: 'Your account was enabled again: you can sign in.' },
  'site-linked': { subject: 'You were added to a site in pharmid', line: 'You were added to a site.' },
  'site-unlinked': { subject: 'You were removed from a site in pharmid', line: 'You were removed from a site.' },
  'codes-replaced': {
    subject: 'Your pharmid one-time code was replaced',
    line: 'Because you now work at another site, the one-time code you were given earlier no longer works: anyone it was shown to can no longer use it. pharmid emailed you a new one, to you alone.',
  },
  'site-link-confirmed': { subject: 'You confirmed a site in pharmid', line: 'You confirmed that you work at a site you were added to.' },
  'site-link-declined': { subject: 'You declined a site in pharmid', line: 'A site you were added to was declined at sign-in: you were not added to it.' },
  'role-changed': { subject: 'Your role at a site changed in pharmid', line: 'Your role at a site changed.' },
  'password-changed': { subject: 'Your pharmid password was changed', line: 'Your password was changed, and your other sessions were ended.' },
  'password-forgotten': {
    subject: 'Your pharmid password was changed',
    line: 'Your password was changed with a "Forgotten your password?" link, and you were signed out everywhere. Your authenticator app was not changed.',
  },
  'authenticator-changed': { subject: 'Your pharmid authenticator was changed', line: 'A new authenticator app was set up for your account, and your other sessions were ended.' },
  'authenticator-added': {
    subject: 'An authenticator was set up for your pharmid account',
    line: 'An authenticator app was set up for your account: from now on it gives the codes pharmid asks for after your password',
    advice: 'If it was not you, someone else knows your password and has their own authenticator on your account: tell your site administrator straight away, so they reset your password and your authenticator.',
  },
  'passkey-added': {
    subject: 'A passkey or security key was added to your pharmid account',
    line: 'A passkey or security key was added to your account: it can now be used to sign in',
    advice: 'If it was not you, tell your site administrator straight away, so they reset your password and your two-step sign-in.',
  },
  'passkey-removed': {
    subject: 'A passkey or security key was removed from your pharmid account',
    line: 'A passkey or security key was removed from your account: it no longer works for signing in',
  },
  'recovery-codes-renewed': { subject: 'New pharmid recovery codes', line: 'New recovery codes were made for your account; the old ones no longer work.' },
  'email-changed': {
    subject: 'The email of your pharmid account was changed',
    line: 'The email address of your pharmid account was changed',
    advice: 'From now on pharmid writes to the new address only. If you did not ask for this, tell your site administrator or the helpdesk straight away.',
  },
  'name-changed': { subject: 'Your name in pharmid was changed', line: 'The name on your pharmid account was changed' },
  'session-ended': { subject: 'You were signed out of pharmid in one browser', line: 'An administrator signed you out of one browser, and of the portals it was signed in to' },
  'code-lock': {
    subject: 'Wrong codes were typed after your pharmid password',
    line: 'Someone who knows your password typed wrong codes at the step after it, and that step is now locked',
    advice: 'If it was not you, someone else knows your password: change it now (on your account page, or with "Forgotten your password?" on the sign-in page).',
  },
};

export interface ChangeNotice {
  change: AccountChange;
  /** Who did it, in words: an administrator's name and email, "you", or "an operator (command line)". */
  by: string;
  /** A detail worth naming, such as the site ("High Street Pharmacy (FA123)"). */
  detail?: string;
}

function when(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The text of a notice: what, who, when, what to do. */
export function describeChange(n: ChangeNotice, at: Date, issuer: string): { subject: string; text: string } {
  const w = WHAT[n.change];
  const detail = n.detail ? ` (${n.detail})` : '';
  return {
    subject: w.subject,
    text: [
      `${w.line}${detail}`,
      ...(w.advice ? ['', w.advice] : []),
      '',
      `Done by: ${n.by}`,
      `When: ${when(at)}`,
      '',
      'If you expected this, there is nothing to do.',
      'If you did not, tell your site administrator or the helpdesk straight away: someone may be trying to use your account.',
      '',
      `pharmid (${issuer})`,
      '',
    ].join('\n'),
  };
}

/**
 * Emails the notice to the person. Sending never blocks or undoes the change
 * it reports: false when the mail could not be sent.
 */
export async function tellPerson(deps: Deps, to: { email: string; name: string }, n: ChangeNotice): Promise<boolean> {
  const { subject, text } = describeChange(n, deps.now(), deps.settings.issuer);
  try {
    await deps.mailer.send({ to: to.email, subject, text: `Dear ${to.name},\n\n${text}` });
    return true;
  } catch {
    return false;
  }
}
