-- How many listed members' names hold each word, so a name search counts
-- its matches by reading a number instead of every entry of the word's list
-- (counting Khan's thousands cost as much as the rest of the search).
--
-- A change to the directory does not update the count in place: that row
-- would be locked by every transaction that lists a member of that name
-- until it ends (an import holds its transaction for the whole file), and
-- two such could deadlock. Instead each change appends a row to
-- directory_word_changes, which no one else locks; a search adds the word's
-- pending changes to its count, and the ticker folds them into the counts
-- every minute. Both are read in one snapshot, so a count is always exact.
ALTER TABLE name_words ADD COLUMN listed integer NOT NULL DEFAULT 0;
UPDATE name_words n SET listed = c.listed
    FROM (SELECT word, count(*) AS listed FROM directory_words GROUP BY word) c
    WHERE c.word = n.word;

CREATE TABLE directory_word_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    word text NOT NULL,
    change integer NOT NULL
);
CREATE INDEX directory_word_changes_word_idx ON directory_word_changes (word);

-- Statement-level, so a statement that lists or unlists many members at
-- once writes one change per word.
CREATE FUNCTION karvan_count_words_listed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO directory_word_changes (word, change)
        SELECT word, count(*) FROM listed_rows GROUP BY word;
    RETURN NULL;
END $$;
CREATE FUNCTION karvan_count_words_unlisted() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO directory_word_changes (word, change)
        SELECT word, -count(*) FROM unlisted_rows GROUP BY word;
    RETURN NULL;
END $$;
CREATE TRIGGER directory_words_listed AFTER INSERT ON directory_words
    REFERENCING NEW TABLE AS listed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION karvan_count_words_listed();
CREATE TRIGGER directory_words_unlisted AFTER DELETE ON directory_words
    REFERENCING OLD TABLE AS unlisted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION karvan_count_words_unlisted();
