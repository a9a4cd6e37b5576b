-- bulk_ofsted.sql: the real Ofsted register (table ofsted_setting, loaded by `aqpd import
-- ofsted`) as a directory of qualified providers, for the search tests and benchmarks.
--
-- This is a BULK path, not the pipeline: it writes organisation, site, application and
-- qualification rows directly, in one transaction, with the index triggers silenced
-- (aqpd.bulk = 'on') and one NOTIFY aqpd_index "all" at the end so running servers reload.
-- It writes no audit events (the chain stays verifiable; these rows were never decided by
-- anyone) and must never be run against a production database.
--
-- What comes from the register: every setting whose provision type is in the service-type
-- catalogue (5,419 of 5,600; the 181 boarding schools, FE colleges, residential special
-- schools and the secure training centre are schools, not children's social care
-- placements), its owner (one organisation per owner name), sector, local authority,
-- postcode (published for everything but children's homes), places, registration status and
-- latest overall rating. Children's homes whose register entry is short-break-only are
-- short-breaks; the others are childrens-home.
--
-- What is synthetic, derived deterministically from the URN (hashtext) so every run is equal:
-- age ranges, vacancy figures and their age, organisation descriptions, and, for every
-- children's home, a CONFIDENTIAL name, street address and full postcode (Ofsted redacts the
-- real ones). Those private values are what the redaction test looks for in public outputs:
--   name     "Confidential home <URN>"
--   address  "<n> Private Lane, Secretby"
--   postcode a real outcode near the LA's centroid + " <d>ZZ"   (e.g. "LS6 4ZZ")
-- A children's home has no coordinates of its own, so its precise point is its district.
--
-- Usage: psql -v ON_ERROR_STOP=1 -f bulk_ofsted.sql  (after migrate, import ofsted,
-- import commissioners, import postcodes). Refuses to run twice.

BEGIN;
SET LOCAL aqpd.bulk = 'on';

DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM site WHERE ofsted_urn IS NOT NULL) THEN
        RAISE EXCEPTION 'bulk_ofsted.sql: the directory already has register sites';
    END IF;
END $$;

CREATE TEMP TABLE b_src ON COMMIT DROP AS
SELECT os.urn, os.setting_name, coalesce(os.owner_name, os.setting_name, 'Ofsted setting ' || os.urn) AS owner,
       os.sector, os.postcode, os.places, os.registration_status,
       os.provision_type IN ('Children''s home', 'Children''s Home',
                             'Residential special school (registered as a children''s home)') AS is_home,
       CASE WHEN os.provision_type IN ('Children''s home', 'Children''s Home',
                                       'Residential special school (registered as a children''s home)')
            THEN CASE WHEN os.short_breaks_only THEN 'short-breaks' ELSE 'childrens-home' END
            WHEN os.provision_type = 'Residential Holiday Scheme for Disabled Children' THEN 'short-breaks'
            ELSE (SELECT st.code FROM service_type st
                  WHERE os.provision_type = ANY (st.ofsted_provision_types) AND st.code <> 'short-breaks')
       END AS service_type,
       commissioner_resolve(os.local_authority) AS la_code,
       abs(hashtext(os.urn)) AS h
FROM ofsted_setting os;
DELETE FROM b_src WHERE service_type IS NULL;

-- A real district near each home's LA centroid (the nearest district centroid).
CREATE TEMP TABLE b_la_district ON COMMIT DROP AS
SELECT c.code, (SELECT pd.outcode FROM postcode_district pd
                WHERE pd.active_postcodes IS DISTINCT FROM 0
                ORDER BY (pd.lat - c.lat) ^ 2 + ((pd.lon - c.lon) * cos(radians(c.lat))) ^ 2
                LIMIT 1) AS outcode
FROM commissioner c;

CREATE TEMP TABLE b_org ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, owner,
       CASE min(sector) WHEN 'Private' THEN 'private' WHEN 'Voluntary' THEN 'voluntary'
            WHEN 'Local Authority' THEN 'local_authority' WHEN 'Health Authority' THEN 'health'
            ELSE 'other' END AS sector,
       count(*) AS n, array_agg(DISTINCT service_type ORDER BY service_type) AS types
FROM b_src GROUP BY owner;

INSERT INTO organisation (id, name, kind, sector, description)
SELECT id, left(owner, 300), 'provider', sector,
       'Runs ' || n || CASE WHEN n = 1 THEN ' setting' ELSE ' settings' END ||
       ' registered with Ofsted: ' || array_to_string(types, ', ') || '.'
FROM b_org;

INSERT INTO site (organisation_id, name, ofsted_urn, address, postcode, address_private,
                  la_code, places, age_min, age_max, vacancies, vacancies_at, service_types)
SELECT o.id,
       CASE WHEN s.is_home THEN 'Confidential home ' || s.urn ELSE coalesce(s.setting_name, s.owner) END,
       s.urn,
       CASE WHEN s.is_home THEN (1 + s.h % 200) || ' Private Lane, Secretby' END,
       CASE WHEN s.is_home THEN (SELECT d.outcode FROM b_la_district d WHERE d.code = s.la_code)
                                || ' ' || (s.h % 10) || 'ZZ'
            ELSE s.postcode END,
       s.is_home, s.la_code, s.places,
       CASE s.service_type WHEN 'supported-accommodation' THEN 16
                           WHEN 'childrens-home' THEN 5 + s.h % 8 ELSE 0 END,
       CASE s.service_type WHEN 'supported-accommodation' THEN 17 ELSE 17 END,
       CASE WHEN s.h % 10 < 4 THEN (s.h / 10) % 4 END,
       CASE WHEN s.h % 10 < 4 THEN now() - make_interval(hours => (s.h / 40) % (24 * 14)) END,
       ARRAY[s.service_type]
FROM b_src s JOIN b_org o ON o.owner = s.owner;

CREATE TEMP TABLE b_qual ON COMMIT DROP AS
SELECT o.id AS org, s.service_type, gen_random_uuid() AS app,
       bool_and(s.registration_status = 'Suspended') AS all_suspended,
       min(s.h) AS h
FROM b_src s JOIN b_org o ON o.owner = s.owner
GROUP BY o.id, s.service_type;

INSERT INTO application (id, organisation_id, service_type, criteria_version, status,
                         submitted_at, decided_at, decision_reason)
SELECT app, org, service_type, (SELECT max(version) FROM criteria_set), 'qualified',
       now(), now(), 'bulk load from the Ofsted register (tests/lib/bulk_ofsted.sql)'
FROM b_qual;

INSERT INTO qualification (organisation_id, service_type, application_id, status, status_reason,
                           qualified_at, review_due)
SELECT org, service_type, app,
       CASE WHEN all_suspended THEN 'suspended' ELSE 'active' END,
       CASE WHEN all_suspended THEN 'Ofsted registration suspended' END,
       now() - make_interval(days => h % 300),
       now() + make_interval(days => 65 + h % 300)
FROM b_qual;

SELECT pg_notify('aqpd_index', 'all:' || txid_current());

SELECT (SELECT count(*) FROM b_org) AS organisations, (SELECT count(*) FROM b_src) AS sites,
       (SELECT count(*) FROM b_src WHERE is_home) AS childrens_homes,
       (SELECT count(*) FROM b_qual) AS qualifications;
COMMIT;
