-- 0009_publication: the board's signed, numbered snapshots of the directory (DESIGN.md §8,
-- docs/publications.md) and what is served from them.
--
-- publication_snapshot() reads the directory as it stands in one statement (one snapshot): the
-- service type catalogue, organisations with an active qualification, those qualifications,
-- the sites where they are delivered (already redacted: a children's home has no name, street
-- address or full postcode, and is placed at its postcode district or its local authority),
-- the councils with their offers, active agreements, and the audit chain head. aqpd turns the
-- rows into canonical JSON (api/pubdoc.c), signs it with the board's Ed25519 key and inserts it
-- into `publication`, whose rows can never change. An AFTER INSERT trigger derives from the
-- stored bytes, and only from them, the Open Referral UK 3.0 objects of the /hsds/ feed and the
-- CSV records of directory.csv (publication_entry), so every public output of a publication
-- says exactly what its signed snapshot says.

-- Times in the snapshot: UTC, milliseconds, "Z" (whatever the session's TimeZone).
CREATE FUNCTION pub_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Coordinates in the snapshot: decimal degrees with exactly six decimals (about 0.1 m).
CREATE FUNCTION pub_coord(x double precision) RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT round(x::numeric, 6)
$$;

-- The outward code ("LS6") of a full postcode ("LS6 2AB"), or NULL.
CREATE FUNCTION pub_outcode(postcode text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT substring(upper(postcode) FROM '^([A-Z]{1,2}[0-9][A-Z0-9]?) ?[0-9][A-Z]{2}$')
$$;

-- The service types a site delivers in the directory: its organisation's active
-- qualifications, among the site's service_types (schema/0008; an empty list means all of the
-- organisation's), as the search index counts them.
CREATE FUNCTION pub_site_services(s site) RETURNS text[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(q.service_type ORDER BY q.service_type), '{}')
    FROM qualification q
    WHERE q.organisation_id = s.organisation_id AND q.status = 'active'
      AND (cardinality(s.service_types) = 0 OR q.service_type = ANY (s.service_types))
$$;

CREATE FUNCTION publication_snapshot() RETURNS TABLE (section text, key text, item jsonb)
LANGUAGE sql STABLE AS $$
    SELECT 'audit', '', jsonb_build_object(
        'seq', coalesce((SELECT max(seq) FROM audit_event), 0),
        'hash', coalesce((SELECT encode(hash, 'hex') FROM audit_event ORDER BY seq DESC LIMIT 1),
                         repeat('0', 64)))
    UNION ALL
    SELECT 'service_types', st.code, jsonb_strip_nulls(jsonb_build_object(
        'code', st.code, 'name', st.name, 'tiers', to_jsonb(st.tiers), 'function', st.function,
        'regulator', st.regulator, 'residential', st.residential, 'description', st.description))
    FROM service_type st
    UNION ALL
    SELECT 'organisations', o.id::text, jsonb_strip_nulls(jsonb_build_object(
        'id', o.id, 'name', o.name, 'kind', o.kind, 'sector', o.sector,
        'description', nullif(o.description, ''), 'website', o.website,
        'identifiers', o.identifiers, 'updated_at', pub_time(o.updated_at)))
    FROM organisation o
    WHERE EXISTS (SELECT 1 FROM qualification q WHERE q.organisation_id = o.id AND q.status = 'active')
    UNION ALL
    SELECT 'qualifications', q.id::text, jsonb_strip_nulls(jsonb_build_object(
        'id', q.id, 'organisation_id', q.organisation_id, 'service_type', q.service_type,
        'qualified_at', pub_time(q.qualified_at), 'review_due', pub_time(q.review_due),
        'updated_at', pub_time(q.updated_at)))
    FROM qualification q WHERE q.status = 'active'
    UNION ALL
    SELECT 'sites', x.id::text, jsonb_strip_nulls(jsonb_build_object(
        'id', x.id, 'organisation_id', x.organisation_id, 'private', x.private,
        'name', CASE WHEN NOT x.private THEN x.name END,
        'address', CASE WHEN NOT x.private THEN x.address END,
        'postcode', CASE WHEN NOT x.private THEN x.postcode END,
        'town', CASE WHEN NOT x.private THEN x.town END,
        'postcode_district', x.district, 'la_code', x.la_code,
        'lat', pub_coord(x.plat), 'lon', pub_coord(x.plon), 'location_basis', x.basis,
        'service_types', to_jsonb(x.services), 'ofsted_urn', x.ofsted_urn,
        'ofsted_rating', x.rating, 'ofsted_inspected', x.inspected,
        'places', x.places, 'vacancies', x.vacancies, 'vacancies_at', pub_time(x.vacancies_at),
        'age_min', x.age_min, 'age_max', x.age_max, 'updated_at', pub_time(x.updated_at)))
    FROM (
        SELECT s.*, sv.services, pd.post_town AS town, pub_outcode(s.postcode) AS district,
               coalesce(os.overall_rating, os.sa_outcome) AS rating,
               os.latest_inspection_date::text AS inspected,
               p.private,
               CASE WHEN NOT p.private AND s.lat IS NOT NULL THEN s.lat
                    WHEN pd.lat IS NOT NULL THEN pd.lat ELSE c.lat END AS plat,
               CASE WHEN NOT p.private AND s.lat IS NOT NULL THEN s.lon
                    WHEN pd.lat IS NOT NULL THEN pd.lon ELSE c.lon END AS plon,
               CASE WHEN NOT p.private AND s.lat IS NOT NULL THEN 'site'
                    WHEN pd.lat IS NOT NULL THEN 'postcode_district'
                    WHEN c.lat IS NOT NULL THEN 'local_authority' END AS basis
        FROM site s
        CROSS JOIN LATERAL (SELECT pub_site_services(s) AS services) sv
        LEFT JOIN ofsted_setting os ON os.urn = s.ofsted_urn
        LEFT JOIN postcode_district pd ON pd.outcode = pub_outcode(s.postcode)
        LEFT JOIN commissioner c ON c.code = s.la_code
        CROSS JOIN LATERAL (SELECT s.address_private
            OR sv.services && ARRAY['childrens-home', 'secure-childrens-home']
            OR coalesce(os.provision_type ~* 'children.s home', false) AS private) p
        WHERE cardinality(sv.services) > 0
    ) x
    UNION ALL
    SELECT 'commissioners', c.code, jsonb_strip_nulls(jsonb_build_object(
        'code', c.code, 'name', c.name, 'region', r.name,
        'lat', pub_coord(c.lat), 'lon', pub_coord(c.lon), 'ofsted_judgement', c.ofsted_judgement,
        'offers', coalesce((SELECT jsonb_agg(jsonb_build_object('service_type', o.service_type,
                   'price_pence', o.price_pence, 'price_unit', o.price_unit, 'open', o.open)
                   ORDER BY o.service_type)
                 FROM offer o WHERE o.commissioner_code = c.code), '[]'::jsonb)))
    FROM commissioner c JOIN region r ON r.code = c.region_code
    UNION ALL
    SELECT 'agreements', a.id::text, jsonb_build_object(
        'id', a.id, 'organisation_id', a.organisation_id, 'commissioner_code', a.commissioner_code,
        'service_type', a.service_type, 'price_pence', a.start_price_pence,
        'price_unit', a.price_unit, 'since', pub_time(a.started_at))
    FROM agreement a
    WHERE a.status = 'active'
      AND EXISTS (SELECT 1 FROM qualification q WHERE q.id = a.qualification_id AND q.status = 'active')
$$;

CREATE TABLE publication (
    number          integer PRIMARY KEY CHECK (number > 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
    format          text NOT NULL CHECK (format ~ '^aqpd-directory/[0-9]+$'),
    counts          jsonb NOT NULL CHECK (jsonb_typeof(counts) = 'object'),
    -- SHA-256 of the exact bytes, and of the bytes without the "audit" member (what
    -- "unchanged" compares: a later audit event alone is not a change of the directory).
    sha256          text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content_sha256  text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    -- Ed25519 over the exact bytes (64 bytes, base64) and the public key that verifies it.
    signature       text NOT NULL CHECK (signature ~ '^[A-Za-z0-9+/]{86}==$'),
    public_key      text NOT NULL CHECK (public_key LIKE '-----BEGIN PUBLIC KEY-----%'),
    audit_seq       bigint NOT NULL CHECK (audit_seq >= 0),
    audit_hash      text NOT NULL CHECK (audit_hash ~ '^[0-9a-f]{64}$'),
    bytes           bigint NOT NULL,
    document        bytea NOT NULL,
    CHECK (bytes = length(document)),
    CHECK (encode(sha256(document), 'hex') = sha256)
);
-- Uncompressed out-of-line storage: directory.json is streamed in slices, and substring() of
-- an EXTERNAL value reads only the slice.
ALTER TABLE publication ALTER COLUMN document SET STORAGE EXTERNAL;

-- What the public outputs serve, derived from one publication's bytes by the trigger below.
CREATE TABLE publication_entry (
    publication     integer NOT NULL REFERENCES publication (number),
    kind            text NOT NULL CHECK (kind IN ('service', 'organization', 'service_at_location',
                                                  'taxonomy', 'taxonomy_term', 'site')),
    ord             integer NOT NULL,           -- the order of lists and exports
    id              uuid NOT NULL,
    search          text NOT NULL,              -- lower case; `search` is a substring of it
    organization_id uuid,
    term_ids        uuid[] NOT NULL DEFAULT '{}',
    taxonomy_ids    uuid[] NOT NULL DEFAULT '{}',
    modified        timestamptz,
    lat             double precision,
    lon             double precision,
    body            jsonb NOT NULL,             -- the HSDS object (fully nested); for a site,
                                                -- its public fields
    line            text,                       -- a site's CSV record (RFC 4180, CRLF)
    PRIMARY KEY (publication, kind, id),
    UNIQUE (publication, kind, ord)
);

CREATE FUNCTION publication_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'publications are immutable' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER publication_immutable BEFORE UPDATE OR DELETE ON publication
    FOR EACH ROW EXECUTE FUNCTION publication_immutable();
CREATE TRIGGER publication_no_truncate BEFORE TRUNCATE ON publication
    FOR EACH STATEMENT EXECUTE FUNCTION publication_immutable();
CREATE TRIGGER publication_entry_immutable BEFORE UPDATE OR DELETE ON publication_entry
    FOR EACH ROW EXECUTE FUNCTION publication_immutable();
CREATE TRIGGER publication_entry_no_truncate BEFORE TRUNCATE ON publication_entry
    FOR EACH STATEMENT EXECUTE FUNCTION publication_immutable();

-- Stable identifiers for HSDS objects that have no row of their own (UUID-shaped MD5 of a name).
CREATE FUNCTION hsds_id(kind text, key text) RETURNS uuid LANGUAGE sql IMMUTABLE AS $$
    SELECT md5('aqpd:' || kind || ':' || key)::uuid
$$;

-- One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF.
CREATE FUNCTION csv_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN ''
                WHEN v ~ '[",\r\n]' THEN '"' || replace(v, '"', '""') || '"'
                ELSE v END
$$;

-- A website that is a plain http(s) URI (HSDS "uri" format), or NULL.
CREATE FUNCTION hsds_uri(u text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN u ~ '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&''()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&''()*+,;=:@%/?-]*)?$'
                THEN u END
$$;

CREATE FUNCTION publication_derive() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d jsonb := convert_from(NEW.document, 'UTF8')::jsonb;
    n integer := NEW.number;
    tax_st uuid := hsds_id('taxonomy', 'service-types');
    tax_tier uuid := hsds_id('taxonomy', 'tiers');
BEGIN
    -- Scratch tables of this publication's sections, dropped at commit.
    CREATE TEMP TABLE pd_term ON COMMIT DROP AS
    SELECT hsds_id('term', st->>'code') AS id, st->>'code' AS term, tax_st AS taxonomy_id,
           'AQPD service types' AS taxonomy, st->>'name' AS name, st->>'description' AS description,
           o.ord AS ord
    FROM jsonb_array_elements(d->'service_types') WITH ORDINALITY o(st, ord)
    UNION ALL
    SELECT hsds_id('term', 'tier-' || t), 'tier-' || t, tax_tier, 'AQPD tiers of need',
           'Tier ' || t || ': ' || (ARRAY['universal', 'additional needs', 'multiple or complex needs',
                                          'acute or specialist needs'])[t],
           (ARRAY['Services open to every child and family.',
                  'Services for children with additional needs, alongside universal services.',
                  'Services for children with multiple or complex needs.',
                  'Acute and specialist services for children at highest risk.'])[t],
           100 + t
    FROM generate_series(1, 4) t;

    CREATE TEMP TABLE pd_org ON COMMIT DROP AS
    SELECT (o->>'id')::uuid AS id, jsonb_strip_nulls(jsonb_build_object(
               'id', o->>'id', 'name', o->>'name',
               'description', coalesce(o->>'description',
                   (o->>'name') || ' is a provider qualified in the national Any Qualified Provider directory.'),
               'website', hsds_uri(o->>'website'),
               'organization_identifiers', (SELECT jsonb_agg(jsonb_build_object(
                       'id', hsds_id('organization_identifier', (o->>'id') || ':' || (i->>'scheme') || ':' || (i->>'id')),
                       'organization_id', o->>'id', 'identifier_scheme', i->>'scheme',
                       'identifier_type', i->>'scheme', 'identifier', i->>'id'))
                   FROM jsonb_array_elements(o->'identifiers') i
                   WHERE jsonb_typeof(i->'scheme') = 'string' AND jsonb_typeof(i->'id') = 'string'))) AS body,
           (o->>'updated_at')::timestamptz AS modified, o->>'updated_at' AS modified_text
    FROM jsonb_array_elements(d->'organisations') o;
    CREATE INDEX ON pd_org (id);

    CREATE TEMP TABLE pd_agr ON COMMIT DROP AS
    SELECT a->>'id' AS id, (a->>'organisation_id')::uuid AS organisation_id,
           a->>'service_type' AS service_type, a->>'commissioner_code' AS code,
           (a->>'price_pence')::numeric AS price_pence, a->>'price_unit' AS price_unit,
           a->>'since' AS since
    FROM jsonb_array_elements(d->'agreements') a;
    CREATE INDEX ON pd_agr (organisation_id, service_type);

    CREATE TEMP TABLE pd_la ON COMMIT DROP AS
    SELECT c->>'code' AS code, c->>'name' AS name, c->>'region' AS region
    FROM jsonb_array_elements(d->'commissioners') c;

    CREATE TEMP TABLE pd_site ON COMMIT DROP AS
    SELECT (s->>'id')::uuid AS id, (s->>'organisation_id')::uuid AS organisation_id, s,
           (s->>'private')::boolean AS private, la.name AS la_name, la.region,
           jsonb_strip_nulls(jsonb_build_object(
               'id', s->>'id', 'location_type', 'physical',
               'name', CASE WHEN (s->>'private')::boolean
                            THEN 'Children''s home in ' || coalesce('postcode district ' || (s->>'postcode_district'), la.name, 'England')
                            ELSE s->>'name' END,
               'description', CASE WHEN (s->>'private')::boolean THEN
                   'The address of this home is confidential. It is shown at the level of its '
                   || CASE s->>'location_basis' WHEN 'postcode_district' THEN 'postcode district'
                                               ELSE 'local authority' END || '.' END,
               'latitude', s->'lat', 'longitude', s->'lon',
               'external_identifier', s->>'ofsted_urn',
               'external_identifier_type', CASE WHEN s ? 'ofsted_urn' THEN 'Ofsted URN' END,
               'addresses', CASE WHEN NOT (s->>'private')::boolean AND s ? 'address' AND s ? 'postcode' THEN
                   jsonb_build_array(jsonb_build_object(
                       'id', hsds_id('address', s->>'id'), 'location_id', s->>'id',
                       'address_1', s->>'address',
                       'city', coalesce(s->>'town', la.name, 'England'),
                       'state_province', coalesce(la.name, la.region, 'England'),
                       'postal_code', s->>'postcode', 'country', 'GB',
                       'address_type', 'physical')) END)) AS location
    FROM jsonb_array_elements(d->'sites') s
    LEFT JOIN pd_la la ON la.code = s->>'la_code';
    CREATE INDEX ON pd_site (organisation_id);

    CREATE TEMP TABLE pd_svc ON COMMIT DROP AS
    SELECT (q->>'id')::uuid AS id, (q->>'organisation_id')::uuid AS organisation_id,
           q->>'service_type' AS service_type, st, org.body AS org,
           (st->>'name') || ' - ' || (org.body->>'name') AS name,
           greatest(q->>'updated_at', q->>'qualified_at', org.modified_text,
                    (SELECT max(greatest(ps.s->>'updated_at', ps.s->>'vacancies_at')) FROM pd_site ps
                     WHERE ps.organisation_id = (q->>'organisation_id')::uuid
                       AND ps.s->'service_types' ? (q->>'service_type'))) AS modified,
           ARRAY[hsds_id('term', q->>'service_type')] ||
               ARRAY(SELECT hsds_id('term', 'tier-' || t) FROM jsonb_array_elements_text(st->'tiers') t) AS term_ids
    FROM jsonb_array_elements(d->'qualifications') q
    JOIN jsonb_array_elements(d->'service_types') st ON st->>'code' = q->>'service_type'
    JOIN pd_org org ON org.id = (q->>'organisation_id')::uuid;
    CREATE INDEX ON pd_svc (organisation_id);
    ANALYZE pd_org;
    ANALYZE pd_site;
    ANALYZE pd_svc;
    ANALYZE pd_agr;

    -- taxonomies and terms
    INSERT INTO publication_entry (publication, kind, ord, id, search, taxonomy_ids, body)
    SELECT n, 'taxonomy', x.ord, x.id, lower(x.name || ' ' || x.description), ARRAY[x.id],
           jsonb_build_object('id', x.id, 'name', x.name, 'description', x.description,
               'version', '1',
               'taxonomy_terms', coalesce((SELECT jsonb_agg(jsonb_build_object('id', t.id, 'name', t.name,
                   'description', t.description, 'taxonomy', t.taxonomy, 'taxonomy_id', t.taxonomy_id,
                   'term', t.term) ORDER BY t.ord) FROM pd_term t WHERE t.taxonomy_id = x.id), '[]'::jsonb))
    FROM (VALUES (1, tax_st, 'AQPD service types',
                  'The national catalogue of children''s social care service types of the Any Qualified Provider directory.'),
                 (2, tax_tier, 'AQPD tiers of need',
                  'The four tiers of need a service is segmented by (1 universal to 4 acute or specialist).'))
         x(ord, id, name, description);

    INSERT INTO publication_entry (publication, kind, ord, id, search, term_ids, taxonomy_ids, body)
    SELECT n, 'taxonomy_term', row_number() OVER (ORDER BY t.ord), t.id,
           lower(t.name || ' ' || t.description || ' ' || t.term), ARRAY[t.id], ARRAY[t.taxonomy_id],
           jsonb_build_object('id', t.id, 'name', t.name, 'description', t.description,
                              'taxonomy', t.taxonomy, 'taxonomy_id', t.taxonomy_id, 'term', t.term)
    FROM pd_term t;

    -- services, fully nested
    INSERT INTO publication_entry (publication, kind, ord, id, search, organization_id, term_ids,
                                   taxonomy_ids, modified, body)
    SELECT n, 'service', row_number() OVER (ORDER BY lower(v.name), v.id), v.id,
           lower(v.name || ' ' || (v.st->>'description') || ' ' || (v.org->>'description')),
           v.organisation_id, v.term_ids, ARRAY[tax_st, tax_tier], v.modified::timestamptz,
           jsonb_strip_nulls(jsonb_build_object(
               'id', v.id, 'organization_id', v.organisation_id, 'name', v.name,
               'description', v.st->>'description', 'status', 'active',
               'last_modified', v.modified,
               'minimum_age', (SELECT min((ps.s->>'age_min')::int) FROM pd_site ps
                               WHERE ps.organisation_id = v.organisation_id AND ps.s->'service_types' ? v.service_type),
               'maximum_age', (SELECT max((ps.s->>'age_max')::int) FROM pd_site ps
                               WHERE ps.organisation_id = v.organisation_id AND ps.s->'service_types' ? v.service_type),
               'organization', v.org - 'organization_identifiers',
               'attributes', (SELECT jsonb_agg(jsonb_build_object(
                       'id', hsds_id('attribute', v.id || ':' || t.id), 'link_id', v.id,
                       'link_type', 'service', 'taxonomy_term_id', t.id,
                       'taxonomy_term', jsonb_build_object('id', t.id, 'name', t.name,
                           'description', t.description, 'taxonomy', t.taxonomy,
                           'taxonomy_id', t.taxonomy_id, 'term', t.term)) ORDER BY t.ord)
                   FROM pd_term t WHERE t.id = ANY (v.term_ids)),
               'service_at_locations', coalesce((SELECT jsonb_agg(jsonb_build_object(
                       'id', hsds_id('service_at_location', v.id || ':' || ps.id),
                       'service_id', v.id, 'location_id', ps.id, 'location', ps.location) ORDER BY ps.id)
                   FROM pd_site ps WHERE ps.organisation_id = v.organisation_id
                     AND ps.s->'service_types' ? v.service_type), '[]'::jsonb),
               'service_areas', coalesce((SELECT jsonb_agg(jsonb_build_object(
                       'id', hsds_id('service_area', a.id), 'service_id', v.id,
                       'name', coalesce(la.name, a.code),
                       'extent', a.code, 'extent_type', 'ONS local authority code')
                       ORDER BY a.code)
                   FROM pd_agr a LEFT JOIN pd_la la ON la.code = a.code
                   WHERE a.organisation_id = v.organisation_id AND a.service_type = v.service_type), '[]'::jsonb),
               'cost_options', coalesce((SELECT jsonb_agg(jsonb_build_object(
                       'id', hsds_id('cost_option', a.id), 'service_id', v.id,
                       'option', 'AQP agreement price, ' || coalesce(la.name, a.code),
                       'amount', a.price_pence / 100,
                       'amount_description', 'GBP per ' || a.price_unit,
                       'valid_from', left(a.since, 10))
                       ORDER BY a.code)
                   FROM pd_agr a LEFT JOIN pd_la la ON la.code = a.code
                   WHERE a.organisation_id = v.organisation_id AND a.service_type = v.service_type), '[]'::jsonb),
               'service_capacity', (SELECT jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                       'id', hsds_id('service_capacity', v.id::text), 'service_id', v.id,
                       'unit', jsonb_build_object('id', hsds_id('unit', 'place'), 'name', 'Place'),
                       'available', sum((ps.s->>'vacancies')::int),
                       'maximum', CASE WHEN count(*) = count(ps.s->'places') THEN sum((ps.s->>'places')::int) END,
                       'description', 'Places available now, as the provider last reported them',
                       'updated', max(ps.s->>'vacancies_at'))))
                   FROM pd_site ps WHERE ps.organisation_id = v.organisation_id
                     AND ps.s->'service_types' ? v.service_type AND ps.s ? 'vacancies'
                   HAVING count(*) > 0)))
    FROM pd_svc v;

    -- services at locations (the list form carries its location and its service)
    INSERT INTO publication_entry (publication, kind, ord, id, search, organization_id, term_ids,
                                   taxonomy_ids, modified, lat, lon, body)
    SELECT n, 'service_at_location', row_number() OVER (ORDER BY lower(v.name), v.id, ps.id),
           hsds_id('service_at_location', v.id || ':' || ps.id),
           lower(v.name || ' ' || (ps.location->>'name') || ' ' || (v.st->>'description')),
           v.organisation_id, v.term_ids, ARRAY[tax_st, tax_tier], v.modified::timestamptz,
           (ps.s->>'lat')::double precision, (ps.s->>'lon')::double precision,
           jsonb_build_object('id', hsds_id('service_at_location', v.id || ':' || ps.id),
               'service_id', v.id, 'location_id', ps.id, 'location', ps.location,
               'service', jsonb_strip_nulls(jsonb_build_object('id', v.id,
                   'organization_id', v.organisation_id, 'name', v.name,
                   'description', v.st->>'description', 'status', 'active',
                   'last_modified', v.modified, 'organization', v.org - 'organization_identifiers')))
    FROM pd_svc v JOIN pd_site ps ON ps.organisation_id = v.organisation_id
                                 AND ps.s->'service_types' ? v.service_type;

    -- organizations, with their services (one-to-one fields)
    INSERT INTO publication_entry (publication, kind, ord, id, search, organization_id, modified, body)
    SELECT n, 'organization', row_number() OVER (ORDER BY lower(o.body->>'name'), o.id), o.id,
           lower((o.body->>'name') || ' ' || (o.body->>'description')), o.id, o.modified,
           o.body || jsonb_build_object('services', coalesce((SELECT jsonb_agg(jsonb_build_object(
               'id', v.id, 'organization_id', v.organisation_id, 'name', v.name,
               'description', v.st->>'description', 'status', 'active', 'last_modified', v.modified)
               ORDER BY lower(v.name), v.id) FROM pd_svc v WHERE v.organisation_id = o.id), '[]'::jsonb))
    FROM pd_org o;

    -- sites: the CSV export
    INSERT INTO publication_entry (publication, kind, ord, id, search, organization_id, modified,
                                   lat, lon, body, line)
    SELECT n, 'site', row_number() OVER (ORDER BY ps.id), ps.id, '', ps.organisation_id,
           (ps.s->>'updated_at')::timestamptz,
           (ps.s->>'lat')::double precision, (ps.s->>'lon')::double precision, ps.s,
           concat_ws(',', csv_field(ps.s->>'id'), csv_field(ps.s->>'organisation_id'),
               csv_field(o.body->>'name'), csv_field(ps.s->>'name'), csv_field(ps.s->>'address'),
               csv_field(ps.s->>'postcode'), csv_field(ps.s->>'postcode_district'),
               csv_field(ps.s->>'la_code'), csv_field(ps.la_name), csv_field(ps.region),
               csv_field(ps.s->>'lat'), csv_field(ps.s->>'lon'), csv_field(ps.s->>'location_basis'),
               csv_field(ps.private::text),
               csv_field((SELECT string_agg(t, ' ') FROM jsonb_array_elements_text(ps.s->'service_types') t)),
               csv_field(ps.s->>'ofsted_urn'), csv_field(ps.s->>'ofsted_rating'),
               csv_field(ps.s->>'places'), csv_field(ps.s->>'vacancies'),
               csv_field(ps.s->>'vacancies_at'), csv_field(ps.s->>'age_min'),
               csv_field(ps.s->>'age_max')) || E'\r\n'
    FROM pd_site ps JOIN pd_org o ON o.id = ps.organisation_id;

    DROP TABLE pd_term, pd_org, pd_agr, pd_la, pd_site, pd_svc;
    RETURN NULL;
END
$$;
CREATE TRIGGER publication_derive AFTER INSERT ON publication
    FOR EACH ROW EXECUTE FUNCTION publication_derive();

-- A publication without its bytes: what lists and metadata read (a whole-row reference to
-- publication would fetch the document).
CREATE VIEW publication_meta AS
    SELECT number, created_at, created_by, format, counts, sha256, content_sha256, signature,
           public_key, audit_seq, audit_hash, bytes
    FROM publication;

-- Metadata of a publication as the API shows it.
CREATE FUNCTION api_publication(p publication_meta) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'number', p.number, 'created_at', pub_time(p.created_at), 'format', p.format,
        'counts', p.counts, 'bytes', p.bytes, 'sha256', p.sha256,
        'signature', p.signature, 'signature_algorithm', 'Ed25519',
        'audit', jsonb_build_object('seq', p.audit_seq, 'hash', p.audit_hash),
        'links', jsonb_build_object(
            'self', '/v1/publications/' || p.number,
            'directory_json', '/v1/publications/' || p.number || '/directory.json',
            'directory_csv', '/v1/publications/' || p.number || '/directory.csv',
            'public_key', '/v1/publications/public-key'))
$$;

-- The forms of an HSDS object the feed serves: 'full' (fully nested), 'minimal' (a service's
-- id, name, status and last_modified) and 'list' (one-to-one fields: nested arrays left out).
CREATE FUNCTION hsds_variant(body jsonb, variant text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE variant
        WHEN 'full' THEN body
        WHEN 'minimal' THEN jsonb_strip_nulls(jsonb_build_object('id', body->'id',
            'name', body->'name', 'status', body->'status', 'last_modified', body->'last_modified'))
        ELSE body - ARRAY['service_at_locations', 'attributes', 'service_areas', 'cost_options',
                          'service_capacity', 'services', 'taxonomy_terms',
                          'organization_identifiers']
    END
$$;

-- Great-circle distance in metres (haversine, mean Earth radius), NULL without both points.
CREATE FUNCTION hsds_distance_m(lat1 double precision, lon1 double precision,
                                lat2 double precision, lon2 double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
    SELECT 2 * 6371008.8 * asin(least(1, sqrt(
        sin(radians(lat2 - lat1) / 2) ^ 2
        + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2)))
$$;
