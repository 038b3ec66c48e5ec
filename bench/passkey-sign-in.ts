import type { BenchPasskey } from './passkey-key.js';
import { codeFlow, hiddenFieldsOf, unescapeHtml, type SignInTarget, type StepTimes } from './sign-in.js';

/**
 * A passkey-alone sign-in ("Sign in with a passkey" on the sign-in page):
 * the same authorization code flow as the password + code sign-in, but the
 * one page answered is the sign-in page's passkey form, with an assertion
 * signed by a software key (passkey-key.ts: an ES256 key, clientDataJSON and
 * authenticatorData as a browser and a key make them; user verification
 * on). The server checks it in full
 * (@simplewebauthn/server: challenge, origin, RP ID, signature, counter).
 * No password, so no argon2.
 */

/** The sign-in page's passkey form: its action, hidden fields and the browser's options (challenge, RP ID). */
function passkeyFormOf(html: string) {
  const form = /<form[^>]*action="([^"]*\/interaction\/[^"]+)"[^>]*data-passkey="authenticate"[^>]*data-passkey-options="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return undefined;
  const options = JSON.parse(unescapeHtml(form[2]!)) as { challenge: string };
  return { action: unescapeHtml(form[1]!), hidden: hiddenFieldsOf(form[3]!), options };
}

export function passkeySignIn(t: SignInTarget, key: BenchPasskey, times: StepTimes): Promise<string> {
  return codeFlow(t, times, 'phr', (html, status) => {
    const form = status === 200 ? passkeyFormOf(html) : undefined;
    if (!form) throw new Error(`no passkey form on the sign-in page (status ${status}): ${html.replace(/\s+/g, ' ').slice(0, 200)}`);
    return { label: 'passkey', action: form.action, fields: { ...form.hidden, credential: key.assert(form.options.challenge) } };
  });
}
