-- The hard limit on wrong second-factor codes counts over a rolling period
-- (30 days by default), and a right code no longer resets it: a person's own
-- sign-ins between an attacker's rounds of guesses must not give the attacker
-- a fresh allowance. Each wrong code's time is kept (at most the limit's
-- number, the newest); second_factor_failures becomes how many of them fall in
-- the period, as of the last wrong code. Only an administrator's unlock clears them.
ALTER TABLE users ADD COLUMN second_factor_failed_at timestamptz[] NOT NULL DEFAULT '{}';
-- Wrong codes counted before this change are kept, dated now.
UPDATE users SET second_factor_failed_at = array_fill(now(), ARRAY[second_factor_failures])
 WHERE second_factor_failures > 0;
