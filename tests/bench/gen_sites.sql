-- gen_sites.sql: a scaled directory for the search benchmark, generated from the real one by a
-- seeded generator. Run after tests/lib/bulk_ofsted.sql (the real register as qualified
-- providers), with psql variables n (sites to add) and seed (in -1..1):
--
--   psql -v ON_ERROR_STOP=1 -v n=994585 -v seed=0.42 -f tests/bench/gen_sites.sql
--
-- Every generated site copies a real site chosen at random (so the mix of service types,
-- ratings, councils, sectors and children's homes is the register's): a public site gets its
-- template's point jittered by a normal offset of about 3 km (sd 0.027 degrees of latitude);
-- a children's home keeps its template's district (its public point) and gets jittered precise
-- coordinates. Each gets an Ofsted record copied from its template's under a new URN
-- (SC3000000 + i: seven digits after SC, a range the register does not use), so the rating
-- follows. Five sites make an organisation (named after the template's owner plus a number),
-- qualified for the service types of its sites. Bulk path: triggers silenced, one NOTIFY "all".

BEGIN;
SET LOCAL aqpd.bulk = 'on';
SELECT setseed(:seed);

CREATE TEMP TABLE g_tpl ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY s.ofsted_urn) - 1 AS i, s.*, o.name AS org_name,
       o.sector AS org_sector, e.precise_lat AS plat, e.precise_lon AS plon
FROM site s JOIN organisation o ON o.id = s.organisation_id
JOIN LATERAL (SELECT * FROM index_entries(ARRAY[s.id]) LIMIT 1) e ON true
WHERE s.ofsted_urn IS NOT NULL AND s.ofsted_urn NOT LIKE 'SC3______';
CREATE INDEX ON g_tpl (i);

CREATE TEMP TABLE g_site ON COMMIT DROP AS
SELECT g, (g / 5) AS org_no, t.*,
       t.plat + 0.027 * sqrt(-2 * ln(1 - r1)) * cos(2 * pi() * r2) AS glat,
       t.plon + 0.027 / cos(radians(t.plat)) * sqrt(-2 * ln(1 - r1)) * sin(2 * pi() * r2) AS glon,
       'SC' || (3000000 + g) AS gurn
FROM (SELECT g, floor(random() * (SELECT count(*) FROM g_tpl))::bigint AS pick,
             random() AS r1, random() AS r2
      FROM generate_series(0, :n - 1) g) x
JOIN g_tpl t ON t.i = x.pick;

-- Keep generated points inside the site table's bounds (jitter can leave England's edge).
UPDATE g_site SET glat = least(greatest(glat, 49.1), 60.9), glon = least(greatest(glon, -8.9), 2.9);

ANALYZE g_site;
INSERT INTO ofsted_setting
SELECT g.gurn, provision_type, registration_status, registration_date, setting_name, owner_name,
       sector, local_authority, region, ofsted_region, os.postcode, os.places, short_breaks_only,
       latest_inspection_type, latest_inspection_date, latest_inspection_published,
       overall_rating, protection_rating, leadership_rating, sa_outcome, source_file, import_id,
       imported_at, os.updated_at, row_hash
FROM g_site g JOIN ofsted_setting os ON os.urn = g.ofsted_urn;

CREATE TEMP TABLE g_org ON COMMIT DROP AS
SELECT org_no, gen_random_uuid() AS id, min(org_name) || ' ' || org_no AS name,
       mode() WITHIN GROUP (ORDER BY org_sector) AS sector, array_agg(DISTINCT service_types[1]) AS types
FROM g_site GROUP BY org_no;

INSERT INTO organisation (id, name, kind, sector, description)
SELECT id, left(name, 300), 'provider', sector,
       'Generated for the search benchmark: ' || array_to_string(types, ', ') || '.'
FROM g_org;

INSERT INTO site (organisation_id, name, ofsted_urn, address, postcode, address_private,
                  la_code, lat, lon, places, age_min, age_max, vacancies, vacancies_at,
                  service_types)
SELECT o.id,
       CASE WHEN s.address_private THEN 'Confidential home ' || s.gurn ELSE s.name || ' ' || s.g END,
       s.gurn, s.address, s.postcode, s.address_private, s.la_code, s.glat, s.glon, s.places,
       s.age_min, s.age_max, s.vacancies, s.vacancies_at, s.service_types
FROM g_site s JOIN g_org o ON o.org_no = s.org_no;

CREATE TEMP TABLE g_qual ON COMMIT DROP AS
SELECT o.id AS org, t AS service_type, gen_random_uuid() AS app
FROM g_org o, unnest(o.types) t;

INSERT INTO application (id, organisation_id, service_type, criteria_version, status,
                         submitted_at, decided_at, decision_reason)
SELECT app, org, service_type, (SELECT max(version) FROM criteria_set), 'qualified', now(), now(),
       'generated for the search benchmark (tests/bench/gen_sites.sql)'
FROM g_qual;

INSERT INTO qualification (organisation_id, service_type, application_id, review_due)
SELECT org, service_type, app, now() + interval '300 days' FROM g_qual;

SELECT pg_notify('aqpd_index', 'all:' || txid_current());
SELECT (SELECT count(*) FROM g_site) AS sites, (SELECT count(*) FROM g_org) AS organisations,
       (SELECT count(*) FROM g_qual) AS qualifications;
COMMIT;
