import request from 'supertest';
import type { Response } from 'supertest';

export function unescapeHtml(s: string): string {
  return s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(parseInt(n, 16)))
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The first form's action on a page (the step's own form). */
export function formAction(html: string, containing = ''): string | undefined {
  const actions = [...html.matchAll(/<form[^>]*action="([^"]+)"/g)].map((m) => unescapeHtml(m[1]!));
  return actions.find((a) => a.includes(containing));
}

/**
 * A person's browser: a cookie jar (supertest's agent) that follows
 * redirects within pharmid and stops at the first one that leaves it (the
 * portal's redirect URI), or at a page.
 */
export class Browser {
  readonly agent: ReturnType<typeof request.agent>;
  /** Every page path shown, in order (for screenshots of what a person saw). */
  readonly visited: string[] = [];

  constructor(readonly base: string) {
    this.agent = request.agent(base);
  }

  private local(url: string): string | undefined {
    if (url.startsWith('/')) return url;
    const u = new URL(url);
    return u.origin === new URL(this.base).origin ? `${u.pathname}${u.search}` : undefined;
  }

  /** GET, following redirects inside pharmid; returns the last response. */
  async open(url: string): Promise<Response> {
    let path = this.local(url);
    if (!path) throw new Error(`not a pharmid URL: ${url}`);
    for (let hops = 0; hops < 20; hops += 1) {
      const res = await this.agent.get(path).redirects(0);
      this.visited.push(path);
      const next = res.status >= 300 && res.status < 400 ? res.headers.location : undefined;
      if (!next) return res;
      const local = this.local(next);
      if (!local) return res;
      path = local;
    }
    throw new Error('too many redirects');
  }

  /** POSTs a form and follows where it leads. */
  async submit(action: string, form: Record<string, string>): Promise<Response> {
    const path = this.local(action)!;
    const res = await this.agent.post(path).type('form').send(form).redirects(0);
    const next = res.status >= 300 && res.status < 400 ? res.headers.location : undefined;
    if (!next || !this.local(next)) return res;
    return this.open(next);
  }
}
