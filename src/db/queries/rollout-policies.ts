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
  /** What the policy requires once enforced: any second factor, or a passkey (`phr`). */
  require: 'mfa' | 'phr';
  updated_at: Date;
}

const columns = 'p.id, p.scope, p.site_id, p.client_id, p.state, p.enforce_on, p.max_skips, p.require, p.updated_at';

/** Sets the policy of one target (global, a site or a portal), replacing the one before. */
export async function upsertRolloutPolicy(
  db: Db, p: { scope: RolloutScope; siteId?: string; clientId?: string; state: RolloutState; enforceOn?: Date; maxSkips?: number; require?: 'mfa' | 'phr' },
): Promise<RolloutPolicyRow> {
  const { rows } = await db.query<RolloutPolicyRow>(
    `INSERT INTO rollout_policies AS p (scope, site_id, client_id, state, enforce_on, max_skips, require)
     VALUES ($1, $2, $3, $4, $5, coalesce($6, 3), coalesce($7, 'mfa'))
     ON CONFLICT (scope, coalesce(site_id::text, ''), coalesce(client_id, ''))
     DO UPDATE SET state = EXCLUDED.state, enforce_on = EXCLUDED.enforce_on, max_skips = EXCLUDED.max_skips, require = EXCLUDED.require, updated_at = now()
     RETURNING ${columns}`,
    [p.scope, p.siteId ?? null, p.clientId ?? null, p.state, p.enforceOn ?? null, p.maxSkips ?? null, p.require ?? null],
  );
  return rows[0]!;
}

export type PolicyWithSkips = RolloutPolicyRow & { skips_used: number };

/** What decides one person's policy at one portal: each membership's site policy (or none), the global one, the portal's. */
export interface PoliciesForPerson {
  sites: (PolicyWithSkips | undefined)[];
  global?: PolicyWithSkips;
  client?: PolicyWithSkips;
}

/**
 * One row per membership (with its site's policy, or nulls when the site has
 * none), then the global and the portal's policy; each with the skips this
 * person has used under it.
 */
export async function listPoliciesFor(db: Db, userId: string, clientId: string): Promise<PoliciesForPerson> {
  const { rows } = await db.query<{ kind: 'membership' | 'global' | 'client' } & { [K in keyof PolicyWithSkips]: PolicyWithSkips[K] | null }>(
    `SELECT 'membership' AS kind, ${columns}, coalesce(k.skips, 0) AS skips_used
       FROM memberships m
       LEFT JOIN rollout_policies p ON p.scope = 'site' AND p.site_id = m.site_id
       LEFT JOIN mfa_skips k ON k.policy_id = p.id AND k.user_id = $1
      WHERE m.user_id = $1
     UNION ALL
     SELECT p.scope AS kind, ${columns}, coalesce(k.skips, 0) AS skips_used
       FROM rollout_policies p
       LEFT JOIN mfa_skips k ON k.policy_id = p.id AND k.user_id = $1
      WHERE p.scope = 'global' OR (p.scope = 'client' AND p.client_id = $2)`,
    [userId, clientId],
  );
  const out: PoliciesForPerson = { sites: [] };
  for (const { kind, ...row } of rows) {
    const policy = row.id === null ? undefined : (row as PolicyWithSkips);
    if (kind === 'membership') out.sites.push(policy);
    else out[kind] = policy;
  }
  return out;
}

export type PolicyListing = RolloutPolicyRow & { ods_code: string | null; site_name: string | null; client_name: string | null };

export async function listRolloutPolicies(db: Db): Promise<PolicyListing[]> {
  const { rows } = await db.query<PolicyListing>(
    `SELECT ${columns}, s.ods_code, s.name AS site_name, c.name AS client_name FROM rollout_policies p
       LEFT JOIN sites s ON s.id = p.site_id LEFT JOIN clients c ON c.client_id = p.client_id
      ORDER BY p.scope, s.ods_code, c.name`,
  );
  return rows;
}

/**
 * Counts one more skip if fewer than the policy's max_skips were used, as the
 * policy stands now (not as it stood when the sign-in began: an administrator
 * may have lowered it since): one conditional statement, the first skip
 * included (with a limit of 0 no row is made at all). Undefined when refused.
 */
export async function addSkip(db: Db, userId: string, policyId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ skips: number }>(
    `INSERT INTO mfa_skips AS k (user_id, policy_id, skips)
       SELECT $1, p.id, 1 FROM rollout_policies p WHERE p.id = $2 AND p.max_skips > 0
     ON CONFLICT (user_id, policy_id) DO UPDATE SET skips = k.skips + 1, last_skipped_at = now()
       WHERE k.skips < (SELECT p.max_skips FROM rollout_policies p WHERE p.id = k.policy_id)
     RETURNING skips`,
    [userId, policyId],
  );
  return rows[0]?.skips;
}
