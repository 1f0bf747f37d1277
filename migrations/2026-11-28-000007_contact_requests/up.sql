-- Introductions instead of exposed addresses: a member asks, the other
-- accepts (both then get each other's address by mail) or ignores (the
-- asker is not told).
CREATE TABLE contact_requests (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    from_member uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    to_member uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    message text NOT NULL CHECK (length(message) BETWEEN 1 AND 1000),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'ignored')),
    created_at timestamptz NOT NULL DEFAULT now(),
    responded_at timestamptz,
    CHECK (from_member <> to_member)
);
-- One open request per pair at a time.
CREATE UNIQUE INDEX contact_requests_open_pair_key ON contact_requests (from_member, to_member)
    WHERE status = 'pending';
CREATE INDEX contact_requests_to_idx ON contact_requests (to_member, created_at DESC);
CREATE INDEX contact_requests_from_idx ON contact_requests (from_member, created_at DESC);
