import type Koa from 'koa';

/**
 * Reads a multipart/form-data post (the console's CSV import: a file, or
 * text pasted in a box) up to `limit` bytes. Its short text fields become the
 * parsed body, so the form gate that follows (bad bytes, CSRF token) checks
 * them as it checks every form; the file and the pasted text are kept apart
 * in ctx.state.upload, read later by the import's own rules (strict UTF-8,
 * each cell checked as text). A post over the limit is drained and marked,
 * never held: the route says so on the form.
 */
export interface Upload { file?: Buffer; fileName?: string; pasted?: Buffer; tooLarge: boolean }

/** Parts kept out of the body: what is checked by the import, not by the form gate. */
const KEPT_APART = new Set(['file', 'csv']);
const MAX_FIELD = 4_000;

function boundaryOf(type: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  return m?.[1] ?? m?.[2]?.trim();
}

/** A body's bytes up to `limit`; undefined when it is larger (what came beyond was drained, not kept). */
export async function readLimited(req: NodeJS.ReadableStream, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) over = true;
    else chunks.push(b);
  }
  return over ? undefined : Buffer.concat(chunks);
}

function parseParts(body: Buffer, boundary: string): { name: string; fileName?: string; value: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { name: string; fileName?: string; value: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start + 2, next - 2); // past the CRLF after the delimiter, before the CRLF ahead of the next
    const split = part.indexOf('\r\n\r\n');
    if (split !== -1) {
      const headers = part.subarray(0, split).toString('latin1');
      const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
      const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
      const fileName = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
      if (name !== undefined) parts.push({ name, ...(fileName !== undefined ? { fileName } : {}), value: part.subarray(split + 4) });
    }
    at = next;
  }
  return parts;
}

/** For one route: reads a multipart post into ctx.request.body (short fields) and ctx.state.upload. */
export function readUpload(limit: number): Koa.Middleware {
  return async (ctx, next) => {
    const type = ctx.get('content-type');
    const boundary = /^multipart\/form-data/i.test(type) ? boundaryOf(type) : undefined;
    if (!boundary) return next();
    const declared = Number(ctx.get('content-length') || 0);
    const raw = declared > limit ? undefined : await readLimited(ctx.req, limit);
    if (!raw) {
      // Drained, not kept: the connection stays usable for the answer.
      if (declared > limit) ctx.req.resume();
      ctx.state.upload = { tooLarge: true } satisfies Upload;
      ctx.request.body = {};
      return next();
    }
    const body: Record<string, string | string[]> = {};
    const upload: Upload = { tooLarge: false };
    for (const part of parseParts(raw, boundary)) {
      if (part.name === 'file') {
        if (part.value.length) { upload.file = part.value; upload.fileName = part.fileName; }
      } else if (part.name === 'csv') {
        upload.pasted = part.value;
      } else if (!KEPT_APART.has(part.name)) {
        // Short fields are text for the form gate; what is too long is cut, and the gate refuses it by its length.
        const value = part.value.subarray(0, MAX_FIELD + 1).toString('utf8');
        const seen = body[part.name];
        body[part.name] = seen === undefined ? value : ([] as string[]).concat(seen, value);
      }
    }
    ctx.state.upload = upload;
    ctx.request.body = body;
    await next();
  };
}
