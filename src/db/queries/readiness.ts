import type { Db } from '../pool.js';

export interface ReadinessRow {
  user_id: string;
  email: string;
  name: string;
  status: string;
  site_id: string;
  ods_code: string;
  site_name: string;
  role: string;
  /** Has a second factor: an authenticator app or a passkey. */
  enrolled: boolean;
  /** Has a passkey or security key (what a policy requiring `phr` asks for). */
  has_passkey: boolean;
  recovery_codes_left: number;
  last_sign_in_at: Date | null;
}

/** Every membership of the given sites (all sites when none given) with what MFA readiness depends on. */
export async function listReadiness(db: Db, siteIds?: string[]): Promise<ReadinessRow[]> {
  const { rows } = await db.query<ReadinessRow>(
    `SELECT u.id AS user_id, u.email, u.name, u.status, s.id AS site_id, s.ods_code, s.name AS site_name, m.role,
            -- A second factor of either kind: a confirmed authenticator app, or a passkey or security key.
            (EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
              OR EXISTS (SELECT 1 FROM passkeys k WHERE k.user_id = u.id)) AS enrolled,
            EXISTS (SELECT 1 FROM passkeys k WHERE k.user_id = u.id) AS has_passkey,
            (SELECT count(*)::int FROM recovery_codes r WHERE r.user_id = u.id AND r.used_at IS NULL) AS recovery_codes_left,
            u.last_sign_in_at
       FROM memberships m JOIN users u ON u.id = m.user_id JOIN sites s ON s.id = m.site_id
      WHERE ($1::uuid[] IS NULL OR m.site_id = ANY($1::uuid[]))
      ORDER BY s.ods_code, u.name, u.email`,
    [siteIds ?? null],
  );
  return rows;
}
