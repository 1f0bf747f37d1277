-- Every admin action, written in the same transaction as the action itself.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL: the system (the scheduler, a CLI command run on the server).
    actor_id uuid REFERENCES members (id) ON DELETE SET NULL,
    action text NOT NULL,
    target_type text,
    target_id text,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id);
