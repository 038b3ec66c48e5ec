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

export interface UnenrolledMembership {
  user_id: string;
  email: string;
  name: string;
  /** null for a person with no site. */
  site_id: string | null;
}

/** Every active person with no second factor yet (no authenticator app, no passkey), one row per membership (one row with no site for a person without any). */
export async function listUnenrolledMemberships(db: Db): Promise<UnenrolledMembership[]> {
  const { rows } = await db.query<UnenrolledMembership>(
    `SELECT u.id AS user_id, u.email, u.name, m.site_id
       FROM users u LEFT JOIN memberships m ON m.user_id = u.id
      WHERE u.status <> 'disabled'
        AND NOT EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM passkeys k WHERE k.user_id = u.id)
      ORDER BY u.id`,
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
