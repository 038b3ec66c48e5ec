-- Append-only record of administrative acts and security events.
CREATE TABLE audit_events (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at   timestamptz NOT NULL DEFAULT now(),
  actor         text NOT NULL,            -- 'cli', 'user:<id>', 'client:<id>', 'anonymous'
  action        text NOT NULL,            -- e.g. 'user.reset-mfa', 'sign-in.password'
  outcome       text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  target_user   uuid,
  site_id       uuid,
  ip            text,
  details       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_target ON audit_events (target_user, occurred_at DESC);
CREATE INDEX audit_events_site ON audit_events (site_id, occurred_at DESC);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END $$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
