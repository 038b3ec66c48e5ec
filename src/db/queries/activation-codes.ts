import type { Db } from '../pool.js';

/**
 * What a one-time code is for. Activation and password-reset codes are taken
 * at "Activate your account"; an MFA-reset code only after the person's own
 * password; a site-link code only confirms the sites waiting for the person
 * (migration 013); a forgotten-password link only sets a new password after the
 * person's second factor (migration 016). The table keeps one code per person
 * and step (migration 008).
 */
export type CodePurpose = 'activation' | 'password-reset' | 'mfa-reset' | 'site-link' | 'forgotten-password';

/** The codes that sign a person in (or open the way to it); a site-link code only confirms sites. */
export const SIGN_IN_PURPOSES: readonly CodePurpose[] = ['activation', 'password-reset', 'mfa-reset'];

/** A new code replaces any earlier one for the same step, and leaves the other step's code alone. */
export async function replaceActivationCode(
  db: Db, userId: string, purpose: CodePurpose, codeHash: string, ttlSeconds: number, shownTo: string | null = 'unknown',
): Promise<void> {
  await db.query(
    `INSERT INTO activation_codes (user_id, purpose, code_hash, expires_at, shown_to) VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)
     ON CONFLICT (user_id, step) DO UPDATE
       SET purpose = EXCLUDED.purpose, code_hash = EXCLUDED.code_hash, expires_at = EXCLUDED.expires_at, created_at = now(),
           shown_to = EXCLUDED.shown_to`,
    [userId, purpose, codeHash, ttlSeconds, shownTo],
  );
}

/**
 * Uses the code if it matches, is for one of `purposes` and has not expired:
 * one DELETE whose row count decides, so two requests racing with the same
 * code cannot both succeed, and a code is never taken at another step.
 */
export async function consumeActivationCode(db: Db, userId: string, purposes: readonly CodePurpose[], codeHash: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'DELETE FROM activation_codes WHERE user_id = $1 AND purpose = ANY($2::text[]) AND code_hash = $3 AND expires_at > now()',
    [userId, purposes, codeHash],
  );
  return rowCount === 1;
}

/**
 * True when the person holds a live code of this purpose (with this hash,
 * when one is given): a look only, taking nothing. The MFA-reset code is
 * proved at its step and consumed when the new authenticator is confirmed;
 * a live site-link code means a link is already waiting.
 */
export async function hasLiveCode(db: Db, userId: string, purpose: CodePurpose, codeHash?: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'SELECT 1 FROM activation_codes WHERE user_id = $1 AND purpose = $2 AND ($3::text IS NULL OR code_hash = $3) AND expires_at > now()',
    [userId, purpose, codeHash ?? null],
  );
  return rowCount === 1;
}

/** The purpose of the person's code with this hash, if any (to say which step it belongs to). */
export async function findCodePurpose(db: Db, userId: string, codeHash: string): Promise<CodePurpose | undefined> {
  const { rows } = await db.query<{ purpose: CodePurpose }>('SELECT purpose FROM activation_codes WHERE user_id = $1 AND code_hash = $2', [userId, codeHash]);
  return rows[0]?.purpose;
}

/**
 * True while an MFA-reset code stands, expired or not: a person whose MFA was
 * reset is asked for a code after their password until they give a live one,
 * so an expired code never lets a password alone enrol a new authenticator.
 */
export async function hasMfaResetCode(db: Db, userId: string): Promise<boolean> {
  const { rowCount } = await db.query("SELECT 1 FROM activation_codes WHERE user_id = $1 AND purpose = 'mfa-reset'", [userId]);
  return rowCount === 1;
}

/**
 * The person's sign-in codes, live or expired, and whom each was shown to
 * (null: emailed to the person alone), rows locked for the rest of the
 * transaction: what may have to be replaced when the person gains a site (a
 * code shown to an administrator must not outlive that administrator's
 * entire reach).
 */
export async function lockSignInCodes(db: Db, userId: string): Promise<{ purpose: CodePurpose; shown_to: string | null }[]> {
  const { rows } = await db.query<{ purpose: CodePurpose; shown_to: string | null }>(
    'SELECT purpose, shown_to FROM activation_codes WHERE user_id = $1 AND purpose = ANY($2::text[]) ORDER BY purpose FOR UPDATE',
    [userId, SIGN_IN_PURPOSES],
  );
  return rows;
}

/** Deletes the person's codes of these purposes; returns how many there were. */
export async function deleteCodes(db: Db, userId: string, purposes: readonly CodePurpose[]): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM activation_codes WHERE user_id = $1 AND purpose = ANY($2::text[])', [userId, purposes]);
  return rowCount ?? 0;
}

export async function deleteCode(db: Db, userId: string, purpose: CodePurpose): Promise<void> {
  await db.query('DELETE FROM activation_codes WHERE user_id = $1 AND purpose = $2', [userId, purpose]);
}

/**
 * Whose live code of this purpose has this hash: a look only. A
 * forgotten-password link carries its token alone (256 random bits), so the
 * person is found by it.
 */
export async function findLiveCodeOwner(db: Db, purpose: CodePurpose, codeHash: string): Promise<string | undefined> {
  const { rows } = await db.query<{ user_id: string }>(
    'SELECT user_id FROM activation_codes WHERE purpose = $1 AND code_hash = $2 AND expires_at > now()',
    [purpose, codeHash],
  );
  return rows[0]?.user_id;
}
