-- What Redis keeps when there is Redis, kept in Postgres when there is not:
-- oidc-provider's sessions, interactions, codes and tokens, the sign-in flows,
-- used authenticator time-steps, and the brute-force counters and locks. In
-- Postgres they survive a restart and are shared by every process and the CLI.
CREATE TABLE store_entries (
  key        text PRIMARY KEY,
  -- a string value, or NULL for a set
  value      text,
  -- the members of a set, or NULL for a string value
  members    text[],
  -- NULL: kept until deleted; reads ignore rows past it, a sweep deletes them
  expires_at timestamptz
);
CREATE INDEX store_entries_expiry ON store_entries (expires_at) WHERE expires_at IS NOT NULL;

-- rate-limiter-flexible's RateLimiterPostgres table, in the layout it expects
-- (key, points, expire in epoch milliseconds); `text` keys fit any email.
CREATE TABLE rate_limits (
  key    text PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
CREATE INDEX rate_limits_expiry ON rate_limits (expire);
