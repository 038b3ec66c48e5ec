import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import { usePharmidWithPortal } from '../helpers/setup.js';
import { Browser, formAction } from '../helpers/browser.js';
import { Portal } from '../helpers/portal.js';
import { linkPerson, makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { enrolmentOf, signInTo, totpCode, type Person } from '../helpers/sign-in.js';
import {
  answer, errorMessages, errorPageText, expectPage, inputValue, looksLikeStackTrace, openAuthorization, portalRedirect, postRaw, withAuthenticator,
} from '../helpers/pages.js';
import { disableUser, resetPassword } from '../../src/domain/users.js';

const t = usePharmidWithPortal();

const now = () => t.pharmid.clock.now();
const at = (seconds: number) => new Date(now().getTime() + seconds * 1000);
const messages = (res: Response) => errorMessages(res.text).join(' ');

/** A six-digit code that is wrong for this secret at every step pharmid would accept now. */
function wrongCode(secret: string): string {
  const near = new Set([-30, 0, 30].map((s) => totpCode(secret, at(s))));
  for (let n = 0; ; n += 1) {
    const code = String(n).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

/** Opens a sign-in in a new browser and answers the password page; returns the page after it. */
async function afterPassword(person: Person, browser = new Browser(t.pharmid.url), client = t.portal) {
  const { res } = await openAuthorization(client, browser);
  return { browser, page: await answer(browser, expectPage(res, 'password'), { email: person.email, password: person.password }) };
}

const enrolled = async () => withAuthenticator(t.pharmid.deps, await makePerson(t.pharmid.deps), t.pharmid.clock);

describe('passwords', () => {
  test('a wrong password and an unknown email get the same message and a 401', async () => {
    const person = await enrolled();
    const browser = new Browser(t.pharmid.url);
    const { res } = await openAuthorization(t.portal, browser);

    const wrongPassword = expectPage(await answer(browser, expectPage(res, 'password'), { email: person.email, password: 'not my password at all' }), 'password', 401);
    const unknownEmail = expectPage(await answer(browser, wrongPassword, { email: 'nobody.here@example.nhs.uk', password: person.password }), 'password', 401);

    expect(messages(wrongPassword)).toMatch(/email address or password is not right/);
    expect(messages(unknownEmail)).toBe(messages(wrongPassword));
    // Apart from the CSRF token and the passkey challenge (fresh on every page), the pages are the same.
    const fresh = (html: string) => html.replace(/name="_csrf" value="[^"]*"/g, '').replace(/data-passkey-options="[^"]*"/g, '');
    expect(fresh(unknownEmail.text.replace(/nobody\.here@example\.nhs\.uk/g, 'EMAIL')))
      .toBe(fresh(wrongPassword.text.replace(new RegExp(person.email.replace(/\./g, '\\.'), 'g'), 'EMAIL')));
    // What was typed in the email field stays; the password never comes back.
    expect(inputValue(unknownEmail.text, 'email')).toBe('nobody.here@example.nhs.uk');
    expect(unknownEmail.text).not.toContain(person.password);

    // The right answer still works afterwards.
    expectPage(await answer(browser, unknownEmail, { email: person.email, password: person.password }), 'otp');
  });

  test('a disabled person cannot sign in, and is told the same as for a wrong password', async () => {
    const person = await enrolled();
    const other = await makePerson(t.pharmid.deps);
    const reference = (await afterPassword({ ...other, password: 'not the password' })).page;
    await disableUser(t.pharmid.deps, { kind: 'cli' }, person.email);

    const { page } = await afterPassword(person);

    expectPage(page, 'password', 401);
    expect(messages(page)).toBe(messages(expectPage(reference, 'password', 401)));
  });
});

describe('authenticator codes', () => {
  test('a wrong code is refused with a message, and the right one then works', async () => {
    const person = await enrolled();
    const { browser, page } = await afterPassword(person);

    const wrong = expectPage(await answer(browser, expectPage(page, 'otp'), { code: wrongCode(person.totpSecret) }), 'otp', 401);
    expect(messages(wrong)).toMatch(/not right/);
    expect(messages(wrong)).toContain(person.email); // which entry in the app to use
    const letters = expectPage(await answer(browser, wrong, { code: 'abcdef' }), 'otp', 400);
    expect(messages(letters)).toMatch(/6 digits/);

    const done = portalRedirect(await answer(browser, letters, { code: totpCode(person.totpSecret, now()) }));
    expect(done?.searchParams.get('code')).toBeTruthy();
  });

  test('the code that confirmed enrolment cannot be used again to sign in', async () => {
    // Start at the beginning of a 30 s step, so enrolment and the sign-in after it share one step.
    t.pharmid.clock.advance((30_000 - (now().getTime() % 30_000)) / 1000);
    const person = await makePerson(t.pharmid.deps);
    await signInTo(t.portal, new Browser(t.pharmid.url), person, t.pharmid.clock); // enrols with the code of this time step
    const { browser, page } = await afterPassword(person);

    const reused = expectPage(await answer(browser, expectPage(page, 'otp'), { code: totpCode(person.totpSecret!, now()) }), 'otp', 401);
    expect(messages(reused)).toMatch(/used already/);

    t.pharmid.clock.advance(30);
    expect(portalRedirect(await answer(browser, reused, { code: totpCode(person.totpSecret!, now()) }))?.searchParams.get('code')).toBeTruthy();
  });

  test('a code that signed the person in is refused again, even in a new sign-in', async () => {
    const person = await enrolled();
    const code = totpCode(person.totpSecret, now());
    const first = await afterPassword(person);
    expect(portalRedirect(await answer(first.browser, expectPage(first.page, 'otp'), { code }))?.searchParams.get('code')).toBeTruthy();

    const second = await afterPassword(person);
    const again = expectPage(await answer(second.browser, expectPage(second.page, 'otp'), { code }), 'otp', 401);
    expect(messages(again)).toMatch(/used already/);
  });

  test('after a code of a later time step was used, an earlier step is refused although it is within the window', async () => {
    const person = await enrolled();
    const first = await afterPassword(person);
    // A phone whose clock runs 30 s fast: the next step's code is accepted.
    const ahead = await answer(first.browser, expectPage(first.page, 'otp'), { code: totpCode(person.totpSecret, at(30)) });
    expect(portalRedirect(ahead)?.searchParams.get('code')).toBeTruthy();

    // Now the current step, never used, and the one before: both earlier than the step used.
    const second = await afterPassword(person);
    const current = expectPage(await answer(second.browser, expectPage(second.page, 'otp'), { code: totpCode(person.totpSecret, now()) }), 'otp', 401);
    expectPage(await answer(second.browser, current, { code: totpCode(person.totpSecret, at(-30)) }), 'otp', 401);

    t.pharmid.clock.advance(60);
    expect(portalRedirect(await answer(second.browser, current, { code: totpCode(person.totpSecret, now()) }))?.searchParams.get('code')).toBeTruthy();
  });
});

test('a recovery code works once: the same code in a second sign-in is refused, another one works', async () => {
  const person = await enrolled();
  const [code, other] = person.recoveryCodes;

  // Two sign-ins side by side, both at the recovery-code page.
  const a = await afterPassword(person);
  const b = await afterPassword(person);
  const recoveryA = expectPage(await a.browser.open(formAction(expectPage(a.page, 'otp').text, '/interaction/')!.replace(/otp$/, 'recovery')), 'recovery');
  const recoveryB = expectPage(await b.browser.open(formAction(expectPage(b.page, 'otp').text, '/interaction/')!.replace(/otp$/, 'recovery')), 'recovery');

  expectPage(await answer(a.browser, recoveryA, { recovery_code: code! }), 'after-recovery');
  const reused = expectPage(await answer(b.browser, recoveryB, { recovery_code: code! }), 'recovery', 401);
  expect(messages(reused)).toMatch(/used already/);
  // Typed differently (lower case, no dashes): still the same code, still refused.
  expectPage(await answer(b.browser, reused, { recovery_code: code!.replace(/-/g, '').toLowerCase() }), 'recovery', 401);

  expectPage(await answer(b.browser, reused, { recovery_code: other! }), 'after-recovery');
});

describe('activation', () => {
  async function activationPage() {
    const browser = new Browser(t.pharmid.url);
    const { res } = await openAuthorization(t.portal, browser);
    const link = formAction(expectPage(res, 'password').text, '/interaction/')!.replace(/password$/, 'activate');
    return { browser, page: expectPage(await browser.open(link), 'activate') };
  }

  /** A person whose password an administrator reset: they keep their authenticator and get an activation code. */
  async function afterPasswordReset() {
    const person = await enrolled();
    const { activationCode } = await resetPassword(t.pharmid.deps, { kind: 'cli' }, person.email);
    return { ...person, activationCode, password: 'a fresh passphrase' };
  }

  test('a wrong activation code is refused; a code works once', async () => {
    const person = await afterPasswordReset();
    const code = person.activationCode;
    const a = await activationPage();

    const wrong = expectPage(await answer(a.browser, a.page, { email: person.email, activation_code: 'ABCDE-FGHJK', new_password: person.password }), 'activate', 400);
    expect(messages(wrong)).toMatch(/activation code is not right/);
    expectPage(await answer(a.browser, wrong, { email: person.email, activation_code: code, new_password: person.password }), 'otp');

    // Used once: a second use is refused, and does not change the password chosen the first time.
    const b = await activationPage();
    const twice = expectPage(await answer(b.browser, b.page, { email: person.email, activation_code: code, new_password: 'another good passphrase' }), 'activate', 400);
    expect(messages(twice)).toBe(messages(wrong));
    expectPage((await afterPassword({ ...person, password: 'another good passphrase' })).page, 'password', 401);
    expectPage((await afterPassword(person)).page, 'otp');
  });

  test('a too-short new password gets a clear message and does not use up the code', async () => {
    const person = await afterPasswordReset();
    const { browser, page } = await activationPage();

    const short = expectPage(await answer(browser, page, { email: person.email, activation_code: person.activationCode, new_password: 'short' }), 'activate', 400);
    expect(messages(short)).toMatch(/at least 8 characters/);
    expect(short.text).toMatch(/id="new_password-error"/);
    expect(inputValue(short.text, 'email')).toBe(person.email);

    expectPage(await answer(browser, short, { email: person.email, activation_code: person.activationCode, new_password: person.password }), 'otp');
  });
});

describe('fresh sign-in on demand', () => {
  test('prompt=login asks for the password and code again although a session exists', async () => {
    const person = await enrolled();
    const browser = new Browser(t.pharmid.url);
    await signInTo(t.portal, browser, person, t.pharmid.clock);
    t.pharmid.clock.advance(30);

    expect((await signInTo(t.portal, browser, person, t.pharmid.clock)).steps).toEqual([]);
    const forced = await signInTo(t.portal, browser, person, t.pharmid.clock, { prompt: 'login' });
    expect(forced.steps).toEqual(['password', 'otp']);
    expect(forced.claims.sub).toBe(person.id);
  });

  test('max_age=0 forces a fresh sign-in and the new ID token has a newer auth_time', async () => {
    const person = await enrolled();
    const browser = new Browser(t.pharmid.url);
    const before = await signInTo(t.portal, browser, person, t.pharmid.clock);
    await sleep(1100); // auth_time is in whole seconds of real time
    t.pharmid.clock.advance(30);

    const kept = await signInTo(t.portal, browser, person, t.pharmid.clock, { max_age: '3600' });
    expect(kept.steps).toEqual([]);
    expect(kept.claims.auth_time).toBe(before.claims.auth_time);

    const fresh = await signInTo(t.portal, browser, person, t.pharmid.clock, { max_age: '0' });
    expect(fresh.steps).toEqual(['password', 'otp']);
    expect(fresh.claims.auth_time).toBeGreaterThan(before.claims.auth_time!);
  });
});

describe('bad authorization requests', () => {
  const noStack = (res: Response) => expect(looksLikeStackTrace(res.text)).toBe(false);

  test('an unknown client_id gets an error page from pharmid (400), not a redirect', async () => {
    const url = new URL('/auth', t.pharmid.url);
    url.search = new URLSearchParams({
      client_id: 'no-such-portal', redirect_uri: 'http://localhost:8080/callback', response_type: 'code', scope: 'openid', state: 'abc',
    }).toString();
    const res = await new Browser(t.pharmid.url).open(url.href);

    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.type).toBe('text/html');
    expect(errorPageText(res.text)).toMatch(/client/i);
    noStack(res);
  });

  test.each([
    ['another site', 'https://attacker.example/callback'],
    ['a registered URI plus a query', 'http://localhost:8080/callback?next=https://attacker.example'],
    ['a registered URI with another path', 'http://localhost:8080/callback/../steal'],
    ['another port', 'http://localhost:8081/callback'],
  ])('a redirect_uri that is not registered (%s) is refused with a page, never redirected to', async (_name, redirectUri) => {
    const req = await t.portal.authorizationRequest({ redirect_uri: redirectUri });
    const res = await new Browser(t.pharmid.url).open(req.url);

    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(errorPageText(res.text)).toMatch(/redirect_uri/);
    noStack(res);
  });

  test('a public t.portal must use PKCE with S256: without code_challenge, or with plain, it gets an error', async () => {
    const client = await makeClient(t.pharmid.deps, { name: 'Public Portal', public: true });
    const publicPortal = await Portal.connect(t.pharmid.config.issuer, client);
    const metadata = await (await fetch(`${t.pharmid.url}/.well-known/openid-configuration`)).json() as { code_challenge_methods_supported: string[] };
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);

    const base = { client_id: client.client_id, redirect_uri: 'http://localhost:8080/callback', response_type: 'code', scope: 'openid', state: 'st4te' };
    const verifier = 'a'.repeat(43);
    const attempts: Record<string, string>[] = [{}, { code_challenge: verifier, code_challenge_method: 'plain' }, { code_challenge: verifier }];
    for (const extra of attempts) {
      const url = `${t.pharmid.url}/auth?${new URLSearchParams({ ...base, ...extra })}`;
      const back = portalRedirect(await new Browser(t.pharmid.url).open(url));
      expect(back?.searchParams.get('error')).toBe('invalid_request');
      expect(back?.searchParams.get('error_description')).toMatch(/PKCE|code_challenge/);
      expect(back?.searchParams.get('state')).toBe('st4te');
      expect(back?.searchParams.get('code')).toBeNull();
    }

    // With S256 the same t.portal signs the person in and gets tokens without a secret.
    const { tokens, steps } = await signInTo(publicPortal, new Browser(t.pharmid.url), await enrolled(), t.pharmid.clock);
    expect(steps).toEqual(['password', 'otp']);
    expect(tokens.id_token).toBeTruthy();
  });
});

describe('a sign-in that is gone', () => {
  const expired = (res: Response) => {
    expect(res.status).toBe(400);
    expect(res.type).toBe('text/html');
    expect(errorPageText(res.text)).toMatch(/sign-in has expired/);
    expect(looksLikeStackTrace(res.text)).toBe(false);
  };

  test('a step form posted from a browser without the interaction cookie gets a 400 page saying the sign-in expired', async () => {
    const person = await enrolled();
    const browser = new Browser(t.pharmid.url);
    const { res } = await openAuthorization(t.portal, browser);
    const action = formAction(expectPage(res, 'password').text, '/interaction/')!;

    // Another browser, with pharmid's anti-forgery cookie and token of its own but not this sign-in's cookie.
    const other = new Browser(t.pharmid.url);
    const { res: own } = await openAuthorization(t.portal, other);
    expired(await answer(other, own, { email: person.email, password: person.password }, action));
    expired(await other.open(action.replace(/\/password$/, '')));

    // A browser with no cookies at all is refused as cleanly.
    const fresh = new Browser(t.pharmid.url);
    const bare = await postRaw(fresh, action, new URLSearchParams({ email: person.email, password: person.password }).toString());
    expect(bare.status).toBeGreaterThanOrEqual(400);
    expect(bare.status).toBeLessThan(500);
    expect(bare.headers.location).toBeUndefined();
    expect(errorPageText(bare.text)).toMatch(/expired/);
    expect(looksLikeStackTrace(bare.text)).toBe(false);

    // None of that disturbed the sign-in in the browser that started it.
    expectPage(await answer(browser, res, { email: person.email, password: person.password }), 'otp');
  });

  test('an interaction past its lifetime gets the same 400 page, and the t.portal can start again', async () => {
    const short = await startTestPharmid({ INTERACTION_TTL: '1' }, {
      backends: t.pharmid.backends_, secretKey: t.pharmid.config.secretKey.toString('base64'), cookieKey: t.pharmid.config.cookieKeys[0]!,
    });
    try {
      expect(short.config.ttl.interaction).toBe(1);
      const person = await makePerson(short.deps);
      const shortPortal = await Portal.connect(short.config.issuer, await makeClient(short.deps));
      const browser = new Browser(short.url);
      const { res } = await openAuthorization(shortPortal, browser);
      const page = expectPage(res, 'password');
      await sleep(1200);

      expired(await answer(browser, page, { email: person.email, password: person.password }));
      expired(await browser.open(formAction(page.text, '/interaction/')!.replace(/\/password$/, '')));

      // The t.portal sends the person back to pharmid, and a new sign-in starts.
      expectPage((await openAuthorization(shortPortal, browser)).res, 'password');
    } finally {
      await short.stop();
    }
  });
});

/** Malformed bodies for a form with these fields (the page's anti-forgery token is added to each). */
function badBodies(fields: string[]): [string, string][] {
  const each = (value: (name: string) => string) => fields.map(value).join('&');
  return [
    ['no fields', ''],
    ['arrays', each((n) => `${n}[]=a&${n}[]=b`)],
    ['objects', each((n) => `${n}[x]=a`)],
    ['NUL bytes', each((n) => `${n}=%00ab%00cd`)],
    ['100 kB values', each((n) => `${n}=${'A'.repeat(100_000)}`)],
    ['30 kB values', each((n) => `${n}=${'7'.repeat(30_000)}`)],
    ['broken percent-encoding and emoji', each((n) => `${n}=%E0%A4%A%F0%9F%92%A9`)],
    ['prototype keys', '__proto__[x]=1&constructor[prototype][y]=1'],
  ];
}

interface FormCase {
  fields: string[];
  /** A browser on the form's page, and the answer that moves on from it. */
  open(): Promise<{ browser: Browser; page: Response; valid: Record<string, string>; next: string }>;
}

const withSecret = async () => {
  const person = await makePerson(t.pharmid.deps);
  const { browser, page } = await afterPassword(person);
  return { person, browser, page: expectPage(page, 'enrol') };
};

const FORMS: Record<string, FormCase> = {
  password: {
    fields: ['email', 'password'],
    async open() {
      const person = await enrolled();
      const browser = new Browser(t.pharmid.url);
      const { res } = await openAuthorization(t.portal, browser);
      return { browser, page: expectPage(res, 'password'), valid: { email: person.email, password: person.password }, next: 'otp' };
    },
  },
  activate: {
    fields: ['email', 'activation_code', 'new_password'],
    async open() {
      const person = await makePerson(t.pharmid.deps, { activate: true });
      const browser = new Browser(t.pharmid.url);
      const { res } = await openAuthorization(t.portal, browser);
      const page = expectPage(await browser.open(formAction(res.text, '/interaction/')!.replace(/password$/, 'activate')), 'activate');
      return { browser, page, valid: { email: person.email, activation_code: person.activationCode!, new_password: person.password }, next: 'enrol' };
    },
  },
  enrol: {
    fields: ['code'],
    async open() {
      const { browser, page } = await withSecret();
      return { browser, page, valid: { code: totpCode(enrolmentOf(page.text).secret, now()) }, next: 'recovery-codes' };
    },
  },
  otp: {
    fields: ['code'],
    async open() {
      const person = await enrolled();
      const { browser, page } = await afterPassword(person);
      return { browser, page: expectPage(page, 'otp'), valid: { code: totpCode(person.totpSecret, now()) }, next: 'portal' };
    },
  },
  recovery: {
    fields: ['recovery_code'],
    async open() {
      const person = await enrolled();
      const { browser, page } = await afterPassword(person);
      const recovery = expectPage(await browser.open(formAction(page.text, '/interaction/')!.replace(/otp$/, 'recovery')), 'recovery');
      return { browser, page: recovery, valid: { recovery_code: person.recoveryCodes[0]! }, next: 'after-recovery' };
    },
  },
  site: {
    fields: ['site'],
    async open() {
      const site = await makeSite(t.pharmid.deps, 'Second Site');
      const person = await enrolled();
      await linkPerson(t.pharmid.deps, person.email, site.ods_code);
      const { browser, page } = await afterPassword(person);
      const sitePage = expectPage(await answer(browser, expectPage(page, 'otp'), { code: totpCode(person.totpSecret, now()) }), 'site');
      return { browser, page: sitePage, valid: { site: site.ods_code }, next: 'portal' };
    },
  },
  consent: {
    fields: [],
    async open() {
      const person = await enrolled();
      const outside = await Portal.connect(t.pharmid.config.issuer, await makeClient(t.pharmid.deps, { name: 'Outside', firstParty: false }));
      const { browser, page } = await afterPassword(person, new Browser(t.pharmid.url), outside);
      const consentPage = expectPage(await answer(browser, expectPage(page, 'otp'), { code: totpCode(person.totpSecret, now()) }), 'consent');
      return { browser, page: consentPage, valid: {}, next: 'portal' };
    },
  },
};

describe('bad input on the interaction forms', () => {
  test.each(Object.keys(FORMS))('the %s form answers malformed input with a 4xx and a clear message, never a 500, and still works after', async (name) => {
    const form = FORMS[name]!;
    const { browser, page, valid, next } = await form.open();
    const action = formAction(page.text, '/interaction/')!;
    const cases: [string, string, Response | undefined][] = [
      // Forms without fields accept any extra field; only what cannot be accepted is tried on them.
      ...(form.fields.length ? badBodies(form.fields) : [['100 kB value', `x=${'A'.repeat(100_000)}`]] as [string, string][])
        .map(([label, body]) => [label, body, page] as [string, string, Response]),
      ['no anti-forgery token', new URLSearchParams(valid).toString(), undefined],
      ['anti-forgery token as an array', `_csrf[]=a&_csrf[]=b&${new URLSearchParams(valid)}`, undefined],
    ];

    const wrong: string[] = [];
    for (const [label, body, withTokenOf] of cases) {
      const res = await postRaw(browser, action, body, withTokenOf);
      const message = res.status >= 400 ? messages(res) || errorPageText(res.text) : '';
      const ok = res.status >= 400 && res.status < 500 && /[a-z]{3,}.*[a-z]{3,}/i.test(message) && !looksLikeStackTrace(res.text);
      if (!ok) wrong.push(`${label}: ${res.status} ${res.headers.location ?? ''} ${message.slice(0, 120)}`);
    }
    expect(wrong).toEqual([]);

    const res = await answer(browser, page, valid);
    if (next === 'portal') expect(portalRedirect(res)?.searchParams.get('code')).toBeTruthy();
    else expectPage(res, next);
  });
});
