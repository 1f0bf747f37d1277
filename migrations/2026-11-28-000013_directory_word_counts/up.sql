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

-- How many listed members have any of `keys` in their name: each word's
-- count with its pending changes, less the members counted more than once.
-- A member whose name holds several of the keys is counted once for each
-- key after their first; the names' GIN index finds those few (holding key
-- i and one before it) without reading the others. Those lookups grow with
-- the square of the keys' number, so for many keys (two letters typed can
-- match dozens of words) the entries are read once instead. A function, so
-- that each connection plans these queries once: written into the search's
-- statement, they were planned again on every search, which took longer
-- than running them.
CREATE FUNCTION karvan_listed_with_any(keys text[]) RETURNS bigint
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    total bigint;
BEGIN
    IF cardinality(keys) > 4 THEN
        RETURN (SELECT count(DISTINCT member_id) FROM directory_words WHERE word = ANY (keys));
    END IF;
    SELECT coalesce(sum(listed), 0) INTO total FROM name_words WHERE word = ANY (keys);
    total := total + coalesce((SELECT sum(change) FROM directory_word_changes WHERE word = ANY (keys)), 0);
    IF cardinality(keys) > 1 THEN
        total := total - (SELECT count(*) FROM generate_subscripts(keys, 1) AS i, members m
            WHERE i > 1 AND m.name_words @> ARRAY[keys[i]] AND m.name_words && keys[1:i - 1]
            AND m.status = 'active' AND m.listed_in_directory);
    END IF;
    RETURN total;
END $$;

-- The member's entries in directory_words are replaced only when their
-- words or name changed (not for a new university, say), and the words
-- that came and went are logged.
CREATE OR REPLACE FUNCTION karvan_index_name() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    was text[] := '{}';
    listed text[] := '{}';
BEGIN
    INSERT INTO name_words (word)
        SELECT DISTINCT w FROM unnest(NEW.name_words) AS w WHERE w <> ''
        ON CONFLICT DO NOTHING;
    IF NEW.university IS NOT NULL THEN
        INSERT INTO university_names (name) VALUES (karvan_fold(NEW.university)) ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        was := ARRAY(SELECT word FROM directory_words WHERE member_id = NEW.id ORDER BY word);
    END IF;
    IF NEW.status = 'active' AND NEW.listed_in_directory THEN
        listed := ARRAY(SELECT DISTINCT w FROM unnest(NEW.name_words) AS w WHERE w <> '' ORDER BY w);
    END IF;
    IF was = listed AND (TG_OP = 'INSERT' OR OLD.name_search IS NOT DISTINCT FROM NEW.name_search) THEN
        RETURN NULL;
    END IF;
    IF cardinality(was) > 0 THEN
        DELETE FROM directory_words WHERE member_id = NEW.id;
    END IF;
    INSERT INTO directory_words (word, name_search, member_id)
        SELECT w, NEW.name_search, NEW.id FROM unnest(listed) AS w;
    INSERT INTO directory_word_changes (word, change)
        SELECT w, 1 FROM unnest(listed) AS w WHERE w <> ALL (was)
        UNION ALL
        SELECT w, -1 FROM unnest(was) AS w WHERE w <> ALL (listed);
    RETURN NULL;
END $$;

-- A member deleted outright (the service anonymises instead) takes their
-- entries with them by the foreign key's cascade.
CREATE FUNCTION karvan_unlist_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO directory_word_changes (word, change)
        SELECT word, -1 FROM directory_words WHERE member_id = OLD.id;
    RETURN OLD;
END $$;
CREATE TRIGGER members_unlist_deleted BEFORE DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION karvan_unlist_deleted();
