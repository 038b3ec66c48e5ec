-- A site link that the person must confirm (DESIGN.md, "Reach"): when an
-- administrator who does not reach the whole person links them to a site,
-- nothing proves that whoever holds the account owns its email. The link
-- waits here, giving nothing (no claim, no choice, no reach, no policy),
-- until the person gives the one-time code pharmid emailed them (purpose
-- 'site-link') at their next sign-in, or declines it. Only then is a row
-- written to memberships, dated by its created_at.
CREATE TABLE pending_memberships (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('member', 'site-admin')),
  -- who linked them, as the audit trail names actors ('user:ID', 'cli')
  linked_by   text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, site_id)
);
CREATE INDEX pending_memberships_site ON pending_memberships (site_id);

-- The code that confirms a person's waiting sites has its own purpose and step.
ALTER TABLE activation_codes DROP CONSTRAINT activation_codes_purpose_check;
ALTER TABLE activation_codes ADD CONSTRAINT activation_codes_purpose_check
  CHECK (purpose IN ('activation', 'password-reset', 'mfa-reset', 'site-link'));
ALTER TABLE activation_codes DROP CONSTRAINT activation_codes_pkey;
ALTER TABLE activation_codes DROP COLUMN step;
ALTER TABLE activation_codes ADD COLUMN step text NOT NULL
  GENERATED ALWAYS AS (CASE purpose WHEN 'mfa-reset' THEN 'after-password' WHEN 'site-link' THEN 'site-link' ELSE 'activate' END) STORED;
ALTER TABLE activation_codes ADD PRIMARY KEY (user_id, step);

-- Who was shown a code (an actor as the audit trail names it: 'user:ID',
-- 'cli'), or NULL when it went to the person's own email alone. When the
-- person gains a site, a code shown to someone who no longer reaches the
-- whole person is replaced (site-links.ts). Codes from before are taken as
-- shown to someone unknown, and are replaced.
ALTER TABLE activation_codes ADD COLUMN shown_to text;
UPDATE activation_codes SET shown_to = 'unknown';
