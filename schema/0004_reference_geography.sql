-- 0004_reference_geography: the geography the directory is searched and commissioned by, as
-- reference data. Loaded by `aqpd import commissioners [DIR]` and `aqpd import postcodes [FILE]`
-- (daemon/geoimport.c), never by the API; the sources and their licences are in data/SOURCES.md.
--
--   region             the 9 English regions (ONS E12 codes)
--   commissioner       the 153 English local authorities with children's services
--                      responsibility: ONS code, name, region, DfE LA number, centroid and the
--                      latest Ofsted judgement of their children's services. Other tables refer
--                      to commissioner (code).
--   commissioner_alias other codes and names that mean the same commissioner: predecessor ONS
--                      codes (Barnsley E08000016 is E08000038 since 2025-05-01) and other
--                      spellings of its name ("Bristol" for "Bristol, City of"), so that any of
--                      them resolves through commissioner_resolve().
--   postcode_district  postcode district (outward code) centroids, so that a search near
--                      "LS6" or "LS6 3QR" has a point to measure from.
--   reference_import   one row per import run of either kind.
--
-- The importer validates every value against the same rules as the CHECKs below before it
-- sends anything; the CHECKs are the last line of defence, and a violation aborts the whole
-- import, leaving the tables as they were.

CREATE TABLE reference_import (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('commissioners', 'postcodes')),
    source        text NOT NULL CHECK (length(source) BETWEEN 1 AND 4096), -- directory or file
    -- [{"file": "local_authorities/dfe/las.csv", "sha256": "...", "bytes": n}, ...]
    files         jsonb NOT NULL
                  CHECK (jsonb_typeof(files) = 'array' AND jsonb_array_length(files) > 0),
    rows_read     integer NOT NULL CHECK (rows_read >= 0),    -- candidate rows of the main file
    inserted      integer NOT NULL CHECK (inserted >= 0),
    updated       integer NOT NULL CHECK (updated >= 0),
    unchanged     integer NOT NULL CHECK (unchanged >= 0),
    rejected      integer NOT NULL CHECK (rejected >= 0),
    absent        integer NOT NULL CHECK (absent >= 0),       -- in the table, not in the files
    rejects       jsonb NOT NULL DEFAULT '[]'::jsonb          -- [{"line": n, "reason": "..."}]
                  CHECK (jsonb_typeof(rejects) = 'array'),
    unmatched     jsonb NOT NULL DEFAULT '[]'::jsonb          -- ["what was left unmatched", ...]
                  CHECK (jsonb_typeof(unmatched) = 'array'),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (inserted + updated + unchanged + rejected = rows_read),
    CHECK (finished_at >= started_at)
);

-- The 9 English regions. Seeded here so that postcode districts can name theirs whichever
-- import runs first; `aqpd import commissioners` keeps the names in step with the DfE file.
CREATE TABLE region (
    code          text PRIMARY KEY CHECK (code ~ '^E12[0-9]{6}$'),
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100)
);

INSERT INTO region (code, name) VALUES
    ('E12000001', 'North East'),
    ('E12000002', 'North West'),
    ('E12000003', 'Yorkshire and The Humber'),
    ('E12000004', 'East Midlands'),
    ('E12000005', 'West Midlands'),
    ('E12000006', 'East of England'),
    ('E12000007', 'London'),
    ('E12000008', 'South East'),
    ('E12000009', 'South West');

-- The key a name is matched by: ASCII letters folded to lower case, apostrophes (' and U+2019)
-- dropped, "&" read as "and", every other run of ASCII punctuation or space one space, trimmed.
-- Other bytes beyond ASCII are kept as they are. Mirrors geoimport_name_key() in
-- daemon/geoimport.c; the import stores both, and tests/integration/import_geography.sh checks
-- that they agree.
CREATE FUNCTION commissioner_name_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN btrim(regexp_replace(
    replace(regexp_replace(translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                           'abcdefghijklmnopqrstuvwxyz'),
                           E'[''\u2019]', '', 'g'),
            '&', ' and '),
    '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', ' ', 'g'));

CREATE TABLE commissioner (
    -- ONS GSS code of the upper-tier authority: E06 unitary, E08 metropolitan district,
    -- E09 London borough (and the City of London), E10 county.
    code              text PRIMARY KEY CHECK (code ~ '^E(06|08|09|10)[0-9]{6}$'),
    name              text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    name_key          text NOT NULL UNIQUE CHECK (name_key = commissioner_name_key(name)),
    region_code       text NOT NULL REFERENCES region (code),
    la_number         smallint NOT NULL UNIQUE CHECK (la_number BETWEEN 100 AND 999), -- DfE
    -- The ONS-published point of the area (LONG/LAT of the December 2024 boundaries), inside
    -- England's bounding box (the Isles of Scilly to Northumberland, Cornwall to Suffolk).
    lat               double precision NOT NULL CHECK (lat BETWEEN 49.8 AND 55.9),
    lon               double precision NOT NULL CHECK (lon BETWEEN -6.5 AND 1.8),
    -- The latest ILACS judgement of its children's services, as at 31 March 2025.
    ofsted_judgement  text CHECK (ofsted_judgement IN
                      ('Outstanding', 'Good', 'Requires improvement to be good', 'Inadequate')),
    ofsted_inspected  date CHECK (ofsted_inspected >= '2000-01-01'),
    ofsted_published  date,
    ofsted_report_url text
                      CHECK (ofsted_report_url ~ '^https://reports\.ofsted\.gov\.uk/[!-~]{1,200}$'),
    import_id         bigint NOT NULL REFERENCES reference_import (id), -- last import holding it
    imported_at       timestamptz NOT NULL,  -- when an import last held this code
    updated_at        timestamptz NOT NULL,  -- when its facts last changed (or were inserted)
    CHECK ((ofsted_judgement IS NULL) = (ofsted_inspected IS NULL)),
    CHECK (ofsted_published IS NULL OR
           (ofsted_inspected IS NOT NULL AND ofsted_published >= ofsted_inspected)),
    CHECK (updated_at <= imported_at)
);

CREATE INDEX commissioner_region ON commissioner (region_code);

CREATE TABLE commissioner_alias (
    kind          text NOT NULL CHECK (kind IN ('code', 'name')),
    -- a code: another ONS code (never a current commissioner's, which the importer checks);
    -- a name: commissioner_name_key() of another spelling.
    alias         text NOT NULL,
    code          text NOT NULL REFERENCES commissioner (code),
    source        text NOT NULL CHECK (length(source) BETWEEN 1 AND 300), -- why it is an alias
    PRIMARY KEY (kind, alias),
    CHECK (kind <> 'code' OR alias ~ '^E(06|07|08|09|10)[0-9]{6}$'),
    CHECK (kind <> 'name' OR (alias = commissioner_name_key(alias) AND alias <> ''))
);

CREATE INDEX commissioner_alias_code ON commissioner_alias (code);

-- The commissioner a code, a predecessor code or any known spelling of a name stands for;
-- NULL if none. For example commissioner_resolve('E08000016'), commissioner_resolve('Barnsley')
-- and commissioner_resolve('E08000038') are all 'E08000038'; commissioner_resolve('Bristol') and
-- commissioner_resolve('Southend on Sea') resolve Ofsted's spellings.
CREATE FUNCTION commissioner_resolve(what text) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN COALESCE(
    (SELECT c.code FROM commissioner c WHERE c.code = upper(btrim(what))),
    (SELECT a.code FROM commissioner_alias a
      WHERE a.kind = 'code' AND a.alias = upper(btrim(what))),
    (SELECT c.code FROM commissioner c WHERE c.name_key = commissioner_name_key(what)),
    (SELECT a.code FROM commissioner_alias a
      WHERE a.kind = 'name' AND a.alias = commissioner_name_key(what)));

CREATE TABLE postcode_district (
    -- The outward code ("LS6", "SW1A", "M1"), upper case.
    outcode           text PRIMARY KEY CHECK (outcode ~ '^[A-Z]{1,2}[0-9][A-Z0-9]?$'),
    -- The district's centroid. The file covers the United Kingdom, the Channel Islands and the
    -- Isle of Man (placements cross the borders), so the bounds are theirs, not England's.
    lat               double precision NOT NULL CHECK (lat BETWEEN 49.0 AND 61.0),
    lon               double precision NOT NULL CHECK (lon BETWEEN -8.7 AND 2.0),
    town              text CHECK (length(town) BETWEEN 1 AND 1000),      -- "Town/Area"
    district          text CHECK (length(district) BETWEEN 1 AND 100),   -- the file's "Region":
                                                          -- a local authority district name
    post_town         text CHECK (length(post_town) BETWEEN 1 AND 100),
    -- "UK region": an English region, or a nation; NULL for the Channel Islands and Man.
    uk_region         text CHECK (uk_region IN ('North East', 'North West',
                      'Yorkshire and The Humber', 'East Midlands', 'West Midlands',
                      'East of England', 'London', 'South East', 'South West', 'Scotland',
                      'Wales', 'Northern Ireland')),
    region_code       text REFERENCES region (code),     -- for the English regions
    postcodes         integer CHECK (postcodes >= 0),         -- ever issued in the district
    active_postcodes  integer CHECK (active_postcodes >= 0),  -- in use (0: a retired district)
    population        integer CHECK (population >= 0),
    households        integer CHECK (households >= 0),
    import_id         bigint NOT NULL REFERENCES reference_import (id),
    imported_at       timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    CHECK (active_postcodes IS NULL OR postcodes IS NULL OR active_postcodes <= postcodes),
    CHECK (updated_at <= imported_at)
);
