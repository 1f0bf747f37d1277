DROP TRIGGER members_unlist_deleted ON members;
DROP FUNCTION karvan_unlist_deleted();
CREATE OR REPLACE FUNCTION karvan_index_name() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_words (word)
        SELECT DISTINCT w FROM unnest(NEW.name_words) AS w WHERE w <> ''
        ON CONFLICT DO NOTHING;
    IF NEW.university IS NOT NULL THEN
        INSERT INTO university_names (name) VALUES (karvan_fold(NEW.university)) ON CONFLICT DO NOTHING;
    END IF;
    DELETE FROM directory_words WHERE member_id = NEW.id;
    IF NEW.status = 'active' AND NEW.listed_in_directory THEN
        INSERT INTO directory_words (word, name_search, member_id)
            SELECT DISTINCT w, NEW.name_search, NEW.id FROM unnest(NEW.name_words) AS w WHERE w <> '';
    END IF;
    RETURN NULL;
END $$;
DROP FUNCTION karvan_listed_with_any(text[]);
DROP TABLE directory_word_changes;
ALTER TABLE name_words DROP COLUMN listed;
