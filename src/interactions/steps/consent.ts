import type { Step } from '../step.js';

const DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  email: 'See your email address',
  profile: 'See your name',
  sites: 'See the sites you work at and your role at each',
  offline_access: 'Keep you signed in while you work',
  admin: 'Administer the sites and people you look after, as you',
};

/** What a scope lets the portal do, said plainly where a line is not enough. */
const CONSEQUENCES: Record<string, string> = {
  admin: 'It could act in your name in pharmid\'s administration: add and remove people at the sites you look after, '
    + 'reset their passwords and authenticator apps, and change those sites\' settings, whatever you yourself may do there, '
    + 'for as long as you stay signed in to pharmid. Allow it only if you trust this portal with your administrator rights.',
};

/**
 * The person agrees to what a portal may see or do: every scope for a portal
 * that is not first-party; for a first-party portal only the scopes always
 * asked about (`admin`, src/oidc/policy.ts). Only the scopes not yet granted
 * are listed.
 */
export const consent: Step = {
  name: 'consent',
  applies: (s) => s.prompt === 'consent' && !s.consented,
  async render(c) {
    const names = c.request.missingScopes.length ? c.request.missingScopes : c.request.scopes;
    const { name: clientName } = await c.request.portal();
    return {
      template: 'consent',
      model: {
        title: `Allow ${clientName}?`,
        action: c.url('consent'),
        cancelAction: c.url('abort'),
        clientName,
        scopes: names.map((name) => ({ name, description: DESCRIPTIONS[name] ?? name, consequence: CONSEQUENCES[name] })),
      },
    };
  },
  async submit(c) {
    return { ...c.state, consented: true };
  },
};
