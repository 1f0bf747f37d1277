DROP TABLE exchange_records;
DROP TABLE exchange_programs;
