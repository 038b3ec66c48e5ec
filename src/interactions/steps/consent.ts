import type { Step } from '../step.js';

const DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  email: 'See your email address',
  profile: 'See your name',
  sites: 'See the sites you work at and your role at each',
  offline_access: 'Keep you signed in while you work',
  admin: 'Administer the sites and people you look after, as you',
};

/** Portals that are not first-party ask the person before they see anything. */
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
        scopes: names.map((name) => ({ name, description: DESCRIPTIONS[name] ?? name })),
      },
    };
  },
  async submit(c) {
    return { ...c.state, consented: true };
  },
};
