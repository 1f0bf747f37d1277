DROP INDEX members_newcomers_idx;
ALTER TABLE email_outbox
  ALTER COLUMN text_body SET COMPRESSION pglz,
  ALTER COLUMN html_body SET COMPRESSION pglz;
