/**
 * Mailboxes a whole team reads (pharmacy@, practice@, info@, a site's NHSmail
 * shared box): since March 2024 each person needs an email of their own.
 */
const GENERIC = /^(pharmacy|pharmacies|practice|info|admin|administrator|office|reception|enquiries|enquiry|contact|team|staff|surgery|dispensary|general|mail|hello|manager|shared|locum|locums)(\d*|[._-].*)$/;

/** Why `email` looks like a shared team mailbox, or undefined when it looks like a person's. */
export function findGenericMailbox(email: string, ods?: string): string | undefined {
  const local = email.split('@')[0]!.toLowerCase().replace(/\+.*$/, '');
  if (GENERIC.test(local)) return `${email} looks like a shared team mailbox (${local.split(/[._\d-]/)[0]}@): each person needs their own email`;
  if (ods && new RegExp(`(^|[._-])${ods.toLowerCase()}([._-]|$)`).test(local)) return `${email} looks like the shared mailbox of ${ods}: each person needs their own email`;
  return undefined;
}
