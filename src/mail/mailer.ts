import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import nodemailer from 'nodemailer';

export interface Message { to: string; subject: string; text: string }

/** Sends mail by SMTP, or, with no SMTP_URL, writes each message as an .eml file to an outbox folder. */
export interface Mailer {
  readonly kind: 'smtp' | 'outbox';
  send(message: Message): Promise<void>;
}

export function createMailer(opts: { smtpUrl?: string; from: string; outboxDir: string }): Mailer {
  if (opts.smtpUrl) {
    const transport = nodemailer.createTransport(opts.smtpUrl);
    return {
      kind: 'smtp',
      async send(m) { await transport.sendMail({ from: opts.from, ...m }); },
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'outbox',
    async send(m) {
      const info = await transport.sendMail({ from: opts.from, ...m });
      await mkdir(opts.outboxDir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`;
      await writeFile(join(opts.outboxDir, name), info.message as Buffer);
    },
  };
}
