import { CookieJar, HttpClient, type HttpResponse } from './http.js';
import type { BenchClient, BenchUser } from './seed.js';
import { percentile, round } from './stats.js';

/** The flooding caller and the bystander: two loopback addresses the server tells apart by the socket. */
export const FLOOD_ADDRESS = '127.0.0.2';
export const BYSTANDER_ADDRESS = '127.0.0.3';

export interface FloodOptions {
  seconds: number;
  /** Wrong passwords in flight at once from the flooding address. */
  concurrency: number;
}

export interface FloodReport {
  seconds: number;
  concurrency: number;
  /** Answers the flood got, by status (401 checked, 429 wait, 503 busy). */
  floodAnswers: Record<string, number>;
  floodRequests: number;
  /** Flooding browsers whose sign-in page opened (each then posts again and again). */
  floodBrowsers?: number;
  /** The bystander's password step (POST of a right password), while the flood ran. */
  bystander: { signIns: number; failed: number; failures?: string[]; p50Ms: number; p99Ms: number; maxMs: number };
}

function formOf(html: string): { action: string; hidden: Record<string, string> } | undefined {
  const form = /<form[^>]*action="([^"]*\/interaction\/[^"]+\/password)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return undefined;
  const hidden: Record<string, string> = {};
  for (const m of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]+)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1] ?? '';
    if (name) hidden[name] = value.replace(/&amp;/g, '&');
  }
  return { action: form[1]!.replace(/&amp;/g, '&'), hidden };
}

/** A browser at `http`'s address opens a portal's sign-in and stops at the password page. */
async function openSignIn(http: HttpClient, client: BenchClient) {
  const jar = new CookieJar();
  const get = async (path: string): Promise<HttpResponse> => {
    const cookie = jar.header(path);
    const res = await http.request('GET', path, cookie ? { cookie } : {});
    jar.store(res.setCookie);
    return res;
  };
  const query = new URLSearchParams({
    client_id: client.clientId, redirect_uri: client.redirectUri, response_type: 'code', scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'flood', nonce: 'flood',
  });
  let res = await get(`/auth?${query}`);
  for (let hop = 0; hop < 5 && res.status >= 300 && res.status < 400 && res.location; hop += 1) {
    res = await get(new URL(res.location, 'http://pharmid').pathname);
  }
  const form = formOf(res.body);
  if (!form) throw new Error(`no password page (status ${res.status})`);
  const post = async (email: string, password: string) => {
    const res2 = await http.request('POST', form.action, {
      cookie: jar.header(form.action), 'content-type': 'application/x-www-form-urlencoded',
    }, new URLSearchParams({ ...form.hidden, email, password }).toString());
    jar.store(res2.setCookie);
    return res2;
  };
  return { post };
}

/**
 * One address floods the password step with wrong passwords (`concurrency`
 * in flight, for `seconds`) while a bystander at another address signs in,
 * one password step 100 ms after the last: how long the bystander's step takes is
 * what the argon2 bounds are for. Everything on loopback; bounded in time
 * and in requests in flight.
 */
export async function flood(
  host: string, port: number, client: BenchClient, people: BenchUser[], opts: FloodOptions, always: Record<string, string> = {},
): Promise<FloodReport> {
  const attacker = new HttpClient(host, port, opts.concurrency, always, FLOOD_ADDRESS);
  const bystander = new HttpClient(host, port, 2, always, BYSTANDER_ADDRESS);
  const answers: Record<string, number> = {};
  let requests = 0;
  let deadline = Number.POSITIVE_INFINITY;
  try {
    // The flooding browsers open their sign-in pages 50 at a time; one that fails to open is left out.
    const forms: Awaited<ReturnType<typeof openSignIn>>[] = [];
    for (let i = 0; i < opts.concurrency; i += 50) {
      const batch = await Promise.allSettled(Array.from({ length: Math.min(50, opts.concurrency - i) }, () => openSignIn(attacker, client)));
      for (const b of batch) if (b.status === 'fulfilled') forms.push(b.value);
    }
    // The measured time starts once every flooding browser is ready.
    deadline = performance.now() + opts.seconds * 1000;
    const floodDone = Promise.all(forms.map(async (form, w) => {
      for (let i = 0; performance.now() < deadline; i += 1) {
        // A new email each time, so no account's own limit stops the flood: only the address's bounds can.
        const res = await form.post(`flood.${w}.${i}@example.nhs.uk`, `wrong password ${w}.${i}`).catch(() => ({ status: 0 }));
        requests += 1;
        answers[res.status] = (answers[res.status] ?? 0) + 1;
      }
    }));

    const latencies: number[] = [];
    const failures: string[] = [];
    for (let i = 1; performance.now() < deadline; i += 1) {
      const person = people[i % people.length]!;
      try {
        const form = await openSignIn(bystander, client);
        const started = performance.now();
        const res = await form.post(person.email, person.password);
        const ms = performance.now() - started;
        // A right password leads on (303 to the code step); anything else is a failed sign-in.
        if (res.status === 303) latencies.push(ms);
        else failures.push(`password step answered ${res.status}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await floodDone;
    return {
      seconds: opts.seconds,
      concurrency: opts.concurrency,
      floodAnswers: answers,
      floodRequests: requests,
      floodBrowsers: forms.length,
      bystander: {
        signIns: latencies.length, failed: failures.length, ...(failures.length ? { failures: [...new Set(failures)] } : {}),
        p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)), maxMs: round(Math.max(...latencies)),
      },
    };
  } finally {
    attacker.close();
    bystander.close();
  }
}

export function formatFlood(f: FloodReport): string {
  const answers = Object.entries(f.floodAnswers).map(([s, n]) => `${n}×${s}`).join(', ');
  return [
    `Flood from one address (${FLOOD_ADDRESS}, ${f.concurrency} wrong passwords in flight, ${f.seconds} s): ${f.floodRequests} answered (${answers})`,
    `  another address's password step meanwhile: p50 ${f.bystander.p50Ms} ms, p99 ${f.bystander.p99Ms} ms, max ${f.bystander.maxMs} ms over ${f.bystander.signIns} sign-ins${f.bystander.failed ? `, ${f.bystander.failed} failed (${f.bystander.failures!.join('; ')})` : ''}`,
  ].join('\n');
}
