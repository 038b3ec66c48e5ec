import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestPharmid } from './pharmid.js';

export interface Mail { to: string; subject: string; body: string }

/** Every message in a test pharmid's outbox folder (no SMTP_URL), oldest first, bodies decoded (quoted-printable). */
export function outboxOf(p: TestPharmid): Mail[] {
  const dir = join(p.config.dataDir, 'outbox');
  let files: string[] = [];
  try { files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort(); } catch { return []; }
  return files.map((f) => {
    const raw = readFileSync(join(dir, f), 'utf8');
    const [head, ...rest] = raw.split(/\r?\n\r?\n/);
    const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(head!)?.[1]?.trim() ?? '';
    const body = rest.join('\n\n').replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return { to: header('To'), subject: header('Subject'), body };
  });
}

export const mailTo = (p: TestPharmid, email: string) => outboxOf(p).filter((m) => m.to.includes(email));

/** The one-time code in the latest mail to `email` with `subject`. */
export function mailedCode(p: TestPharmid, email: string, subject: string): string | undefined {
  const mail = mailTo(p, email).filter((m) => m.subject === subject).at(-1);
  return mail ? /one-time code: ([A-Z2-9]{5}-[A-Z2-9]{5})/.exec(mail.body)?.[1] : undefined;
}

export const SITE_LINK_SUBJECT = 'Confirm the site you were added to in pharmid';
