-- MFA rollout: announced in advance, a grace period, then enforcement on a date.
-- With no policy at all, MFA is enforced.
CREATE TABLE rollout_policies (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  scope       text NOT NULL CHECK (scope IN ('global', 'site', 'client')),
  site_id     uuid REFERENCES sites (id) ON DELETE CASCADE,
  client_id   text REFERENCES clients (client_id) ON DELETE CASCADE,
  state       text NOT NULL CHECK (state IN ('off', 'announced', 'grace', 'enforced')),
  -- announced and grace turn into enforced on this date
  enforce_on  timestamptz,
  -- grace: how many times a person may put enrolment off
  max_skips   integer NOT NULL DEFAULT 3 CHECK (max_skips BETWEEN 0 AND 100),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((scope = 'global' AND site_id IS NULL AND client_id IS NULL)
      OR (scope = 'site' AND site_id IS NOT NULL AND client_id IS NULL)
      OR (scope = 'client' AND client_id IS NOT NULL AND site_id IS NULL))
);
CREATE UNIQUE INDEX rollout_one_per_target ON rollout_policies (scope, coalesce(site_id::text, ''), coalesce(client_id, ''));

CREATE TABLE mfa_skips (
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  policy_id        uuid NOT NULL REFERENCES rollout_policies (id) ON DELETE CASCADE,
  skips            integer NOT NULL DEFAULT 0,
  last_skipped_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, policy_id)
);

-- A portal demands MFA by being registered to; otherwise the rollout policy decides.
ALTER TABLE clients ALTER COLUMN require_mfa SET DEFAULT false;
