-- 0002_ofsted_register: Ofsted's register of children's social care settings, as reference
-- facts that the qualification rules check a provider's claimed URN against, and a record of
-- every import. Loaded by `aqpd import ofsted FILE` (daemon/import.c), never by the API.
--
-- The importer validates every row against the same rules as the CHECKs below before it sends
-- anything (a row that breaks one is rejected with its line number); the CHECKs are the last
-- line of defence, and a violation aborts the whole import, leaving the register as it was.
--
-- Children's home addresses are confidential (DESIGN.md §6; Ofsted redacts them): no street
-- address is stored for any setting, and no postcode or setting name for a children's home.

CREATE TABLE ofsted_import (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file_name     text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    sha256        bytea NOT NULL CHECK (length(sha256) = 32),
    rows_read     integer NOT NULL CHECK (rows_read >= 0),   -- data records in the file
    inserted      integer NOT NULL CHECK (inserted >= 0),
    updated       integer NOT NULL CHECK (updated >= 0),
    unchanged     integer NOT NULL CHECK (unchanged >= 0),
    rejected      integer NOT NULL CHECK (rejected >= 0),
    absent        integer NOT NULL CHECK (absent >= 0),      -- in the register, not in the file
    rejects       jsonb NOT NULL DEFAULT '[]'::jsonb         -- [{"line": n, "reason": "..."}]
                  CHECK (jsonb_typeof(rejects) = 'array'),   -- (the first 1,000)
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (inserted + updated + unchanged + rejected = rows_read),
    CHECK (finished_at >= started_at)
);

CREATE TABLE ofsted_setting (
    urn                   text PRIMARY KEY CHECK (urn ~ '^(SC)?[0-9]{6,7}$'),
    provision_type        text NOT NULL CHECK (length(provision_type) BETWEEN 1 AND 300),
    registration_status   text NOT NULL CHECK (registration_status IN
                          ('Active', 'Suspended', 'Resigned', 'Cancelled')),
    registration_date     date NOT NULL CHECK (registration_date >= '1900-01-01'),
    setting_name          text CHECK (length(setting_name) BETWEEN 1 AND 300),
    owner_name            text CHECK (length(owner_name) BETWEEN 1 AND 300),
    sector                text NOT NULL CHECK (length(sector) BETWEEN 1 AND 300),
    local_authority       text NOT NULL CHECK (length(local_authority) BETWEEN 1 AND 300),
    -- Government Office Region (Ofsted's own region merges North East with Yorkshire).
    region                text NOT NULL CHECK (length(region) BETWEEN 1 AND 300),
    ofsted_region         text NOT NULL CHECK (length(ofsted_region) BETWEEN 1 AND 300),
    postcode              text CHECK (postcode ~ '^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$'),
    places                integer CHECK (places BETWEEN 0 AND 10000),
    short_breaks_only     boolean NOT NULL,
    latest_inspection_type      text CHECK (length(latest_inspection_type) BETWEEN 1 AND 300),
    latest_inspection_date      date CHECK (latest_inspection_date >= '1900-01-01'),
    latest_inspection_published date,
    -- The overall grade ("Overall experiences and progress of children and young people").
    overall_rating        text CHECK (overall_rating IN
                          ('Outstanding', 'Good', 'Requires improvement to be good', 'Inadequate')),
    protection_rating     text CHECK (protection_rating IN
                          ('Outstanding', 'Good', 'Requires improvement to be good', 'Inadequate')),
    leadership_rating     text CHECK (leadership_rating IN
                          ('Outstanding', 'Good', 'Requires improvement to be good', 'Inadequate')),
    -- Supported accommodation is judged on its own scale instead of the overall grade.
    sa_outcome            text CHECK (sa_outcome IN ('Consistently strong service delivery',
                          'Inconsistent quality of service delivery',
                          'Serious or widespread weaknesses')),
    source_file           text NOT NULL CHECK (length(source_file) BETWEEN 1 AND 255),
    import_id             bigint NOT NULL REFERENCES ofsted_import (id), -- last import holding it
    imported_at           timestamptz NOT NULL,  -- when an import last held this URN
    updated_at            timestamptz NOT NULL,  -- when its facts last changed (or were inserted)
    row_hash              bytea NOT NULL CHECK (length(row_hash) = 32),  -- sha256 of the facts
    CHECK (postcode IS NULL OR provision_type !~* 'children.s home'),
    CHECK (setting_name IS NULL OR provision_type !~* 'children.s home'),
    CHECK (overall_rating IS NULL OR latest_inspection_date IS NOT NULL),
    CHECK (protection_rating IS NULL OR latest_inspection_date IS NOT NULL),
    CHECK (leadership_rating IS NULL OR latest_inspection_date IS NOT NULL),
    CHECK (sa_outcome IS NULL OR latest_inspection_date IS NOT NULL),
    CHECK (latest_inspection_published IS NULL OR
           (latest_inspection_date IS NOT NULL AND
            latest_inspection_published >= latest_inspection_date)),
    CHECK (updated_at <= imported_at)
);

CREATE INDEX ofsted_setting_import ON ofsted_setting (import_id);
CREATE INDEX ofsted_setting_la ON ofsted_setting (local_authority);
