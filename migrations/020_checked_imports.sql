-- An import checked in the console (a dry run that found nothing wrong),
-- kept until the administrator who checked it applies it from the same
-- sign-in: the apply writes exactly the file that was checked, never a second
-- upload. Found by the hash of a token given to that administrator's page;
-- used once (deleted when applied) and only for 30 minutes.
CREATE TABLE checked_imports (
  token_hash  bytea PRIMARY KEY,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  session_id  text NOT NULL,
  csv         text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX checked_imports_expiry ON checked_imports (expires_at);
