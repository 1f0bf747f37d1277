-- Every email is a row here, written in the same transaction as the change
-- that caused it; a sender worker delivers it (DESIGN.md, mechanism 4).
CREATE TABLE email_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The same key queued twice keeps one row: retried requests never mail twice.
    idempotency_key text NOT NULL UNIQUE,
    kind text NOT NULL,
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text,
    -- Extra headers (List-Unsubscribe ...) as [[name, value], ...].
    headers jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- [{"filename": ..., "content_type": ..., "content_base64": ...}]
    attachments jsonb NOT NULL DEFAULT '[]'::jsonb,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- While 'sending': the batch that holds the row, and when another worker
    -- may take it over (the holder crashed mid-send).
    claim_token uuid,
    lease_expires_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);

-- What the sender claims: due pending rows, and sending rows whose lease ran out.
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX email_outbox_lease_idx ON email_outbox (lease_expires_at) WHERE status = 'sending';
CREATE INDEX email_outbox_status_idx ON email_outbox (status, created_at DESC);
