-- When a person changes their own password or authenticator, every token
-- issued before (access and refresh tokens, authorization codes, of every
-- portal) is refused, while the session they made the change in stays signed
-- in. sessions_revoked_at cannot say that (it ends every sign-in), so tokens
-- have a revocation time of their own, compared with when each was issued.
ALTER TABLE users ADD COLUMN tokens_revoked_at timestamptz;
