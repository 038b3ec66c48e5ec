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
/** The hidden inputs of the first form with this action (the CSRF token, for one), as a browser would send them. */
export function hiddenFields(html: string, action: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const form of html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    if (unescapeHtml(form[1]!) !== action) continue;
    for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]+)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      if (name) fields[unescapeHtml(name)] = unescapeHtml(value);
    }
    // The first form with this action is the one submitted (a second one, like "set it up later", is another button).
    break;
  }
  return fields;
}

export class Browser {
  readonly agent: ReturnType<typeof request.agent>;
  /** Every page path shown, in order (for screenshots of what a person saw). */
  readonly visited: string[] = [];
  /** The last page shown: a form posted from it carries its hidden fields. */
  lastPage = '';

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
      if (!next) {
        if (res.type === 'text/html') this.lastPage = res.text;
        return res;
      }
      const local = this.local(next);
      if (!local) return res;
      path = local;
    }
    throw new Error('too many redirects');
  }

  /**
   * POSTs a form and follows where it leads. The hidden fields of the form
   * with this action on the last page go along, as a browser sends them;
   * `form` adds to or overrides them.
   */
  async submit(action: string, form: Record<string, string>): Promise<Response> {
    const path = this.local(action)!;
    const body = { ...hiddenFields(this.lastPage, action), ...form };
    const res = await this.agent.post(path).type('form').send(body).redirects(0);
    const next = res.status >= 300 && res.status < 400 ? res.headers.location : undefined;
    if (!next || !this.local(next)) {
      if (res.type === 'text/html') this.lastPage = res.text;
      return res;
    }
    return this.open(next);
  }
}
