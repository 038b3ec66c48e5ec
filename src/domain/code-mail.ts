import type { Mailer } from '../mail/mailer.js';

export type CodePurpose = 'new-account' | 'password-reset' | 'mfa-reset' | 'site-link';

const WHAT: Record<CodePurpose, { subject: string; body: string }> = {
  'new-account': {
    subject: 'Your pharmid account',
    body: 'An account has been made for you. On pharmid\'s sign-in page choose "Activate your account", enter your email, this code and a password of your choosing, then set up your authenticator app.',
  },
  'password-reset': {
    subject: 'Choose a new pharmid password',
    body: 'Your password was reset. On pharmid\'s sign-in page choose "Activate your account", enter your email, this code and a new password.',
  },
  'mfa-reset': {
    subject: 'Your two-step sign-in was reset',
    body: 'Your authenticator was removed. Sign in with your email and password as usual; pharmid then asks for this code and takes you through setting up a new authenticator app.',
  },
  'site-link': {
    subject: 'Confirm the site you were added to in pharmid',
    body: 'An administrator added you to a site in pharmid. Nothing changes until you confirm it: at your next sign-in, after your password and authenticator code, pharmid asks for this code (or you may decline). If you do not know the password of your pharmid account, or did not expect this, do not use the code: tell the site\'s administrator, because someone else may hold an account in your name.',
  },
};

function codeMessage(issuer: string, to: { email: string; name: string }, code: string, purpose: CodePurpose, detail?: string) {
  const w = WHAT[purpose];
  return {
    to: to.email,
    subject: w.subject,
    text: `Dear ${to.name},\n\n${w.body}${detail ? `\n\n${detail}` : ''}\n\nYour one-time code: ${code}\nIt works once, within 72 hours. If you did not expect this, tell your site administrator.\n\npharmid (${issuer})\n`,
  };
}

/**
 * Emails an activation code to its person when pharmid has SMTP (the code is
 * always shown once to the administrator too). Without SMTP nothing is sent:
 * codes shown to an administrator are not written to the development outbox.
 * True when sent.
 */
export async function mailActivationCode(
  mailer: Mailer | undefined, issuer: string, to: { email: string; name: string }, code: string, purpose: CodePurpose,
): Promise<boolean> {
  if (mailer?.kind !== 'smtp') return false;
  try {
    await mailer.send(codeMessage(issuer, to, code, purpose));
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends a reset's code to the person alone, by whatever mailer pharmid has
 * (SMTP, or the outbox folder): the way a code reaches someone outside the
 * administrator's entire reach, who is never shown it. Throws when the mail
 * cannot be sent, so the reset that made the code is undone with it.
 */
export async function sendCodeToPerson(
  mailer: Mailer, issuer: string, to: { email: string; name: string }, code: string, purpose: CodePurpose, detail?: string,
): Promise<void> {
  await mailer.send(codeMessage(issuer, to, code, purpose, detail));
}
