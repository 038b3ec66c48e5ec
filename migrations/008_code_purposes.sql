-- Every one-time code has one purpose, stored with it, and is accepted only at
-- its own step (DESIGN.md, "Codes and who may use them"):
--   activation, password-reset  → "Activate your account" (sets a password)
--   mfa-reset                   → only after the person's own password
-- A person holds at most one code per step, so an MFA reset no longer
-- destroys an outstanding password-reset code (nor the other way round): the
-- person then needs both, each at its own step.
ALTER TABLE activation_codes ADD COLUMN purpose text
  CHECK (purpose IN ('activation', 'password-reset', 'mfa-reset'));

-- Codes issued before purposes were stored. Each was written in the same
-- transaction as the audit event of the act that issued it, so both carry the
-- same now(): that event names the purpose exactly.
UPDATE activation_codes a
   SET purpose = CASE e.action WHEN 'user.reset-mfa' THEN 'mfa-reset' WHEN 'user.reset-password' THEN 'password-reset' ELSE 'activation' END
  FROM audit_events e
 WHERE e.target_user = a.user_id AND e.occurred_at = a.created_at AND e.outcome = 'success'
   AND e.action IN ('user.add', 'user.reset-password', 'user.reset-mfa');

-- Where the trail does not say, the code must not become a way in on its
-- own. A person who has a password can only have been given a code by an MFA
-- reset: it stays usable, but only after that password. Any other code of
-- unknown purpose is removed (an administrator issues a new one).
UPDATE activation_codes a SET purpose = 'mfa-reset'
 WHERE a.purpose IS NULL AND EXISTS (SELECT 1 FROM passwords p WHERE p.user_id = a.user_id);
DELETE FROM activation_codes WHERE purpose IS NULL;

ALTER TABLE activation_codes ALTER COLUMN purpose SET NOT NULL;

-- The step a code is for: one live code per person and step.
ALTER TABLE activation_codes ADD COLUMN step text NOT NULL
  GENERATED ALWAYS AS (CASE WHEN purpose = 'mfa-reset' THEN 'after-password' ELSE 'activate' END) STORED;
ALTER TABLE activation_codes DROP CONSTRAINT activation_codes_pkey;
ALTER TABLE activation_codes ADD PRIMARY KEY (user_id, step);
