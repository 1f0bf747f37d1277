DROP TRIGGER members_count_university ON members;
DROP FUNCTION karvan_count_university();
DROP FUNCTION karvan_listed_at(text[]);
DROP TABLE directory_university_changes;
ALTER TABLE university_names RESET (fillfactor);
ALTER TABLE university_names DROP COLUMN listed;
