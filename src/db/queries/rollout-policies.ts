import type { Db } from '../pool.js';

export type RolloutState = 'off' | 'announced' | 'grace' | 'enforced';
export type RolloutScope = 'global' | 'site' | 'client';

export interface RolloutPolicyRow {
  id: string;
  scope: RolloutScope;
  site_id: string | null;
  client_id: string | null;
  state: RolloutState;
  enforce_on: Date | null;
  max_skips: number;
  updated_at: Date;
}

const columns = 'p.id, p.scope, p.site_id, p.client_id, p.state, p.enforce_on, p.max_skips, p.updated_at';

/** Sets the policy of one target (global, a site or a portal), replacing the one before. */
export async function upsertRolloutPolicy(
  db: Db, p: { scope: RolloutScope; siteId?: string; clientId?: string; state: RolloutState; enforceOn?: Date; maxSkips?: number },
): Promise<RolloutPolicyRow> {
  const { rows } = await db.query<RolloutPolicyRow>(
    `INSERT INTO rollout_policies AS p (scope, site_id, client_id, state, enforce_on, max_skips)
     VALUES ($1, $2, $3, $4, $5, coalesce($6, 3))
     ON CONFLICT (scope, coalesce(site_id::text, ''), coalesce(client_id, ''))
     DO UPDATE SET state = EXCLUDED.state, enforce_on = EXCLUDED.enforce_on, max_skips = EXCLUDED.max_skips, updated_at = now()
     RETURNING ${columns}`,
    [p.scope, p.siteId ?? null, p.clientId ?? null, p.state, p.enforceOn ?? null, p.maxSkips ?? null],
  );
  return rows[0]!;
}

/** The policies that may apply to one person at one portal: global, their sites', the portal's. */
export async function listPoliciesFor(db: Db, userId: string, clientId: string): Promise<RolloutPolicyRow[]> {
  const { rows } = await db.query<RolloutPolicyRow>(
    `SELECT ${columns} FROM rollout_policies p
      WHERE p.scope = 'global'
         OR (p.scope = 'client' AND p.client_id = $2)
         OR (p.scope = 'site' AND p.site_id IN (SELECT site_id FROM memberships WHERE user_id = $1))`,
    [userId, clientId],
  );
  return rows;
}

export async function listRolloutPolicies(db: Db): Promise<(RolloutPolicyRow & { ods_code: string | null; client_name: string | null })[]> {
  const { rows } = await db.query<RolloutPolicyRow & { ods_code: string | null; client_name: string | null }>(
    `SELECT ${columns}, s.ods_code, c.name AS client_name FROM rollout_policies p
       LEFT JOIN sites s ON s.id = p.site_id LEFT JOIN clients c ON c.client_id = p.client_id
      ORDER BY p.scope, s.ods_code, c.name`,
  );
  return rows;
}

/** Counts one more skip if fewer than `max` were used: one conditional statement. */
export async function addSkip(db: Db, userId: string, policyId: string, max: number): Promise<number | undefined> {
  const { rows } = await db.query<{ skips: number }>(
    `INSERT INTO mfa_skips AS k (user_id, policy_id, skips) VALUES ($1, $2, 1)
     ON CONFLICT (user_id, policy_id) DO UPDATE SET skips = k.skips + 1, last_skipped_at = now() WHERE k.skips < $3
     RETURNING skips`,
    [userId, policyId, max],
  );
  return rows[0]?.skips;
}

export async function countSkips(db: Db, userId: string, policyId: string): Promise<number> {
  const { rows } = await db.query<{ skips: number }>('SELECT skips FROM mfa_skips WHERE user_id = $1 AND policy_id = $2', [userId, policyId]);
  return rows[0]?.skips ?? 0;
}
