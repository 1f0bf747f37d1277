DROP TRIGGER directory_words_unlisted ON directory_words;
DROP TRIGGER directory_words_listed ON directory_words;
DROP FUNCTION karvan_count_words_unlisted();
DROP FUNCTION karvan_count_words_listed();
DROP TABLE directory_word_changes;
ALTER TABLE name_words DROP COLUMN listed;
