DROP INDEX members_directory_university_idx;
DROP INDEX members_directory_year_idx;
DROP TRIGGER members_index_name ON members;
DROP FUNCTION karvan_index_name();
DROP TABLE directory_words;
DROP TABLE university_names;
DROP TABLE name_words;
DROP INDEX members_name_words_idx;
ALTER TABLE members DROP COLUMN name_words;
DROP INDEX members_directory_country_idx;
DROP INDEX members_directory_idx;
ALTER TABLE members DROP COLUMN name_search;
DROP FUNCTION karvan_fold(text);
CREATE INDEX members_full_name_trgm_idx ON members USING gin (full_name gin_trgm_ops);
DROP TABLE directory_defaults;
ALTER TABLE members
    DROP COLUMN exchanges_visibility,
    DROP COLUMN links_visibility,
    DROP COLUMN bio_visibility,
    DROP COLUMN profession_visibility,
    DROP COLUMN city_visibility,
    DROP COLUMN email_visibility,
    DROP COLUMN listed_in_directory,
    DROP COLUMN links,
    DROP COLUMN bio,
    DROP COLUMN profession,
    DROP COLUMN city;
