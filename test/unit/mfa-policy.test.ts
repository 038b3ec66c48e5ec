import { compareStrictness, personTerms, requiresPhr, strictest, type PolicyTerms } from '../../src/domain/mfa-policy.js';

const day = (d: number) => new Date(Date.UTC(2027, 0, d));
const terms = (t: Partial<PolicyTerms>): PolicyTerms => ({ siteId: null, state: 'off', enforceOn: null, maxSkips: 3, skipsUsed: 0, ...t });

test('strictest: enforced > grace > announced > off', () => {
  const [off, announced, grace, enforced] = (['off', 'announced', 'grace', 'enforced'] as const).map((state) => terms({ id: state, state, enforceOn: day(20) }));
  expect(strictest([off!, announced!, grace!]).id).toBe('grace');
  expect(strictest([announced!, off!]).id).toBe('announced');
  expect(strictest([off!, enforced!, grace!]).id).toBe('enforced');
});

test('of two policies in the same state, the earlier date, then the fewer skips left, is stricter', () => {
  const early = terms({ id: 'early', state: 'grace', enforceOn: day(5) });
  const late = terms({ id: 'late', state: 'grace', enforceOn: day(9) });
  expect(strictest([late, early]).id).toBe('early');
  const many = terms({ id: 'many', state: 'grace', enforceOn: day(5), maxSkips: 5 });
  const spent = terms({ id: 'spent', state: 'grace', enforceOn: day(5), maxSkips: 5, skipsUsed: 4 });
  expect(strictest([many, spent]).id).toBe('spent');
  expect(compareStrictness(early, early)).toBe(0);
});

test('a membership without its own policy falls back to global, else enforced; a portal only tightens', () => {
  const off = terms({ id: 'site-off', state: 'off' });
  expect(personTerms({ sites: [off, undefined] }).state).toBe('enforced');
  expect(personTerms({ sites: [off, undefined], global: terms({ id: 'g', state: 'announced', enforceOn: day(3) }) }).id).toBe('g');
  expect(personTerms({ sites: [off], portal: terms({ id: 'portal-off', state: 'off' }) }).id).toBe('site-off');
  expect(personTerms({ sites: [terms({ state: 'enforced' })], portal: terms({ state: 'off' }) }).state).toBe('enforced');
  expect(personTerms({ sites: [off], portal: terms({ id: 'p', state: 'grace', enforceOn: day(2) }) }).id).toBe('p');
  // Nobody's sites: the global policy, else enforced.
  expect(personTerms({ sites: [] }).state).toBe('enforced');
  expect(personTerms({ sites: [], global: off }).state).toBe('off');
});

test('a passkey (phr) is required only by a policy that applies and is enforced now, and only tightens', () => {
  const phr = (state: PolicyTerms['state']) => terms({ state, require: 'phr', enforceOn: day(20) });
  expect(requiresPhr({ sites: [phr('enforced')] })).toBe(true);
  // Announced or grace: not yet (termsAt turns them into enforced on their date).
  expect(requiresPhr({ sites: [phr('grace'), terms({ state: 'enforced' })] })).toBe(false);
  expect(requiresPhr({ sites: [phr('announced')] })).toBe(false);
  // One site of a locum's is enough; a portal's own policy too; a site's own policy hides the global one.
  expect(requiresPhr({ sites: [undefined, phr('enforced')] })).toBe(true);
  expect(requiresPhr({ sites: [undefined], portal: phr('enforced') })).toBe(true);
  expect(requiresPhr({ sites: [undefined], global: phr('enforced') })).toBe(true);
  expect(requiresPhr({ sites: [terms({ state: 'enforced' })], global: phr('enforced') })).toBe(false);
  expect(requiresPhr({ sites: [], global: phr('enforced') })).toBe(true);
  expect(requiresPhr({ sites: [terms({ state: 'enforced', require: 'mfa' })] })).toBe(false);
});
