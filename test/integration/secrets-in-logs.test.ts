import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { makeClient, makePerson } from '../helpers/factories.js';
import { signInTo, stepOf, totpCode } from '../helpers/sign-in.js';

/** Every log line pharmid writes, at the most talkative level. */
class Capture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  }
}

let p: TestPharmid;
const capture = new Capture();

beforeAll(async () => {
  p = await startTestPharmid({}, undefined, { log: createLogger('trace', capture) });
});
afterAll(() => p.stop());

test('no password, code, secret or token reaches a log line or an error page', async () => {
  const secrets: string[] = [];
  const pages: string[] = [];
  const client = await makeClient(p.deps);
  secrets.push(client.client_secret!);
  const portal = await Portal.connect(p.config.issuer, client);
  const person = await makePerson(p.deps, { activate: true });
  secrets.push(person.password, person.activationCode!, person.activationCode!.replace('-', ''));

  // A wrong password, a wrong activation code and a wrong authenticator code, each shown back on a page.
  const browser = new Browser(p.url);
  const first = await portal.authorizationRequest();
  const page = await browser.open(first.url);
  const wrongPassword = 'Wrong-Password-4471';
  secrets.push(wrongPassword);
  pages.push((await browser.submit(formAction(page.text, '/interaction/')!, { email: person.email, password: wrongPassword })).text);
  const activate = await browser.open(formAction(page.text, '/interaction/')!.replace(/password$/, 'activate'));
  pages.push((await browser.submit(formAction(activate.text, '/interaction/')!, {
    email: person.email, activation_code: 'ZZZZZ-ZZZZZ', new_password: 'another long secret phrase',
  })).text);
  secrets.push('another long secret phrase');

  const signedIn = await signInTo(portal, new Browser(p.url), person, p.clock);
  secrets.push(person.totpSecret!, ...person.recoveryCodes!);
  secrets.push(signedIn.tokens.access_token, signedIn.tokens.refresh_token!, signedIn.tokens.id_token!);
  const code = new URL(signedIn.callback).searchParams.get('code')!;
  secrets.push(code);
  const refreshed = await portal.refresh(signedIn.tokens.refresh_token!);
  secrets.push(refreshed.access_token, refreshed.refresh_token!);
  await portal.userinfo(refreshed.access_token, person.id);

  p.clock.advance(30);
  const again = new Browser(p.url);
  const req = await portal.authorizationRequest();
  const pw = await again.open(req.url);
  const otpPage = await again.submit(formAction(pw.text, '/interaction/')!, { email: person.email, password: person.password });
  expect(stepOf(otpPage.text)).toBe('otp');
  const badCode = String((Number(totpCode(person.totpSecret!, p.clock.now())) + 1) % 1_000_000).padStart(6, '0');
  const wrong = await again.submit(formAction(otpPage.text, '/interaction/')!, { code: badCode });
  pages.push(wrong.text);
  secrets.push(badCode);
  const good = totpCode(person.totpSecret!, p.clock.now());
  await again.submit(formAction(otpPage.text, '/interaction/')!, { code: good });
  secrets.push(good);
  const recovery = await again.open(formAction(otpPage.text, '/interaction/')!.replace(/otp$/, 'recovery'));
  pages.push(recovery.text);

  expect(capture.lines.length).toBeGreaterThan(20);
  const log = capture.lines.join('\n');
  for (const secret of secrets) {
    expect({ secret, inLog: log.includes(secret) }).toEqual({ secret, inLog: false });
    for (const html of pages) expect({ secret, inPage: html.includes(secret) }).toEqual({ secret, inPage: false });
  }
  // Cookies and authorization headers are not logged either.
  expect(log).not.toMatch(/_session|_interaction|Basic [A-Za-z0-9+/=]{10,}|Bearer /);
});
