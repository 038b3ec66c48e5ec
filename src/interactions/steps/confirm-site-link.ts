import { confirmWaitingSites, declineWaitingSites, waitingSites } from '../../domain/site-links.js';
import { InvalidInput } from '../../domain/errors.js';
import { hasSecondFactor, type FlowState } from '../../domain/sign-in-flows.js';
import type { Step } from '../step.js';

/**
 * An administrator who does not look after all of the person's sites linked
 * them to another: the link waits until the person proves they hold the
 * mailbox, with the code pharmid emailed them. Asked only once the sign-in is
 * otherwise done (after the second factor, or the password where no second
 * factor is due), so nobody confirms a site for an account they cannot sign
 * in to. The person may put it off (asked again next time) or decline it.
 */
function due(s: FlowState): boolean {
  return s.prompt === 'login' && !!s.userId && s.siteLinksWaiting === true && !s.resetCodePending && (s.mfa === true || !hasSecondFactor(s));
}

export const confirmSiteLink: Step = {
  name: 'site-link',
  applies: due,
  async render(c, { errors }) {
    return {
      template: 'confirm-site-link',
      model: { title: 'Confirm a new site', action: c.url('site-link'), sites: await waitingSites(c.deps, c.state.userId!), errors },
    };
  },
  async submit(c, form) {
    if (form.later === 'yes') return { ...c.state, siteLinksWaiting: false };
    if (form.decline === 'yes') {
      await declineWaitingSites(c.deps, c.state.userId!, c.ip);
      return { ...c.state, siteLinksWaiting: false };
    }
    const code = (form.activation_code ?? '').trim();
    if (!code) throw new InvalidInput('Enter the code pharmid emailed you, or choose "Not now"', 'activation_code');
    await confirmWaitingSites(c.deps, c.state.userId!, code, c.ip);
    return { ...c.state, siteLinksWaiting: false };
  },
};
