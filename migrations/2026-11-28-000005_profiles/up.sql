-- The profile a member keeps, and who may see each part of it. A visibility
-- column left NULL follows the association's default (directory_defaults),
-- so the board can change the default for everyone who has not chosen.
ALTER TABLE members
    ADD COLUMN city text CHECK (length(city) <= 100),
    ADD COLUMN profession text CHECK (length(profession) <= 200),
    ADD COLUMN bio text CHECK (length(bio) <= 2000),
    ADD COLUMN links text[] NOT NULL DEFAULT '{}' CHECK (cardinality(links) <= 5),
    ADD COLUMN listed_in_directory boolean NOT NULL DEFAULT true,
    ADD COLUMN email_visibility text CHECK (email_visibility IN ('public', 'members', 'hidden')),
    ADD COLUMN city_visibility text CHECK (city_visibility IN ('public', 'members', 'hidden')),
    ADD COLUMN profession_visibility text CHECK (profession_visibility IN ('public', 'members', 'hidden')),
    ADD COLUMN bio_visibility text CHECK (bio_visibility IN ('public', 'members', 'hidden')),
    ADD COLUMN links_visibility text CHECK (links_visibility IN ('public', 'members', 'hidden')),
    ADD COLUMN exchanges_visibility text CHECK (exchanges_visibility IN ('public', 'members', 'hidden'));

-- One row: the association's defaults. Email is hidden unless a member
-- chooses otherwise.
CREATE TABLE directory_defaults (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    email_visibility text NOT NULL DEFAULT 'hidden' CHECK (email_visibility IN ('public', 'members', 'hidden')),
    city_visibility text NOT NULL DEFAULT 'members' CHECK (city_visibility IN ('public', 'members', 'hidden')),
    profession_visibility text NOT NULL DEFAULT 'members' CHECK (profession_visibility IN ('public', 'members', 'hidden')),
    bio_visibility text NOT NULL DEFAULT 'members' CHECK (bio_visibility IN ('public', 'members', 'hidden')),
    links_visibility text NOT NULL DEFAULT 'members' CHECK (links_visibility IN ('public', 'members', 'hidden')),
    exchanges_visibility text NOT NULL DEFAULT 'members' CHECK (exchanges_visibility IN ('public', 'members', 'hidden')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO directory_defaults DEFAULT VALUES;

-- Names folded for search: lower case, and the letters of Azerbaijani and
-- Turkish spelled as people type them on a Latin keyboard (ə as a, as in
-- "Mammadova" for "Məmmədova"). The capitals are listed too: lower() leaves
-- them alone in a database with the C locale. Immutable, so it can feed a
-- stored column and an index.
CREATE FUNCTION karvan_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT translate(lower($1), 'əƏıİşŞçÇğĞöÖüÜâîûéèêáàíóúñ', 'aaiissccggoouuaiueeeaaioun') $$;

ALTER TABLE members ADD COLUMN name_search text GENERATED ALWAYS AS (karvan_fold(full_name)) STORED;
-- The words of the folded name, for exact word matches through a GIN index.
ALTER TABLE members ADD COLUMN name_words text[]
    GENERATED ALWAYS AS (regexp_split_to_array(karvan_fold(full_name), '[^[:alnum:]]+')) STORED;
DROP INDEX members_full_name_trgm_idx;
CREATE INDEX members_name_words_idx ON members USING gin (name_words)
    WHERE status = 'active' AND listed_in_directory;

-- Every word that occurs in a name. A search first finds the words that
-- contain what was typed or nearly spell it (a small table, so fuzzy
-- matching is cheap), then the members whose names have one of them.
-- Words are only ever matched against, never shown.
CREATE TABLE name_words (word text PRIMARY KEY);
CREATE INDEX name_words_trgm_idx ON name_words USING gin (word gin_trgm_ops);
-- Likewise every university named (folded), so part of a university's
-- name is matched in this small table, then members by the index above.
CREATE TABLE university_names (name text PRIMARY KEY);

-- The directory's own narrow index of listed members' name words: a name
-- search reads only this (index-only), and the members table only for the
-- page it shows. Kept by the trigger below; a member who is not active or
-- not listed has no rows here.
CREATE TABLE directory_words (
    word text NOT NULL,
    name_search text NOT NULL,
    member_id uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    PRIMARY KEY (word, name_search, member_id)
);
CREATE INDEX directory_words_member_idx ON directory_words (member_id);

CREATE FUNCTION karvan_index_name() RETURNS trigger
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
CREATE TRIGGER members_index_name AFTER INSERT OR UPDATE OF full_name, university, status, listed_in_directory ON members
    FOR EACH ROW EXECUTE FUNCTION karvan_index_name();
-- The members who are here already.
INSERT INTO name_words (word)
    SELECT DISTINCT w FROM members, unnest(name_words) AS w WHERE w <> ''
    ON CONFLICT DO NOTHING;
INSERT INTO directory_words (word, name_search, member_id)
    SELECT DISTINCT w, name_search, id FROM members, unnest(name_words) AS w
    WHERE w <> '' AND status = 'active' AND listed_in_directory;
INSERT INTO university_names (name)
    SELECT DISTINCT karvan_fold(university) FROM members WHERE university IS NOT NULL
    ON CONFLICT DO NOTHING;
-- The directory's default order, and its filters.
CREATE INDEX members_directory_idx ON members (name_search, id) WHERE status = 'active' AND listed_in_directory;
-- The filters' indexes hold every column their queries read (the raw
-- columns too, which PostgreSQL needs to use an expression index alone), so
-- matches are found, counted and ordered from the index without the table.
CREATE INDEX members_directory_country_idx ON members (karvan_fold(country), name_search, id) INCLUDE (country)
    WHERE status = 'active' AND listed_in_directory;
CREATE INDEX members_directory_year_idx ON members (graduation_year, karvan_fold(country), name_search, id)
    INCLUDE (country) WHERE status = 'active' AND listed_in_directory;
CREATE INDEX members_directory_university_idx ON members (karvan_fold(university), name_search, id)
    INCLUDE (university) WHERE status = 'active' AND listed_in_directory;
