import { Browser, formAction, hiddenFields } from '../helpers/browser.js';
import type { Portal } from '../helpers/portal.js';
import type { TestPharmid } from '../helpers/pharmid.js';

/**
 * One sign-in page, posted many times (as a script would): each post carries
 * the page's hidden fields and `headers`. `step` picks the page (password or activate).
 */
export async function openForm(p: TestPharmid, portal: Portal, step: 'password' | 'activate' = 'password', opts: { browser?: Browser; params?: Record<string, string> } = {}) {
  const browser = opts.browser ?? new Browser(p.url);
  let page = await browser.open((await portal.authorizationRequest(opts.params)).url);
  if (step === 'activate') page = await browser.open(formAction(page.text, '/interaction/')!.replace(/password$/, 'activate'));
  const action = formAction(page.text, `/${step}`)!;
  const hidden = hiddenFields(page.text, action);
  const path = new URL(action, p.url).pathname;
  return {
    browser,
    path,
    post: (form: Record<string, string>, headers: Record<string, string> = {}) =>
      browser.agent.post(path).type('form').set(headers).send({ ...hidden, ...form }).redirects(0),
  };
}

export const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});

/** Cheap hashes, so that floods stay small and fast (the limits under test do not depend on the cost). */
export const CHEAP_ARGON2 = { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' };
