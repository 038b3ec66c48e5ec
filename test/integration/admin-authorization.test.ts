import request from 'supertest';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import type { Browser } from '../helpers/browser.js';
import { makeClient } from '../helpers/factories.js';
import { addSite } from '../../src/domain/sites.js';
import { createUser, disableUser, linkUser } from '../../src/domain/users.js';
import { apiToken, consoleBrowser, csrfOn, grant, staff, uniqueEmail } from './admin-support.js';

/**
 * The authorization matrix: every role, every administrative act, on the
 * actor's own site (A) and on another (B), through the admin API and through
 * the console. Each act works on a person or portal made for it alone.
 */
let p: TestPharmid;
const cli = { kind: 'cli' } as const;
let A: string;
let B: string;
let C: string;
let D: string;

type Role = 'member' | 'site-admin' | 'commissioner' | 'helpdesk' | 'superadmin';
type Channel = 'api' | 'console';
interface Actor { browser: Browser; csrf: string; token: string }
const actors = {} as Record<Role, Actor>;

beforeAll(async () => {
  p = await startTestPharmid();
  const site = async (name: string) => (await addSite(p.deps, cli, { ods: `M${Math.random().toString(36).slice(2, 7).toUpperCase()}`, name, userCap: null })).ods_code;
  [A, B, C, D] = [await site('Site A'), await site('Site B'), await site('Home of the organisation roles'), await site('Site D')];
  const people: Record<Role, Awaited<ReturnType<typeof staff>>> = {
    member: await staff(p, A, 'member'),
    'site-admin': await staff(p, A, 'site-admin'),
    commissioner: await staff(p, C, 'member'),
    helpdesk: await staff(p, C, 'member'),
    superadmin: await staff(p, C, 'member'),
  };
  await grant(p, people.commissioner.email, 'commissioner', [A]);
  await grant(p, people.helpdesk.email, 'helpdesk');
  await grant(p, people.superadmin.email, 'superadmin');
  for (const role of Object.keys(people) as Role[]) {
    const { browser, page: account } = await consoleBrowser(p, people[role], '/account');
    actors[role] = { browser, csrf: csrfOn(account.text), token: await apiToken(p, browser, people[role]) };
  }
}, 30_000);
afterAll(() => p.stop());

/** A person made for one act: at `site` (and D, when `alsoAtD`), disabled first when asked. */
async function target(site: string, opts: { alsoAtD?: boolean; disabled?: boolean } = {}) {
  const email = uniqueEmail('target');
  const name = `Target ${email.slice(7, 15)}`;
  const { user } = await createUser(p.deps, cli, { email, name, site });
  if (opts.alsoAtD) await linkUser(p.deps, cli, { email, site: D });
  if (opts.disabled) await disableUser(p.deps, cli, email);
  return { id: user.id, email, name };
}

function api(a: Actor, method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: object): Promise<Response> {
  const r = request(p.url)[method](`/api/admin${path}`).set('Authorization', `Bearer ${a.token}`);
  return body ? r.send(body) : r;
}

function page(a: Actor, path: string): Promise<Response> {
  return a.browser.agent.get(`/admin${path}`).redirects(0);
}

function form(a: Actor, path: string, fields: Record<string, string> = {}): Promise<Response> {
  return a.browser.agent.post(`/admin${path}`).type('form').send({ _csrf: a.csrf, ...fields }).redirects(0);
}

/** Runs one act; true when it was allowed (a 2xx or 303), false when refused (403). Anything else fails the test. */
type Act = (a: Actor, via: Channel, site: string) => Promise<boolean>;

function outcome(res: Response): boolean {
  if (res.status === 403) return false;
  if ((res.status >= 200 && res.status < 300) || res.status === 303) return true;
  throw new Error(`unexpected ${res.status}: ${res.text.slice(0, 300)}`);
}

const ACTS: Record<string, Act> = {
  'see the site\'s people': async (a, via, site) => outcome(via === 'api' ? await api(a, 'get', `/sites/${site}/people`) : await page(a, `/sites/${site}`)),
  'read the site\'s audit trail': async (a, via, site) => outcome(via === 'api' ? await api(a, 'get', `/sites/${site}/audit`) : await page(a, `/sites/${site}/audit`)),
  'export the audit trail': async (a, via, site) => outcome(via === 'api' ? await api(a, 'get', `/sites/${site}/audit.csv`) : await page(a, `/sites/${site}/audit.csv`)),
  'add a person': async (a, via, site) => {
    const body = { email: uniqueEmail('added'), name: 'Added Person', role: 'member' };
    return outcome(via === 'api' ? await api(a, 'post', `/sites/${site}/people`, body) : await form(a, `/sites/${site}/people`, body));
  },
  'link a locum as member': async (a, via, site) => {
    const t = await target(D);
    const body = { email: t.email, role: 'member' };
    return outcome(via === 'api' ? await api(a, 'post', `/sites/${site}/locums`, body) : await form(a, `/sites/${site}/locums`, body));
  },
  'find a person': async (a, via, site) => {
    const t = await target(site);
    const res = via === 'api' ? await api(a, 'get', `/people?q=${encodeURIComponent(t.name)}`) : await page(a, `/people?q=${encodeURIComponent(t.name)}`);
    return outcome(res) && res.text.includes(t.email);
  },
  'see a person': async (a, via, site) => {
    const t = await target(site);
    return outcome(via === 'api' ? await api(a, 'get', `/people/${t.id}`) : await page(a, `/people/${t.id}`));
  },
  'change a role': async (a, via, site) => {
    const t = await target(site);
    return outcome(via === 'api' ? await api(a, 'patch', `/people/${t.id}/sites/${site}`, { role: 'site-admin' }) : await form(a, `/people/${t.id}/sites/${site}/role`, { role: 'site-admin' }));
  },
  'remove from the site': async (a, via, site) => {
    const t = await target(site, { alsoAtD: true });
    return outcome(via === 'api' ? await api(a, 'delete', `/people/${t.id}/sites/${site}`) : await form(a, `/people/${t.id}/sites/${site}/remove`));
  },
  ...Object.fromEntries((['reset-password', 'reset-mfa', 'unlock', 'disable', 'enable'] as const).map((act) => [act, (async (a, via, site) => {
    const t = await target(site, { disabled: act === 'enable' });
    // In the console, resets and disabling act from their confirmation page's button.
    const confirmed: Record<string, string> = act === 'unlock' || act === 'enable' ? {} : { confirm: 'yes' };
    return outcome(via === 'api' ? await api(a, 'post', `/people/${t.id}/${act}`) : await form(a, `/people/${t.id}/${act}`, confirmed));
  }) as Act])),
  'change the site': async (a, via, site) => outcome(via === 'api'
    ? await api(a, 'patch', `/sites/${site}`, { address: '1 High Street' })
    : await form(a, `/sites/${site}/edit`, { name: 'Renamed Site', address: '1 High Street', user_cap: '' })),
  'register a portal': async (a, via) => {
    const body = { name: 'New Portal', redirect_uris: ['https://portal.example/callback'] };
    return outcome(via === 'api' ? await api(a, 'post', '/portals', body) : await form(a, '/portals', { name: body.name, redirect_uris: body.redirect_uris[0]! }));
  },
  'rotate a portal secret': async (a, via) => {
    const c = await makeClient(p.deps);
    return outcome(via === 'api' ? await api(a, 'post', `/portals/${c.client_id}/rotate-secret`) : await form(a, `/portals/${c.client_id}/rotate-secret`));
  },
  'disable a portal': async (a, via) => {
    const c = await makeClient(p.deps);
    return outcome(via === 'api' ? await api(a, 'post', `/portals/${c.client_id}/disable`) : await form(a, `/portals/${c.client_id}/disable`));
  },
  'see the MFA rollout': async (a, via) => outcome(via === 'api' ? await api(a, 'get', '/rollout') : await page(a, '/rollout')),
  'export the site\'s readiness': async (a, via, site) => outcome(via === 'api' ? await api(a, 'get', `/sites/${site}/readiness.csv`) : await page(a, `/sites/${site}/readiness.csv`)),
  'set the site\'s MFA rollout': async (a, via, site) => {
    const body = { scope: 'site', site, state: 'announced', enforce_on: '2099-01-01' };
    return outcome(via === 'api' ? await api(a, 'post', '/rollout', body) : await form(a, '/rollout', body));
  },
  'set the MFA rollout for everyone': async (a, via) => {
    const body = { scope: 'global', state: 'enforced' };
    return outcome(via === 'api' ? await api(a, 'post', '/rollout', body) : await form(a, '/rollout', body));
  },
};

const SUPPORT = ['see the site\'s people', 'read the site\'s audit trail', 'export the audit trail', 'link a locum as member', 'find a person', 'see a person', 'reset-password', 'reset-mfa', 'unlock', 'export the site\'s readiness'];
const ADMINISTER = ['add a person', 'change a role', 'remove from the site', 'disable', 'enable'];

/** [own site A, other site B] for each act. */
function expected(role: Role, act: string): [boolean, boolean] {
  if (role === 'superadmin') return [true, true];
  if (role === 'member') return [false, false];
  // Anyone who looks after a site sees the rollout; a site's commissioner sets its policy.
  if (act === 'see the MFA rollout') return [true, true];
  if (act === 'set the site\'s MFA rollout') return role === 'commissioner' ? [true, false] : [false, false];
  if (SUPPORT.includes(act)) return role === 'helpdesk' ? [true, true] : [true, false];
  if (ADMINISTER.includes(act)) return role === 'site-admin' ? [true, false] : [false, false];
  return [false, false];
}

test('the matrix lists every act', () => {
  expect(Object.keys(ACTS).sort()).toEqual([
    ...SUPPORT, ...ADMINISTER, 'change the site', 'register a portal', 'rotate a portal secret', 'disable a portal',
    'see the MFA rollout', 'set the site\'s MFA rollout', 'set the MFA rollout for everyone',
  ].sort());
});

describe.each(['api', 'console'] as Channel[])('through the %s', (via) => {
  test.each(['member', 'site-admin', 'commissioner', 'helpdesk', 'superadmin'] as Role[])('a %s may do what their role allows and nothing more', async (role) => {
    const deniedBefore = (await p.deps.db.query("SELECT count(*)::int AS n FROM audit_events WHERE outcome = 'denied'")).rows[0].n;
    const wrong: string[] = [];
    let denials = 0;
    for (const [name, act] of Object.entries(ACTS)) {
      const want = expected(role, name);
      for (const [i, site] of [A, B].entries()) {
        const got = await act(actors[role], via, site);
        if (got !== want[i]) wrong.push(`${name} at ${i === 0 ? 'own' : 'other'} site: expected ${want[i] ? 'allow' : 'deny'}, got ${got ? 'allow' : 'deny'}`);
        // A search that finds no one is not a refusal: it is not audited as one.
        if (!want[i] && !(name === 'find a person' && role !== 'member')) denials += 1;
      }
    }
    expect(wrong).toEqual([]);
    // Every refusal is in the audit trail.
    const deniedAfter = (await p.deps.db.query("SELECT count(*)::int AS n FROM audit_events WHERE outcome = 'denied'")).rows[0].n;
    expect(deniedAfter - deniedBefore).toBe(denials);
  });
});
