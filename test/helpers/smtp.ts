import { createServer, type Server } from 'node:net';

export interface Received { from: string; to: string[]; data: string }

/**
 * A small SMTP server (RFC 5321's plain exchange, no TLS) on 127.0.0.1 that
 * keeps every message it is given: the peer pharmid's mailer talks to in tests.
 */
export class SmtpSink {
  readonly messages: Received[] = [];
  private server?: Server;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((socket) => {
      let buffer = '';
      let inData = false;
      let current: Received = { from: '', to: [], data: '' };
      const reply = (line: string) => socket.write(`${line}\r\n`);
      reply('220 pharmid-test ESMTP');
      socket.on('data', (chunk) => {
        buffer += chunk.toString('utf8');
        for (;;) {
          if (inData) {
            const end = buffer.indexOf('\r\n.\r\n');
            if (end === -1) return;
            current.data = buffer.slice(0, end);
            buffer = buffer.slice(end + 5);
            inData = false;
            this.messages.push(current);
            current = { from: '', to: [], data: '' };
            reply('250 OK: queued');
            continue;
          }
          const nl = buffer.indexOf('\r\n');
          if (nl === -1) return;
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 2);
          const verb = line.slice(0, 4).toUpperCase();
          if (verb === 'EHLO' || verb === 'HELO') reply('250 pharmid-test');
          else if (verb === 'MAIL') { current.from = line; reply('250 OK'); } else if (verb === 'RCPT') { current.to.push(line); reply('250 OK'); } else if (verb === 'DATA') { inData = true; reply('354 End data with <CR><LF>.<CR><LF>'); } else if (verb === 'QUIT') { reply('221 Bye'); socket.end(); } else reply('250 OK');
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server!.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
