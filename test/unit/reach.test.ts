import { codeGoesTo, decide, reachOver, type PersonTarget, type Principal } from '../../src/domain/authorization.js';
import type { SiteRole } from '../../src/db/queries/memberships.js';
import type { OrgRole } from '../../src/db/queries/org-roles.js';

/** The rule of reach (DESIGN.md, "Reach") on its own: who covers a person entirely, and what follows from it. */
function principal(opts: { siteAdminOf?: string[]; commissionerOf?: string[]; helpdesk?: boolean; superadmin?: boolean } = {}): Principal {
  return {
    actor: { kind: 'user', id: 'admin' }, operator: false, userId: 'admin',
    superadmin: opts.superadmin ?? false, helpdesk: opts.helpdesk ?? false,
    commissionerOf: new Set(opts.commissionerOf ?? []),
    siteRoles: new Map((opts.siteAdminOf ?? []).map((s) => [s, 'site-admin' as SiteRole])),
  };
}
function person(sites: [string, SiteRole][], orgRoles: OrgRole[] = []): PersonTarget {
  return { id: 'them', orgRoles, sites: new Map(sites) };
}

const adminOfB = principal({ siteAdminOf: ['B'] });
const commissionerOfB = principal({ commissionerOf: ['B'] });
const locum = person([['A', 'member'], ['B', 'member']]);
const atBOnly = person([['B', 'member']]);

test('covering every one of the person\'s sites is entire reach; one of them is partial; none is none', () => {
  for (const p of [adminOfB, commissionerOfB]) {
    expect(reachOver(p, atBOnly)).toBe('entire');
    expect(reachOver(p, locum)).toBe('partial');
    expect(reachOver(p, person([['A', 'member']]))).toBe('none');
  }
  expect(reachOver(principal({ siteAdminOf: ['B'], commissionerOf: ['A'] }), locum)).toBe('entire');
  expect(reachOver(principal({ helpdesk: true }), locum)).toBe('entire');
  expect(reachOver(principal({ superadmin: true }), locum)).toBe('entire');
});

test('administering is reach of its own: a commissioner supports their sites but does not administer them', () => {
  expect(reachOver(commissionerOfB, atBOnly, 'administer')).toBe('partial');
  expect(reachOver(adminOfB, atBOnly, 'administer')).toBe('entire');
  expect(reachOver(principal({ helpdesk: true }), atBOnly, 'administer')).toBe('partial');
});

test('linking someone to one\'s own site never makes one\'s reach entire', () => {
  const before = person([['A', 'member']]);
  const after = person([['A', 'member'], ['B', 'member']]);
  for (const p of [adminOfB, commissionerOfB]) {
    expect(reachOver(p, before)).not.toBe('entire');
    expect(reachOver(p, after)).not.toBe('entire');
    expect(codeGoesTo(p, after)).toBe('person');
    expect(decide(p, 'user.unlock', { person: after }).allowed).toBe(false);
    expect(decide(p, 'user.disable', { person: after }).allowed).toBe(false);
  }
});

test('organisation-wide accounts are within a superadmin\'s entire reach only', () => {
  const helpdeskAtB = person([['B', 'member']], ['helpdesk']);
  expect(reachOver(adminOfB, helpdeskAtB)).toBe('partial');
  expect(reachOver(principal({ helpdesk: true }), helpdeskAtB)).toBe('partial');
  expect(reachOver(principal({ superadmin: true }), helpdeskAtB)).toBe('entire');
  expect(decide(adminOfB, 'user.reset-password', { person: helpdeskAtB }).allowed).toBe(false);
});
