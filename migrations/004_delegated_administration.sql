-- Delegated administration: site addresses and caps, organisation-wide roles.

ALTER TABLE sites
  ADD COLUMN address text CHECK (address IS NULL OR length(address) BETWEEN 1 AND 500),
  -- The most people who may be active (invited or active, not disabled) at the
  -- site at once; NULL means no limit. New pharmacies get 10.
  ADD COLUMN user_cap integer CHECK (user_cap IS NULL OR user_cap BETWEEN 1 AND 100000);

-- Existing pharmacies get the default, raised where they already have more people.
UPDATE sites s SET user_cap = GREATEST(10, (
  SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
   WHERE m.site_id = s.id AND u.status <> 'disabled'))
 WHERE s.kind = 'pharmacy';

-- Organisation-wide roles: helpdesk (support on every site), commissioner (a
-- set of sites, in commissioned_sites), superadmin (everything, portals too).
CREATE TABLE org_roles (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('helpdesk', 'commissioner', 'superadmin')),
  granted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, role)
);

CREATE TABLE commissioned_sites (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  granted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, site_id)
);
CREATE INDEX commissioned_sites_site ON commissioned_sites (site_id);

CREATE INDEX audit_events_actor ON audit_events (actor, occurred_at DESC);
