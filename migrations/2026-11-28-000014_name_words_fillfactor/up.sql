-- The ticker folds the directory's word changes into name_words every
-- minute, updating the counts of the words that changed. With room left on
-- each page those updates stay HOT (heap-only): no new entry in the words'
-- primary key or trigram index, which every name search reads. Rows written
-- from now on leave the room; VACUUM FULL would repack the existing ones,
-- which a table of one row per distinct word does not need.
ALTER TABLE name_words SET (fillfactor = 90);
