-- A rollout policy may require a phishing-resistant sign-in (a passkey or
-- security key, acr `phr`) rather than any second factor. It takes effect
-- only while the policy is enforced (announced and grace once their date has
-- come); until then the policy asks what any MFA policy asks.
ALTER TABLE rollout_policies ADD COLUMN require text NOT NULL DEFAULT 'mfa' CHECK (require IN ('mfa', 'phr'));
-- A policy that is off requires nothing, so it cannot require passkeys.
ALTER TABLE rollout_policies ADD CONSTRAINT rollout_phr_not_off CHECK (require = 'mfa' OR state <> 'off');
