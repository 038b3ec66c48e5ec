-- Notices about MFA rollout: each is claimed here before it is sent, so it goes
-- once per person per event, whatever the number of processes or restarts.
CREATE TABLE notices (
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  policy_id   uuid NOT NULL REFERENCES rollout_policies (id) ON DELETE CASCADE,
  event       text NOT NULL CHECK (event IN ('announced', 'reminder', 'enforced')),
  -- the enforcement date the notice spoke of
  enforce_on  timestamptz,
  status      text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent')),
  claimed_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz,
  PRIMARY KEY (user_id, policy_id, event)
);
