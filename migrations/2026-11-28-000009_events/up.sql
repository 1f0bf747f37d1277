-- Events: drafts the board prepares, then publishes (and may cancel), with
-- RSVPs kept within capacity and a waitlist in order of asking.

-- Each member's settings beyond the profile (the members table is at
-- the width Diesel handles): which mail they take (API `notifications`) and
-- the secret of their personal calendar feed (shown on /me, replaced when
-- they revoke it). Every member has a row, made with the member.
CREATE TABLE member_settings (
    member_id uuid PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    notify_events boolean NOT NULL DEFAULT true,
    notify_announcements boolean NOT NULL DEFAULT true,
    calendar_token text NOT NULL UNIQUE
        DEFAULT replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')
);
INSERT INTO member_settings (member_id) SELECT id FROM members;

CREATE FUNCTION karvan_member_settings() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO member_settings (member_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER members_settings AFTER INSERT ON members
    FOR EACH ROW EXECUTE FUNCTION karvan_member_settings();

CREATE TABLE events (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description_md text NOT NULL DEFAULT '',
    -- Rendered from the Markdown and sanitised once, when it is written.
    description_html text NOT NULL DEFAULT '',
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    -- The zone the board planned it in (IANA name); members see their own.
    time_zone text NOT NULL,
    location text,
    online_url text,
    capacity integer CHECK (capacity IS NULL OR capacity > 0),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'cancelled')),
    -- iCalendar SEQUENCE: bumped whenever attendees' calendars must update.
    sequence integer NOT NULL DEFAULT 0,
    cancel_reason text,
    created_by uuid REFERENCES members (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    cancelled_at timestamptz,
    CHECK (ends_at > starts_at)
);
CREATE INDEX events_starts_at_idx ON events (starts_at);

-- The order seats were asked for: taken from this sequence while the
-- event's row is locked, so the waitlist is served in exactly that order.
CREATE SEQUENCE rsvp_positions;

CREATE TABLE rsvps (
    event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    member_id uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    status text NOT NULL CHECK (status IN ('going', 'waitlisted', 'not_going')),
    position bigint NOT NULL DEFAULT nextval('rsvp_positions'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The day-before reminder was queued (once).
    reminded_at timestamptz,
    PRIMARY KEY (event_id, member_id)
);
CREATE INDEX rsvps_waitlist_idx ON rsvps (event_id, position) WHERE status = 'waitlisted';
CREATE INDEX rsvps_member_idx ON rsvps (member_id, status);
