-- Sign-in core: people, sites, credentials, portals and signing keys.

CREATE TABLE sites (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  ods_code    text NOT NULL UNIQUE CHECK (ods_code ~ '^[A-Z0-9]{3,6}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  kind        text NOT NULL DEFAULT 'pharmacy' CHECK (kind IN ('pharmacy', 'gp-practice', 'other')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email                text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
  -- trimmed, NFC, lower-case: one identity per mailbox
  email_key            text NOT NULL UNIQUE,
  name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status               text NOT NULL DEFAULT 'invited' CHECK (status IN ('invited', 'active', 'disabled')),
  -- sessions and tokens from sign-ins before this instant are no longer honoured
  sessions_revoked_at  timestamptz,
  last_sign_in_at      timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  role        text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'site-admin')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, site_id)
);
CREATE INDEX memberships_site ON memberships (site_id);

CREATE TABLE passwords (
  user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  hash        text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE activation_codes (
  user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  code_hash   text NOT NULL,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE totp_credentials (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- AES-256-GCM envelope, tagged with the id of the key that sealed it
  secret_sealed text NOT NULL,
  confirmed_at  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX totp_one_confirmed_per_user ON totp_credentials (user_id) WHERE confirmed_at IS NOT NULL;

CREATE TABLE recovery_codes (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash   text NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, code_hash)
);

CREATE TABLE clients (
  client_id      text PRIMARY KEY,
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- oidc-provider client metadata, without the secret
  metadata       jsonb NOT NULL,
  secret_sealed  text,
  first_party    boolean NOT NULL DEFAULT false,
  require_mfa    boolean NOT NULL DEFAULT true,
  disabled_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE signing_keys (
  kid          text PRIMARY KEY,
  alg          text NOT NULL,
  jwk_sealed   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  retired_at   timestamptz
);

-- The site a person last chose for a portal (the `site` claim, and the preselected choice).
CREATE TABLE site_choices (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  client_id   text NOT NULL,
  site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  chosen_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, client_id)
);
