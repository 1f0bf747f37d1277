-- citext: emails compare case-insensitively; pg_trgm: fuzzy name search.
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE members (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email citext NOT NULL,
    password_hash text NOT NULL,
    full_name text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    status text NOT NULL DEFAULT 'pending_verification'
        CHECK (status IN ('pending_verification', 'pending_approval', 'active', 'rejected', 'suspended', 'deleted')),
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
    graduation_year integer CHECK (graduation_year BETWEEN 1900 AND 2200),
    university text,
    country text,
    time_zone text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    email_verified_at timestamptz,
    approved_at timestamptz,
    deleted_at timestamptz
);

-- One account per address; an anonymised (deleted) member frees the address.
CREATE UNIQUE INDEX members_email_key ON members (email) WHERE status <> 'deleted';
CREATE INDEX members_status_idx ON members (status, created_at);
CREATE INDEX members_full_name_trgm_idx ON members USING gin (full_name gin_trgm_ops);
