import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface OutboxMessage { file: string; date: string; to: string; subject: string }

function header(raw: string, name: string): string {
  return new RegExp(`^${name}: (.*)$`, 'mi').exec(raw)?.[1]?.trim() ?? '';
}

/** Notices written to the outbox folder (no SMTP configured), newest first. */
export async function listOutbox(dir: string, limit = 200): Promise<OutboxMessage[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort().reverse().slice(0, limit);
  } catch {
    return [];
  }
  return Promise.all(files.map(async (file) => {
    const raw = (await readFile(join(dir, file), 'utf8')).split(/\r?\n\r?\n/)[0] ?? '';
    return { file, date: header(raw, 'Date'), to: header(raw, 'To'), subject: header(raw, 'Subject') };
  }));
}
