-- Refresh tokens: opaque, stored as SHA-256 hashes, rotated on every use.
-- All tokens descended from one login share a family; using a rotated token
-- again (it was stolen, or replayed) revokes the whole family.
CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    family_id uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_member_idx ON refresh_tokens (member_id);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Single-use, expiring tokens sent by mail (verification, password reset),
-- stored as SHA-256 hashes.
CREATE TABLE email_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    purpose text NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX email_tokens_member_idx ON email_tokens (member_id, purpose);

-- Access tokens issued before this moment are refused: set when a password
-- is reset or changed, or the member is suspended, so a stolen token does
-- not outlive them by its 15 minutes.
ALTER TABLE members ADD COLUMN sessions_valid_after timestamptz;
