-- Digests: each member's rhythm and topics, what their last digest covered,
-- and a record of every run.
ALTER TABLE member_settings
    ADD COLUMN digest_frequency text NOT NULL DEFAULT 'weekly'
        CHECK (digest_frequency IN ('weekly', 'monthly', 'off')),
    ADD COLUMN digest_topics text[] NOT NULL DEFAULT '{events,announcements,new_members}',
    -- The moment the member's last digest was composed: the next says what
    -- is new since (or since their approval, before the first).
    ADD COLUMN digest_covered_until timestamptz,
    -- The last period the member was considered for (whether or not they
    -- had anything new): the scheduler looks at each member once a period.
    ADD COLUMN digest_period_done text;

-- Members who were here before digests: the first one tells what is new
-- from now on, not everything since they joined.
UPDATE member_settings SET digest_covered_until = now();

CREATE TABLE digest_runs (
    id bigserial PRIMARY KEY,
    -- `2026-W48` (a weekly digest) or `2026-11` (a monthly one).
    period text NOT NULL,
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'admin', 'cli')),
    actor_id uuid REFERENCES members (id) ON DELETE SET NULL,
    dry_run boolean NOT NULL DEFAULT false,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    -- Members whose digest was due, and those who got one (the others had
    -- nothing new, or had theirs already).
    considered integer NOT NULL DEFAULT 0,
    queued integer NOT NULL DEFAULT 0
);
CREATE INDEX digest_runs_started_idx ON digest_runs (started_at DESC);
