ALTER TABLE members DROP COLUMN sessions_valid_after;
DROP TABLE email_tokens;
DROP TABLE refresh_tokens;
