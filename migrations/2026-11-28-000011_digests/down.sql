DROP TABLE digest_runs;
ALTER TABLE member_settings DROP COLUMN digest_period_done, DROP COLUMN digest_covered_until, DROP COLUMN digest_topics,
    DROP COLUMN digest_frequency;
