-- Consecutive wrong second-factor answers over any period (NIST SP 800-63B 5.2.2):
-- at the limit the account stays locked until an administrator unlocks it.
ALTER TABLE users
  ADD COLUMN second_factor_failures integer NOT NULL DEFAULT 0,
  ADD COLUMN locked_at timestamptz;
