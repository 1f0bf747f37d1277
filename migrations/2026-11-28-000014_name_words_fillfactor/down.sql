ALTER TABLE name_words RESET (fillfactor);
