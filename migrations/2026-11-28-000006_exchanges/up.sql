-- The catalogue of exchange programmes, kept by the board, and the records
-- members keep of the ones they took part in. A programme that records
-- point at cannot be deleted (RESTRICT), so no record points at nothing.
CREATE TABLE exchange_programs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    sponsor text CHECK (length(sponsor) <= 200),
    home_country text CHECK (length(home_country) <= 100),
    host_country text CHECK (length(host_country) <= 100),
    description text CHECK (length(description) <= 5000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX exchange_programs_name_key ON exchange_programs (lower(name));

CREATE TABLE exchange_records (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    program_id uuid NOT NULL REFERENCES exchange_programs (id) ON DELETE RESTRICT,
    home_university text NOT NULL CHECK (length(home_university) BETWEEN 1 AND 200),
    host_university text NOT NULL CHECK (length(host_university) BETWEEN 1 AND 200),
    field_of_study text NOT NULL CHECK (length(field_of_study) BETWEEN 1 AND 200),
    degree_level text NOT NULL
        CHECK (degree_level IN ('bachelor', 'master', 'doctorate', 'postdoctoral', 'non_degree', 'staff')),
    start_date date NOT NULL,
    end_date date,
    scholarship text CHECK (length(scholarship) <= 200),
    verified_at timestamptz,
    verified_by uuid REFERENCES members (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX exchange_records_member_idx ON exchange_records (member_id, start_date);
CREATE INDEX exchange_records_program_idx ON exchange_records (program_id, start_date);
CREATE INDEX exchange_records_host_trgm_idx ON exchange_records USING gin (karvan_fold(host_university) gin_trgm_ops);
