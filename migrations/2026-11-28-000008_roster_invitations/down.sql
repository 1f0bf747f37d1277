ALTER TABLE members DROP COLUMN imported_at;
DELETE FROM email_tokens WHERE purpose = 'invitation';
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check CHECK (
    purpose IN ('verify_email', 'password_reset'));
DELETE FROM members WHERE status = 'invited';
ALTER TABLE members DROP CONSTRAINT members_status_check;
ALTER TABLE members ADD CONSTRAINT members_status_check CHECK (
    status IN ('pending_verification', 'pending_approval', 'active', 'rejected', 'suspended', 'deleted'));
