-- A seeded national-scale directory for tests/bench/export_vs_psql.sh, written straight into
-- the tables: :n organisations, each qualified for one service type (every third a children's
-- home, whose site is private) with one site in a real postcode district. setseed makes it
-- the same every run. Needs the commissioners and postcodes imported first.
-- One transaction with aqpd.bulk on: the search index's row triggers (schema/0008) stay quiet.
BEGIN;
SET LOCAL aqpd.bulk = 'on';
SELECT setseed(0.42);
CREATE TEMP TABLE bench_pc AS
    SELECT row_number() OVER (ORDER BY outcode) AS i, outcode, lat, lon
    FROM postcode_district WHERE region_code IS NOT NULL AND active_postcodes > 0;
CREATE TEMP TABLE bench_la AS SELECT row_number() OVER (ORDER BY code) AS i, code FROM commissioner;
CREATE TEMP TABLE bench_org AS
    SELECT g AS i, md5('bench-org-' || g)::uuid AS id, md5('bench-app-' || g)::uuid AS app,
           md5('bench-qual-' || g)::uuid AS qual, md5('bench-site-' || g)::uuid AS site,
           CASE WHEN g % 3 = 0 THEN 'childrens-home' WHEN g % 3 = 1 THEN 'family-support'
                ELSE 'edge-of-care' END AS st
    FROM generate_series(1, :n) g;
INSERT INTO organisation (id, name, kind, sector, description, website, identifiers)
SELECT id, 'Bench Provider ' || i || CASE WHEN i % 7 = 0 THEN ', "Care" & Co' ELSE ' Ltd' END,
       'provider', (ARRAY['private', 'voluntary', 'local_authority'])[1 + i % 3],
       'A seeded provider number ' || i || ' for the export benchmark.',
       'https://provider' || i || '.example/', jsonb_build_array(jsonb_build_object('scheme', 'GB-COH', 'id', lpad(i::text, 8, '0')))
FROM bench_org;
INSERT INTO application (id, organisation_id, service_type, criteria_version, status, submitted_at, decided_at)
SELECT app, id, st, (SELECT max(version) FROM criteria_set), 'qualified', now(), now() FROM bench_org;
INSERT INTO qualification (id, organisation_id, service_type, application_id, review_due)
SELECT qual, id, st, app, now() + interval '1 year' FROM bench_org;
INSERT INTO site (id, organisation_id, name, address, postcode, address_private, la_code, lat, lon,
                  places, vacancies, vacancies_at, age_min, age_max)
SELECT o.site, o.id, 'Bench Site ' || o.i, o.i || ' Bench Street', pc.outcode || ' ' || (o.i % 10) || 'AB',
       o.st = 'childrens-home', la.code, pc.lat + (random() - 0.5) / 100, pc.lon + (random() - 0.5) / 100,
       1 + o.i % 12, o.i % 4, now(), o.i % 10, 17
FROM bench_org o
JOIN bench_pc pc ON pc.i = 1 + o.i % (SELECT count(*) FROM bench_pc)
JOIN bench_la la ON la.i = 1 + o.i % (SELECT count(*) FROM bench_la);
COMMIT;
ANALYZE;
