DROP INDEX members_newcomers_idx;
DO $$
BEGIN
  EXECUTE 'ALTER TABLE email_outbox ALTER COLUMN text_body SET COMPRESSION default, '
          'ALTER COLUMN html_body SET COMPRESSION default';
EXCEPTION WHEN syntax_error THEN
  NULL;
END
$$;
