-- The board's news: published at once or at a set time, and mailed (when
-- asked) to every active member who takes announcement mail, once.
CREATE TABLE announcements (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body_md text NOT NULL,
    -- Rendered from the Markdown and sanitised once, when it is written.
    body_html text NOT NULL,
    author_id uuid REFERENCES members (id) ON DELETE SET NULL,
    -- In the future: scheduled, seen by the board only until then.
    published_at timestamptz NOT NULL DEFAULT now(),
    -- Mail asked for; `emailed_at` is set when it was queued (at publication).
    email_requested boolean NOT NULL DEFAULT false,
    emailed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX announcements_published_at_idx ON announcements (published_at DESC);
CREATE INDEX announcements_mail_due_idx ON announcements (published_at)
    WHERE email_requested AND emailed_at IS NULL;
