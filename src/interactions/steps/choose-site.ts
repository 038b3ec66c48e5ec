import { chooseSite as recordChoice, lastSiteChoice, listSites } from '../../domain/accounts.js';
import { InvalidInput } from '../../domain/errors.js';
import type { Step } from '../step.js';

/** A person who works at several sites says which one this portal is for. */
export const chooseSite: Step = {
  name: 'site',
  applies: (s) => s.prompt === 'select_site' && !s.site,
  async render(c, { errors }) {
    const sites = await listSites(c.deps, c.state.userId!);
    const last = await lastSiteChoice(c.deps, c.state.userId!, c.state.clientId);
    return {
      template: 'choose-site',
      model: {
        title: 'Choose your site',
        action: c.url('site'),
        sites: sites.map((s) => ({ ...s, selected: s.ods === last })),
        errors,
      },
    };
  },
  async submit(c, form) {
    const site = (form.site ?? '').trim().toUpperCase();
    if (!site) throw new InvalidInput('Choose the site you are working at', 'site');
    await recordChoice(c.deps, c.state.userId!, c.state.clientId, site);
    return { ...c.state, site };
  },
};
