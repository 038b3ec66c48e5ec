-- A forgotten-password link (DESIGN.md, "Codes and who may use them"): asked
-- for by the person from the sign-in page, mailed to them alone, stored
-- hashed, used once within 60 minutes, and only after the person's
-- authenticator code or a recovery code where they have one. It has its own
-- purpose and its own step, so asking for one never replaces an activation,
-- reset or site-link code the person holds (nor the other way round).
ALTER TABLE activation_codes DROP CONSTRAINT activation_codes_purpose_check;
ALTER TABLE activation_codes ADD CONSTRAINT activation_codes_purpose_check
  CHECK (purpose IN ('activation', 'password-reset', 'mfa-reset', 'site-link', 'forgotten-password'));
ALTER TABLE activation_codes DROP CONSTRAINT activation_codes_pkey;
ALTER TABLE activation_codes DROP COLUMN step;
ALTER TABLE activation_codes ADD COLUMN step text NOT NULL
  GENERATED ALWAYS AS (CASE purpose WHEN 'mfa-reset' THEN 'after-password' WHEN 'site-link' THEN 'site-link'
                                    WHEN 'forgotten-password' THEN 'forgotten-password' ELSE 'activate' END) STORED;
ALTER TABLE activation_codes ADD PRIMARY KEY (user_id, step);
-- The link carries only its token: the person is found by the token's hash.
CREATE INDEX activation_codes_forgotten_password ON activation_codes (code_hash) WHERE purpose = 'forgotten-password';
