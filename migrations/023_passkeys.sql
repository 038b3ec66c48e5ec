-- Passkeys and security keys (WebAuthn): a second kind of factor beside the
-- authenticator app. A credential is bound to one person: its id is unique
-- across everyone, so the same key can never be registered to two people
-- (and a sign-in with a passkey alone finds its person by that id).
CREATE TABLE passkeys (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- base64url, as the browser sends it
  credential_id  text NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 16 AND 1400),
  -- COSE public key (not a secret)
  public_key     bytea NOT NULL,
  -- the authenticator's signature counter; 0 when it keeps none
  sign_count     bigint NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
  transports     text[] NOT NULL DEFAULT '{}',
  -- 'multiDevice' with backed_up: a synced passkey (software-held, amr swk)
  device_type    text NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up      boolean NOT NULL,
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_used_at   timestamptz
);
CREATE INDEX passkeys_user ON passkeys (user_id);
