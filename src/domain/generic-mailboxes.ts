/**
 * Mailboxes a whole team reads (pharmacy@, practice@, info@, a site's NHSmail
 * shared box such as pharmacy.fa123@): since March 2024 each person needs an
 * email of their own. A team word followed by a person's name (staff.jones@)
 * is a person's.
 */
const WORDS = 'pharmacy|pharmacies|practice|info|admin|administrator|office|reception|enquiries|enquiry|contact|team|staff|surgery|dispensary|general|mail|hello|manager|shared|locum|locums';
/** A team word, then nothing, digits, a site code (letters and digits) or another team word (pharmacy.fa123@, practice.manager@). */
const GENERIC = new RegExp(`^(${WORDS})(\\d*|[._-]((?=[a-z0-9]{3,6}$)[a-z]*\\d[a-z0-9]*|${WORDS}))$`);

/** Why `email` looks like a shared team mailbox, or undefined when it looks like a person's. */
export function findGenericMailbox(email: string, ods?: string): string | undefined {
  const local = email.split('@')[0]!.toLowerCase().replace(/\+.*$/, '');
  if (GENERIC.test(local)) return `${email} looks like a shared team mailbox (${local.split(/[._\d-]/)[0]}@): each person needs their own email`;
  if (ods && new RegExp(`(^|[._-])${ods.toLowerCase()}([._-]|$)`).test(local)) return `${email} looks like the shared mailbox of ${ods}: each person needs their own email`;
  return undefined;
}

/** True when the email looks like a team's shared mailbox rather than a person's. */
export function looksShared(email: string): boolean {
  return findGenericMailbox(email) !== undefined;
}
