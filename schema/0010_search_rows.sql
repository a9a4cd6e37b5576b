-- 0010_search_rows: the search index loads plain columns instead of rendered JSON.
--
-- index_entries() (0008) rendered each entry's display as two JSON texts, about 650 bytes an
-- entry that the server kept in memory, and building them was most of a full load's time.
-- index_rows() returns the same entries with the few site facts the index does not hold
-- (address, postcode, district, Ofsted URN, places) and the precision of both points as
-- columns; api/search.c renders the display from them and from its reference tables (council
-- and region names). index_entries() keeps its signature, now built on index_rows(), for SQL
-- callers (a provider's page, the benchmarks).
--
-- Points, as in 0008: the precise point is the site's own coordinates, else its postcode
-- district's centroid, else its LA's centroid. The public point of a private site (a children's
-- home) is its district, else its LA, never its own coordinates; a public site's is its precise
-- point. point_precision / public_precision name where each came from: site, district or
-- local_authority. A private site's address and postcode are returned for the commissioner
-- view; the server never shows them in the public one. public_point / precise_point are the
-- points as shown, "lat,lon" with five decimals (about a metre), formatted here once rather
-- than by the server for every answer.
CREATE FUNCTION index_rows(p_sites uuid[])
RETURNS TABLE (key text, site_id uuid, organisation_id uuid, organisation_name text,
               site_name text, service_type text, tiers integer, status text, sector text,
               region text, la text, lat double precision, lon double precision,
               precise_lat double precision, precise_lon double precision,
               address_private boolean, rating text, age_min integer, age_max integer,
               vacancies integer, vacancies_at bigint, description text, agreements text,
               point_precision text, public_precision text, district text, ofsted_urn text,
               places integer, address text, postcode text, public_point text,
               precise_point text)
LANGUAGE sql STABLE AS $$
    WITH g AS (
        SELECT s.*, o.name AS org_name, o.sector AS org_sector, o.description AS org_desc,
               pd.outcode, pd.lat AS d_lat, pd.lon AS d_lon, c.lat AS c_lat, c.lon AS c_lon,
               coalesce(c.region_code, pd.region_code) AS region_code,
               rating_code(os.overall_rating) AS rating
        FROM site s
        JOIN organisation o ON o.id = s.organisation_id
        LEFT JOIN postcode_district pd ON pd.outcode = postcode_outcode(s.postcode)
        LEFT JOIN commissioner c ON c.code = s.la_code
        LEFT JOIN ofsted_setting os ON os.urn = s.ofsted_urn
        WHERE s.id = ANY (p_sites)),
    p AS (
        SELECT g.*,
               coalesce(g.lat, g.d_lat, g.c_lat) AS p_lat,
               coalesce(g.lon, g.d_lon, g.c_lon) AS p_lon,
               CASE WHEN g.lat IS NOT NULL THEN 'site' WHEN g.d_lat IS NOT NULL THEN 'district'
                    WHEN g.c_lat IS NOT NULL THEN 'local_authority' END AS p_prec,
               CASE WHEN g.d_lat IS NOT NULL THEN 'district'
                    WHEN g.c_lat IS NOT NULL THEN 'local_authority' END AS a_prec
        FROM g),
    d AS (
        SELECT p.*,
               CASE WHEN p.address_private THEN p.a_prec ELSE p.p_prec END AS u_prec,
               CASE WHEN NOT p.address_private THEN p.p_lat
                    ELSE coalesce(p.d_lat, p.c_lat) END AS u_lat,
               CASE WHEN NOT p.address_private THEN p.p_lon
                    ELSE coalesce(p.d_lon, p.c_lon) END AS u_lon
        FROM p)
    SELECT d.id::text || ':' || q.service_type, d.id, d.organisation_id, d.org_name,
           d.name, q.service_type,
           (SELECT coalesce(sum(1 << (t - 1)), 0)::integer FROM unnest(st.tiers) t),
           q.status, d.org_sector, d.region_code, d.la_code,
           d.u_lat, d.u_lon, d.p_lat, d.p_lon, d.address_private, d.rating,
           d.age_min, d.age_max, d.vacancies,
           extract(epoch FROM d.vacancies_at)::bigint,
           nullif(d.org_desc, ''),
           (SELECT string_agg(a.commissioner_code || ' ' || a.status || ' ' ||
                              coalesce(of.price_pence, a.start_price_pence) || ' ' ||
                              coalesce(of.price_unit, a.price_unit), ',' ORDER BY a.commissioner_code)
            FROM agreement a
            LEFT JOIN offer of ON of.commissioner_code = a.commissioner_code
                              AND of.service_type = a.service_type
            WHERE a.qualification_id = q.id AND a.status <> 'terminated'),
           d.p_prec, d.u_prec, d.outcode, d.ofsted_urn, d.places, d.address, d.postcode,
           round(d.u_lat::numeric, 5) || ',' || round(d.u_lon::numeric, 5),
           round(d.p_lat::numeric, 5) || ',' || round(d.p_lon::numeric, 5)
    FROM d
    JOIN qualification q ON q.organisation_id = d.organisation_id
         AND (cardinality(d.service_types) = 0 OR q.service_type = ANY (d.service_types))
    JOIN service_type st ON st.code = q.service_type
    WHERE d.p_lat IS NOT NULL AND d.u_lat IS NOT NULL -- a private site needs a district or LA
    ORDER BY d.id, q.service_type
$$;

-- The JSON members ("provider", "site", "location") each view shows of an entry; display_private
-- is NULL when it equals display_public. api/search.c renders the same members from the same
-- columns for /v1/search and /v1/directory.
CREATE OR REPLACE FUNCTION index_entries(p_sites uuid[])
RETURNS TABLE (key text, site_id uuid, organisation_id uuid, organisation_name text,
               site_name text, service_type text, tiers integer, status text, sector text,
               region text, la text, lat double precision, lon double precision,
               precise_lat double precision, precise_lon double precision,
               address_private boolean, rating text, age_min integer, age_max integer,
               vacancies integer, vacancies_at bigint, description text, agreements text,
               display_public text, display_private text)
LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT r.*,
               jsonb_build_object('id', r.site_id, 'name', r.site_name, 'address', r.address,
                   'postcode', r.postcode, 'district', r.district,
                   'address_private', r.address_private, 'ofsted_urn', r.ofsted_urn,
                   'places', r.places,
                   'local_authority', (SELECT jsonb_build_object('code', c.code, 'name', c.name)
                                       FROM commissioner c WHERE c.code = r.la),
                   'region', (SELECT jsonb_build_object('code', g.code, 'name', g.name)
                              FROM region g WHERE g.code = r.region)) AS site_all,
               jsonb_build_object('id', r.organisation_id, 'name', r.organisation_name,
                                  'sector', r.sector) AS provider
        FROM index_rows(p_sites) r)
    SELECT r.key, r.site_id, r.organisation_id, r.organisation_name, r.site_name,
           r.service_type, r.tiers, r.status, r.sector, r.region, r.la, r.lat, r.lon,
           r.precise_lat, r.precise_lon, r.address_private, r.rating, r.age_min, r.age_max,
           r.vacancies, r.vacancies_at, r.description, r.agreements,
           jsonb_build_object(
               'provider', r.provider,
               'site', jsonb_strip_nulls(CASE WHEN r.address_private
                       THEN r.site_all - 'name' - 'address' - 'postcode' ELSE r.site_all END),
               'location', jsonb_build_object('lat', round(r.lat::numeric, 5),
                                              'lon', round(r.lon::numeric, 5),
                                              'precision', r.public_precision))::text,
           CASE WHEN r.address_private OR r.public_precision <> r.point_precision THEN
           jsonb_build_object(
               'provider', r.provider,
               'site', jsonb_strip_nulls(r.site_all),
               'location', jsonb_build_object('lat', round(r.precise_lat::numeric, 5),
                                              'lon', round(r.precise_lon::numeric, 5),
                                              'precision', r.point_precision))::text END
    FROM r
    ORDER BY r.site_id, r.service_type
$$;
