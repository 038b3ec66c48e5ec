import http from 'node:http';

export interface HttpResponse {
  status: number;
  location?: string;
  setCookie?: string[];
  body: string;
}

const TIMEOUT_MS = 30_000;

/**
 * A lean HTTP/1.1 client over keep-alive sockets to one origin: no redirects
 * followed, no parsing beyond the headers we need, so the load generator
 * spends as little of the shared CPU as it can.
 */
export class HttpClient {
  private readonly agent: http.Agent;

  /**
   * `always` goes with every request (e.g. the headers a TLS-terminating proxy adds);
   * `localAddress` is the loopback address to connect from (127.0.0.x), so that one
   * bench process can act as several callers.
   */
  constructor(readonly host: string, readonly port: number, maxSockets: number, private readonly always: Record<string, string> = {}, private readonly localAddress?: string) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: this.host,
        port: this.port,
        method,
        path,
        agent: this.agent,
        ...(this.localAddress ? { localAddress: this.localAddress } : {}),
        headers: body === undefined ? { ...this.always, ...headers } : { ...this.always, ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: TIMEOUT_MS,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({
          status: res.statusCode ?? 0,
          location: res.headers.location,
          setCookie: res.headers['set-cookie'],
          body: Buffer.concat(chunks).toString('utf8'),
        }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path.split('?')[0]} timed out after ${TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface Cookie { value: string; path: string }

/** One browser's cookies for one origin: name, value and path; expiry only as deletion. */
export class CookieJar {
  private readonly cookies = new Map<string, Cookie>();

  store(setCookie: string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq < 1) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let path = '/';
      let gone = value === '';
      for (const attr of attrs) {
        const [k, v = ''] = attr.trim().split('=');
        const key = k!.toLowerCase();
        if (key === 'path') path = v;
        else if (key === 'max-age' && Number(v) <= 0) gone = true;
        else if (key === 'expires' && Date.parse(v) <= Date.now()) gone = true;
      }
      const id = `${name};${path}`;
      if (gone) this.cookies.delete(id);
      else this.cookies.set(id, { value: `${name}=${value}`, path });
    }
  }

  header(path: string): string {
    const pathname = path.split('?')[0]!;
    const out: string[] = [];
    for (const c of this.cookies.values()) {
      if (pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)) out.push(c.value);
    }
    return out.join('; ');
  }
}
