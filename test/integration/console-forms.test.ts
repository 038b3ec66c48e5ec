import { createHash } from 'node:crypto';
import type { Response } from 'supertest';
import { startTestPharmid, type TestPharmid } from '../helpers/pharmid.js';
import type { Browser } from '../helpers/browser.js';
import { makeClient, makePerson, makeSite } from '../helpers/factories.js';
import { consoleBrowser, csrfOn, grant, staff, uniqueEmail } from './admin-support.js';

/**
 * Every console form, every field, four kinds of bad value: missing, empty,
 * oversized (10 kB) and with a control character. Each answer is a message
 * on the form (a 4xx page with the error summary), never a 500 nor an error
 * page, and nothing is written. A missing or empty optional field may be
 * accepted: that is the form working, and the next row starts afresh.
 *
 * The forms are a table: to cover another form, add a row.
 */
interface FormRow {
  name: string;
  /** Who posts it: a superadmin, or the administrator of site X. */
  who: 'superadmin' | 'siteAdmin';
  /** A page of the console that carries a form token for this browser. */
  page: () => string;
  action: () => string;
  /** A valid post: each field is spoiled in turn, the others kept. */
  valid: () => Record<string, string>;
  /** The form's fields, each spoiled in turn. */
  fields: string[];
  /** Fields a post cannot do without (missing or empty must be refused). */
  required: string[];
  multipart?: boolean;
}

let p: TestPharmid;
let X: { ods_code: string; id: string };
let invited: { id: string };
let portalId: string;
const browsers: Partial<Record<FormRow['who'], Browser>> = {};

const FORMS: FormRow[] = [
  {
    name: 'add a site', fields: ['ods', 'name', 'kind', 'address', 'user_cap'], who: 'superadmin', page: () => '/admin/sites/new', action: () => '/admin/sites',
    valid: () => ({ ods: `F${Math.floor(Math.random() * 9000 + 1000)}`, name: 'Form Pharmacy', kind: 'pharmacy', address: '1 High Street', user_cap: '10' }),
    required: ['ods', 'name'],
  },
  {
    name: 'change a site', fields: ['name', 'address', 'user_cap'], who: 'superadmin', page: () => `/admin/sites/${X.ods_code}/edit`, action: () => `/admin/sites/${X.ods_code}/edit`,
    valid: () => ({ name: 'Form Site', address: '2 High Street', user_cap: '' }), required: [],
  },
  {
    name: 'link a person from another site', fields: ['email', 'role'], who: 'siteAdmin', page: () => `/admin/sites/${X.ods_code}/people/new`, action: () => `/admin/sites/${X.ods_code}/locums`,
    valid: () => ({ email: uniqueEmail('nobody'), role: 'member' }), required: ['email'],
  },
  {
    name: 'register a portal', fields: ['name', 'redirect_uris', 'post_logout_redirect_uris', 'backchannel_logout_uri', 'first_party', 'require_mfa'], who: 'superadmin', page: () => '/admin/portals/new', action: () => '/admin/portals',
    valid: () => ({ name: 'Form Portal', redirect_uris: 'https://form.example/cb', post_logout_redirect_uris: '', backchannel_logout_uri: '', first_party: 'on', require_mfa: 'on' }),
    required: ['name', 'redirect_uris'],
  },
  {
    name: 'set a rollout policy', fields: ['scope', 'site', 'client_id', 'state', 'enforce_on', 'max_skips'], who: 'superadmin', page: () => '/admin/rollout', action: () => '/admin/rollout',
    valid: () => ({ scope: 'client', site: X.ods_code, client_id: portalId, state: 'grace', enforce_on: '2099-01-01', max_skips: '2' }),
    required: ['scope', 'state', 'client_id', 'enforce_on'],
  },
  {
    name: 'check a CSV import', fields: ['csv'], who: 'siteAdmin', page: () => '/admin/import', action: () => '/admin/import', multipart: true,
    valid: () => ({ csv: `email,name,site\r\n${uniqueEmail('formrow')},Form Row,${X.ods_code}\r\n` }), required: ['csv'],
  },
  {
    name: 'apply a CSV import', fields: ['token'], who: 'siteAdmin', page: () => '/admin/import', action: () => '/admin/import/apply',
    valid: () => ({ token: 'not-a-checked-import' }), required: ['token'],
  },
  {
    name: 'choose several people', fields: ['act', 'person'], who: 'siteAdmin', page: () => `/admin/sites/${X.ods_code}`, action: () => `/admin/sites/${X.ods_code}/people/bulk`,
    valid: () => ({ act: 'send-codes', person: invited.id }), required: ['act', 'person'],
  },
  {
    name: 'confirm several people', fields: ['act', 'person'], who: 'siteAdmin', page: () => `/admin/sites/${X.ods_code}`, action: () => `/admin/sites/${X.ods_code}/people/bulk/confirm`,
    valid: () => ({ act: 'disable', person: invited.id }), required: ['act', 'person'],
  },
];

const BAD: [string, (v: string) => string | undefined][] = [
  ['missing', () => undefined],
  ['empty', () => ''],
  ['oversized', () => 'x'.repeat(10 * 1024)],
  ['control', (v) => `${v.slice(0, 3)}\u0000\u0007${v.slice(3)}`],
];

beforeAll(async () => {
  p = await startTestPharmid();
  X = await makeSite(p.deps, 'Forms Pharmacy');
  const admin = await staff(p, X.ods_code, 'site-admin', 'Fern Forms');
  const boss = await staff(p, X.ods_code, 'member', 'Bo Boss');
  await grant(p, boss.email, 'superadmin');
  invited = await makePerson(p.deps, { site: X.ods_code, activate: true, name: 'Ivy Invited' });
  portalId = (await makeClient(p.deps, { name: 'Forms Portal' })).client_id;
  browsers.siteAdmin = (await consoleBrowser(p, admin)).browser;
  p.clock.advance(30);
  browsers.superadmin = (await consoleBrowser(p, boss)).browser;
});
afterAll(() => p.stop());

/** What a form could half-write: the rows of every table the console forms change (the audit trail aside). */
async function snapshot(): Promise<string> {
  const parts: string[] = [];
  for (const q of [
    'SELECT id, email, name, status FROM users ORDER BY id', 'SELECT * FROM memberships ORDER BY user_id, site_id',
    'SELECT id, ods_code, name, address, user_cap FROM sites ORDER BY id', 'SELECT client_id, name, disabled_at FROM clients ORDER BY client_id',
    'SELECT scope, site_id, client_id, state, enforce_on, max_skips FROM rollout_policies ORDER BY id', 'SELECT user_id, purpose FROM activation_codes ORDER BY user_id, purpose',
    'SELECT * FROM pending_memberships ORDER BY 1, 2', 'SELECT count(*) FROM checked_imports',
  ]) parts.push(JSON.stringify((await p.deps.db.query(q)).rows));
  return createHash('sha256').update(parts.join('|')).digest('hex');
}

async function post(row: FormRow, fields: Record<string, string>): Promise<Response> {
  const browser = browsers[row.who]!;
  const page = await browser.open(row.page());
  const token = csrfOn(page.text);
  if (row.multipart) {
    let r = browser.agent.post(row.action()).field('_csrf', token);
    for (const [k, v] of Object.entries(fields)) r = r.field(k, v);
    return r.redirects(0);
  }
  return browser.agent.post(row.action()).type('form').send({ _csrf: token, ...fields }).redirects(0);
}

describe.each(FORMS.map((f) => [f.name, f] as const))('%s', (_name, row) => {
  test.each(row.fields.flatMap((field) => BAD.map(([kind]) => [field, kind] as const)))('%s %s', async (field, kind) => {
    const fields = row.valid();
    const spoil = BAD.find(([k]) => k === kind)![1];
    const value = spoil(fields[field]!);
    if (value === undefined) delete fields[field];
    else fields[field] = value;
    const before = await snapshot();
    const res = await post(row, fields);
    const where = `${row.name}: ${field} ${kind}`;
    expect({ where, serverError: res.status >= 500 }).toEqual({ where, serverError: false });
    const mustRefuse = kind === 'oversized' || kind === 'control' || row.required.includes(field);
    if (mustRefuse) {
      expect({ where, status: res.status >= 400 && res.status < 500 && res.status !== 403 }).toEqual({ where, status: true });
    }
    if (res.status >= 400) {
      // On the form: the error summary, not an error page; no stack trace; the value never echoed with its control characters.
      expect({ where, onForm: res.text.includes('nhsuk-error-summary') && !res.text.includes('<title>Sorry, there is a problem') }).toEqual({ where, onForm: true });
      expect(res.text).not.toMatch(/\bat [\w.<>]+ \([^)]*:\d+:\d+\)|\.[jt]s:\d+:\d+|node_modules\//);
      expect(res.text).not.toContain('\u0000');
      expect({ where, unchanged: await snapshot() }).toEqual({ where, unchanged: before });
    }
  });
});
