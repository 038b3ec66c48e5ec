import { checkTotp, codeAdvice, type CodeVerdict } from '../../domain/factors/authenticators.js';
import { InvalidInput, Rejected } from '../../domain/errors.js';
import { hasSecondFactor, provedNow, type FlowState } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';

/** The app's code is asked when the person has an app, unless the portal demands a passkey (a code is not phishing-resistant). */
export const otpDue = (s: FlowState) => s.prompt === 'login' && !!s.userId && !s.mfa && s.hasAuthenticator === true && !s.phrDemanded;

/** A second factor is awaited (app, passkey, or a recovery code in place of either). */
export const secondFactorAwaited = (s: FlowState) => s.prompt === 'login' && !!s.userId && !s.mfa && hasSecondFactor(s);

/** What to tell the person about a code that did not work. */
function advice(verdict: Exclude<CodeVerdict, 'ok'>, issuer: string, email: string): string {
  return codeAdvice(verdict, `The code is not right. Check you are reading the entry labelled ${issuer} (${email}) in your app, and enter the code it shows now.`);
}

export const otp: Step = {
  name: 'otp',
  applies: otpDue,
  async render(c, { errors }) {
    return {
      template: 'otp',
      model: {
        title: 'Enter your authenticator code',
        action: c.url('otp'),
        recoveryUrl: c.url('recovery'),
        // The person's passkeys are offered beside the app.
        passkeyUrl: c.state.hasPasskey ? c.url('passkey') : undefined,
        issuer: c.deps.settings.totp.issuer,
        email: c.state.email,
        errors,
      },
    };
  },
  async submit(c, form) {
    const code = (form.code ?? '').replace(/\s+/g, '');
    if (!code) throw new InvalidInput('Enter the 6-digit code from your authenticator app', 'code');
    if (!/^\d{6}$/.test(code)) throw new InvalidInput('The code is 6 digits, like 123456', 'code');
    const verdict = await checkTotp(c.deps, c.state.userId!, code, c.ip);
    if (verdict !== 'ok') throw new Rejected(advice(verdict, c.deps.settings.totp.issuer, c.state.email!), 'code');
    return { ...c.state, amr: [...new Set([...c.state.amr, 'otp', 'mfa'])], mfa: true, proved: provedNow(c.state, 'otp') };
  },
};
