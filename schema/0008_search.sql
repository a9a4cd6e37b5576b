-- 0008_search: what the in-memory search index (api/index, api/search.c) is loaded from, and
-- how every running aqpd learns that it must reload part of it (DESIGN.md §7, §9).
--
-- A directory entry is one site of an organisation for one service type the organisation
-- holds a qualification for (any status: the board and councils can search suspended ones).
-- A site names the service types delivered there; an empty list means all of the
-- organisation's. PostgreSQL stays the record: the index is derived from index_entries() alone.
--
-- Freshness: every change that can alter an entry NOTIFYs channel aqpd_index with
--   "org:<organisation uuid>:<txid>"  reload that organisation's entries,
--   "offers:<txid>"                   reload the councils' prices (small),
--   "all:<txid>"                      reload everything (after a bulk load),
-- The txid lets a server that listens on several pool connections drop the copies.
-- A bulk loader may set aqpd.bulk = 'on' for its transaction to silence the row triggers and
-- send one "all" at the end (tests/bench/load_*.sql do).

ALTER TABLE site ADD COLUMN service_types text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(service_types) <= 16);

-- Children's home addresses are confidential (DESIGN.md §6): a site that delivers one is
-- private whatever the caller sent.
CREATE FUNCTION site_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(NEW.service_types) t
               WHERE NOT EXISTS (SELECT 1 FROM service_type s WHERE s.code = t)) THEN
        RAISE EXCEPTION 'unknown service type in %', NEW.service_types
            USING ERRCODE = 'check_violation', CONSTRAINT = 'site_service_types';
    END IF;
    IF NEW.service_types && ARRAY['childrens-home', 'secure-childrens-home'] THEN
        NEW.address_private := true;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER site_guard BEFORE INSERT OR UPDATE ON site
    FOR EACH ROW EXECUTE FUNCTION site_guard();

-- The outward code of a full postcode ("LS6 2AB" -> "LS6"); NULL for NULL.
CREATE FUNCTION postcode_outcode(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT nullif(btrim(regexp_replace(upper(p), '\s*[0-9][A-Z]{2}$', '')), '')
$$;

-- Ofsted's overall grade as the index's rating code.
CREATE FUNCTION rating_code(r text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE r WHEN 'Outstanding' THEN 'outstanding' WHEN 'Good' THEN 'good'
                  WHEN 'Requires improvement to be good' THEN 'requires_improvement'
                  WHEN 'Inadequate' THEN 'inadequate' END
$$;

-- The entries of the given sites, in site id then service type order. A site without any
-- point (no coordinates, no known postcode district, no LA) has no entry: it cannot be placed;
-- nor has a private site (a children's home) known only by its own coordinates, since it has
-- no point it may be shown at.
-- The server calls it for pages of sites in id order (a full load) and for the sites of
-- organisations that changed.
--
-- Points: the precise point is the site's own coordinates, else its postcode district's
-- centroid, else its LA's centroid. The public point of a private site (a children's home) is
-- its district, else its LA, never its own coordinates; a public site's is its precise point.
-- display_public / display_private are the JSON members ("provider", "site", "location")
-- each view shows, rendered once here; display_private is NULL when it equals display_public.
CREATE FUNCTION index_entries(p_sites uuid[])
RETURNS TABLE (key text, site_id uuid, organisation_id uuid, organisation_name text,
               site_name text, service_type text, tiers integer, status text, sector text,
               region text, la text, lat double precision, lon double precision,
               precise_lat double precision, precise_lon double precision,
               address_private boolean, rating text, age_min integer, age_max integer,
               vacancies integer, vacancies_at bigint, description text, agreements text,
               display_public text, display_private text)
LANGUAGE sql STABLE AS $$
    WITH s AS (SELECT * FROM site WHERE id = ANY (p_sites)),
    g AS (
        SELECT s.*, o.name AS org_name, o.sector AS org_sector, o.description AS org_desc,
               pd.outcode, pd.lat AS d_lat, pd.lon AS d_lon,
               c.name AS la_name, c.lat AS c_lat, c.lon AS c_lon,
               coalesce(c.region_code, pd.region_code) AS region_code,
               rating_code(os.overall_rating) AS rating
        FROM s
        JOIN organisation o ON o.id = s.organisation_id
        LEFT JOIN postcode_district pd ON pd.outcode = postcode_outcode(s.postcode)
        LEFT JOIN commissioner c ON c.code = s.la_code
        LEFT JOIN ofsted_setting os ON os.urn = s.ofsted_urn),
    p AS (
        SELECT g.*,
               coalesce(g.lat, g.d_lat, g.c_lat) AS p_lat,
               coalesce(g.lon, g.d_lon, g.c_lon) AS p_lon,
               CASE WHEN g.lat IS NOT NULL THEN 'site' WHEN g.d_lat IS NOT NULL THEN 'district'
                    WHEN g.c_lat IS NOT NULL THEN 'local_authority' END AS p_prec,
               CASE WHEN NOT g.address_private THEN coalesce(g.lat, g.d_lat, g.c_lat)
                    ELSE coalesce(g.d_lat, g.c_lat) END AS u_lat,
               CASE WHEN NOT g.address_private THEN coalesce(g.lon, g.d_lon, g.c_lon)
                    ELSE coalesce(g.d_lon, g.c_lon) END AS u_lon,
               CASE WHEN NOT g.address_private THEN
                        CASE WHEN g.lat IS NOT NULL THEN 'site' WHEN g.d_lat IS NOT NULL THEN 'district'
                             WHEN g.c_lat IS NOT NULL THEN 'local_authority' END
                    WHEN g.d_lat IS NOT NULL THEN 'district'
                    WHEN g.c_lat IS NOT NULL THEN 'local_authority' END AS u_prec
        FROM g),
    d AS (
        SELECT p.*,
               jsonb_build_object('id', p.id, 'name', p.name, 'address', p.address,
                   'postcode', p.postcode, 'district', p.outcode,
                   'address_private', p.address_private, 'ofsted_urn', p.ofsted_urn,
                   'places', p.places,
                   'local_authority', CASE WHEN p.la_code IS NOT NULL THEN
                       jsonb_build_object('code', p.la_code, 'name', p.la_name) END,
                   'region', (SELECT jsonb_build_object('code', r.code, 'name', r.name)
                              FROM region r WHERE r.code = p.region_code)) AS site_all
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
           jsonb_build_object(
               'provider', jsonb_build_object('id', d.organisation_id, 'name', d.org_name,
                                              'sector', d.org_sector),
               'site', jsonb_strip_nulls(CASE WHEN d.address_private
                       THEN d.site_all - 'name' - 'address' - 'postcode'
                       ELSE d.site_all END),
               'location', jsonb_build_object('lat', round(d.u_lat::numeric, 5),
                                              'lon', round(d.u_lon::numeric, 5),
                                              'precision', d.u_prec))::text,
           CASE WHEN d.address_private OR d.u_prec <> d.p_prec THEN
           jsonb_build_object(
               'provider', jsonb_build_object('id', d.organisation_id, 'name', d.org_name,
                                              'sector', d.org_sector),
               'site', jsonb_strip_nulls(d.site_all),
               'location', jsonb_build_object('lat', round(d.p_lat::numeric, 5),
                                              'lon', round(d.p_lon::numeric, 5),
                                              'precision', d.p_prec))::text END
    FROM d
    JOIN qualification q ON q.organisation_id = d.organisation_id
         AND (cardinality(d.service_types) = 0 OR q.service_type = ANY (d.service_types))
    JOIN service_type st ON st.code = q.service_type
    WHERE d.p_lat IS NOT NULL AND d.u_lat IS NOT NULL -- a private site needs a district or LA
    ORDER BY d.id, q.service_type
$$;

-- The councils' current prices, for /v1/search's "price" of entries without an agreement.
CREATE FUNCTION index_offers()
RETURNS TABLE (commissioner_code text, service_type text, price_pence integer,
               price_unit text, open boolean)
LANGUAGE sql STABLE AS $$
    SELECT commissioner_code, service_type, price_pence, price_unit, open FROM offer
    ORDER BY commissioner_code, service_type
$$;

-- ---- notifications ----

CREATE FUNCTION index_notify_org(org uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF org IS NOT NULL AND coalesce(current_setting('aqpd.bulk', true), '') <> 'on' THEN
        PERFORM pg_notify('aqpd_index', 'org:' || org::text || ':' || txid_current()::text);
    END IF;
END $$;

CREATE FUNCTION index_changed_org() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM index_notify_org(OLD.organisation_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM index_notify_org(NEW.organisation_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION index_changed_organisation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM index_notify_org(OLD.id);
    RETURN NULL;
END $$;

CREATE TRIGGER index_organisation AFTER UPDATE OR DELETE ON organisation
    FOR EACH ROW EXECUTE FUNCTION index_changed_organisation();
CREATE TRIGGER index_site AFTER INSERT OR UPDATE OR DELETE ON site
    FOR EACH ROW EXECUTE FUNCTION index_changed_org();
CREATE TRIGGER index_qualification AFTER INSERT OR UPDATE OR DELETE ON qualification
    FOR EACH ROW EXECUTE FUNCTION index_changed_org();
CREATE TRIGGER index_agreement AFTER INSERT OR UPDATE OR DELETE ON agreement
    FOR EACH ROW EXECUTE FUNCTION index_changed_org();

-- A price change reaches every entry with an agreement for that council and service type.
CREATE FUNCTION index_changed_offer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    org uuid;
BEGIN
    IF coalesce(current_setting('aqpd.bulk', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('aqpd_index', 'offers:' || txid_current()::text);
    IF TG_OP = 'UPDATE' AND (OLD.price_pence, OLD.price_unit) IS DISTINCT FROM
                            (NEW.price_pence, NEW.price_unit) THEN
        FOR org IN SELECT DISTINCT a.organisation_id FROM agreement a
                   WHERE a.commissioner_code = NEW.commissioner_code
                     AND a.service_type = NEW.service_type AND a.status <> 'terminated' LOOP
            PERFORM index_notify_org(org);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER index_offer AFTER INSERT OR UPDATE OR DELETE ON offer
    FOR EACH ROW EXECUTE FUNCTION index_changed_offer();
