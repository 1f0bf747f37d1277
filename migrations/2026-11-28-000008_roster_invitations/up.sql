-- People on the association's imported roster: `invited` until they set a
-- password (from the mailed invitation) or sign up with the same address;
-- either way they become active without waiting for the board.
ALTER TABLE members DROP CONSTRAINT members_status_check;
ALTER TABLE members ADD CONSTRAINT members_status_check CHECK (
    status IN ('invited', 'pending_verification', 'pending_approval', 'active', 'rejected', 'suspended', 'deleted'));
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check CHECK (
    purpose IN ('verify_email', 'password_reset', 'invitation'));
-- Set for people who came from the roster: their own sign-up needs no approval.
ALTER TABLE members ADD COLUMN imported_at timestamptz;
