import type { Db } from '../pool.js';

export type NoticeEvent = 'announced' | 'reminder' | 'enforced';

export interface NoticeCandidate {
  user_id: string;
  email: string;
  name: string;
  policy_id: string;
  enforce_on: Date;
  site_name: string | null;
}

/**
 * People who have no authenticator yet, under a policy with an enforcement
 * date: everyone active for a global policy, the site's people for a site
 * policy. Portal policies send no notices (a portal does not know its people).
 */
export async function listNoticeCandidates(db: Db): Promise<NoticeCandidate[]> {
  const { rows } = await db.query<NoticeCandidate>(
    `SELECT DISTINCT ON (u.id, p.id) u.id AS user_id, u.email, u.name, p.id AS policy_id, p.enforce_on, s.name AS site_name
       FROM rollout_policies p
       JOIN users u ON u.status <> 'disabled'
       LEFT JOIN memberships m ON m.user_id = u.id AND p.scope = 'site' AND m.site_id = p.site_id
       LEFT JOIN sites s ON s.id = m.site_id
      WHERE p.enforce_on IS NOT NULL AND p.state <> 'off'
        AND (p.scope = 'global' OR (p.scope = 'site' AND m.user_id IS NOT NULL))
        AND NOT EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
      ORDER BY u.id, p.id`,
  );
  return rows;
}

/** Claims the right to send one notice: true for exactly one caller, ever. */
export async function claimNotice(db: Db, userId: string, policyId: string, event: NoticeEvent, enforceOn: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO notices (user_id, policy_id, event, enforce_on) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING`,
    [userId, policyId, event, enforceOn],
  );
  return rowCount === 1;
}

export async function markNoticeSent(db: Db, userId: string, policyId: string, event: NoticeEvent): Promise<void> {
  await db.query("UPDATE notices SET status = 'sent', sent_at = now() WHERE user_id = $1 AND policy_id = $2 AND event = $3", [userId, policyId, event]);
}

/** Gives a claim back after the mail could not be sent, so a later run tries again. */
export async function releaseNotice(db: Db, userId: string, policyId: string, event: NoticeEvent): Promise<void> {
  await db.query("DELETE FROM notices WHERE user_id = $1 AND policy_id = $2 AND event = $3 AND status = 'sending'", [userId, policyId, event]);
}
