-- 0003_pipeline: the national qualification pipeline: the service type catalogue, versioned
-- criteria sets, organisations (providers and consortia), sites, applications, qualifications
-- and API keys. Illegal states are made unrepresentable where a constraint can say so; the
-- state machines themselves live in qualify/ and every write checks the expected prior state
-- in its WHERE clause.

CREATE TABLE service_type (
    code           text PRIMARY KEY CHECK (code ~ '^[a-z][a-z-]{1,40}$'),
    name           text NOT NULL,
    tiers          smallint[] NOT NULL CHECK (tiers <@ ARRAY[1,2,3,4]::smallint[] AND cardinality(tiers) > 0),
    function       text NOT NULL CHECK (function IN ('placement', 'support', 'assessment', 'advocacy', 'leadership')),
    regulator      text CHECK (regulator IN ('ofsted')),
    ofsted_provision_types text[] NOT NULL DEFAULT '{}',
    residential    boolean NOT NULL,
    hsds_term      text NOT NULL,
    description    text NOT NULL,
    CHECK ((regulator IS NULL) = (cardinality(ofsted_provision_types) = 0))
);

INSERT INTO service_type (code, name, tiers, function, regulator, ofsted_provision_types, residential, hsds_term, description) VALUES
('childrens-home', 'Children''s home', '{3,4}', 'placement', 'ofsted',
 '{"Children''s home","Children''s Home","Residential special school (registered as a children''s home)"}', true,
 'aqpd-st-childrens-home', 'Residential care in a home registered with Ofsted, for children who cannot live with their families.'),
('independent-fostering', 'Independent fostering agency', '{2,3,4}', 'placement', 'ofsted',
 '{"Independent Fostering Agency"}', false,
 'aqpd-st-independent-fostering', 'Recruits, approves, trains and supports foster carers who look after children placed by local authorities.'),
('supported-accommodation', 'Supported accommodation (16-17)', '{2,3}', 'placement', 'ofsted',
 '{"Supported Accommodation"}', true,
 'aqpd-st-supported-accommodation', 'Accommodation with support for looked-after children and care leavers aged 16 and 17.'),
('residential-family-centre', 'Residential family centre', '{3,4}', 'assessment', 'ofsted',
 '{"Residential Family Centre"}', true,
 'aqpd-st-residential-family-centre', 'Parents and children stay together while parenting is assessed and supported.'),
('secure-childrens-home', 'Secure children''s home', '{4}', 'placement', 'ofsted',
 '{"Secure children''s home"}', true,
 'aqpd-st-secure-childrens-home', 'A children''s home approved to restrict liberty, for children at serious risk.'),
('adoption', 'Voluntary adoption agency', '{3}', 'placement', 'ofsted',
 '{"Voluntary Adoption Agency"}', false,
 'aqpd-st-adoption', 'Recruits, assesses and approves adopters, and matches them with children.'),
('adoption-support', 'Adoption support agency', '{2,3}', 'support', 'ofsted',
 '{"Adoption Support Agency"}', false,
 'aqpd-st-adoption-support', 'Therapeutic and practical support for adoptive families and adopted people.'),
('short-breaks', 'Short breaks', '{2,3}', 'support', 'ofsted',
 '{"Children''s home","Children''s Home","Residential Holiday Scheme for Disabled Children"}', true,
 'aqpd-st-short-breaks', 'Planned short stays for disabled children, giving them new experiences and their families a break.'),
('family-support', 'Family support', '{1,2}', 'support', NULL, '{}', false,
 'aqpd-st-family-support', 'Early help and practical support for families, at home and in the community.'),
('edge-of-care', 'Edge of care', '{3}', 'support', NULL, '{}', false,
 'aqpd-st-edge-of-care', 'Intensive work with families to keep children safely at home and out of care.'),
('assessment-care-planning', 'Assessment and care planning', '{2,3,4}', 'assessment', NULL, '{}', false,
 'aqpd-st-assessment-care-planning', 'Independent social work assessments and care planning commissioned by local authorities.'),
('advocacy', 'Independent advocacy', '{1,2,3,4}', 'advocacy', NULL, '{}', false,
 'aqpd-st-advocacy', 'Independent advocates who help children in care and care leavers be heard.'),
('national-approved-leader', 'Nationally Approved Leader', '{1,2,3,4}', 'leadership', NULL, '{}', false,
 'aqpd-st-national-approved-leader', 'A consortium led by a local authority with commercial and voluntary partners, accredited to lead services.');

-- Criteria sets are immutable once published: applications are frozen to the version they
-- were started under.
CREATE TABLE criteria_set (
    version      integer PRIMARY KEY CHECK (version > 0),
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by text NOT NULL,
    document     jsonb NOT NULL,
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$')
);

CREATE FUNCTION criteria_set_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'criteria sets are immutable once published' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER criteria_set_immutable BEFORE UPDATE OR DELETE ON criteria_set
    FOR EACH ROW EXECUTE FUNCTION criteria_set_immutable();

CREATE TABLE organisation (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    kind        text NOT NULL CHECK (kind IN ('provider', 'consortium')),
    sector      text NOT NULL CHECK (sector IN ('private', 'voluntary', 'local_authority', 'health', 'other')),
    identifiers jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(identifiers) = 'array'),
    contacts    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(contacts) = 'object'),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    website     text CHECK (website ~ '^https?://'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE consortium_member (
    consortium_id uuid NOT NULL REFERENCES organisation (id),
    member_id     uuid NOT NULL REFERENCES organisation (id),
    role          text NOT NULL CHECK (role IN ('local_authority', 'commercial', 'voluntary')),
    PRIMARY KEY (consortium_id, member_id),
    CHECK (consortium_id <> member_id)
);

CREATE TABLE site (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organisation_id  uuid NOT NULL REFERENCES organisation (id),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    ofsted_urn       text CHECK (ofsted_urn ~ '^(SC)?[0-9]{6,7}$'),
    address          text CHECK (length(address) <= 500),
    postcode         text CHECK (postcode ~ '^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$'),
    address_private  boolean NOT NULL DEFAULT false,
    la_code          text CHECK (la_code ~ '^E(06|08|09|10)[0-9]{6}$'),
    lat              double precision CHECK (lat BETWEEN 49 AND 61),
    lon              double precision CHECK (lon BETWEEN -9 AND 3),
    places           integer CHECK (places >= 0 AND places <= 10000),
    vacancies        integer CHECK (vacancies >= 0),
    vacancies_at     timestamptz,
    age_min          smallint CHECK (age_min BETWEEN 0 AND 25),
    age_max          smallint CHECK (age_max BETWEEN 0 AND 25),
    needs            text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (age_min IS NULL OR age_max IS NULL OR age_min <= age_max),
    CHECK ((vacancies IS NULL) = (vacancies_at IS NULL)),
    CHECK ((lat IS NULL) = (lon IS NULL))
);
CREATE INDEX site_organisation ON site (organisation_id);
CREATE UNIQUE INDEX site_urn ON site (ofsted_urn) WHERE ofsted_urn IS NOT NULL;

CREATE TABLE application (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organisation_id  uuid NOT NULL REFERENCES organisation (id),
    service_type     text NOT NULL REFERENCES service_type (code),
    criteria_version integer NOT NULL REFERENCES criteria_set (version),
    status           text NOT NULL DEFAULT 'draft' CHECK (status IN
                     ('draft', 'submitted', 'returned', 'in_assessment', 'info_requested',
                      'qualified', 'rejected', 'withdrawn')),
    answers          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(answers) = 'object'),
    results          jsonb NOT NULL DEFAULT '[]'::jsonb,
    scores           jsonb NOT NULL DEFAULT '{}'::jsonb,
    decision_reason  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    submitted_at     timestamptz,
    decided_at       timestamptz,
    CHECK (status <> 'rejected' OR decision_reason IS NOT NULL)
);
CREATE INDEX application_organisation ON application (organisation_id, created_at);
CREATE INDEX application_queue ON application (submitted_at, id) WHERE status = 'in_assessment';

CREATE TABLE qualification (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organisation_id  uuid NOT NULL REFERENCES organisation (id),
    service_type     text NOT NULL REFERENCES service_type (code),
    application_id   uuid NOT NULL REFERENCES application (id),
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'lapsed', 'revoked')),
    status_reason    text,
    qualified_at     timestamptz NOT NULL DEFAULT now(),
    review_due       timestamptz NOT NULL,
    evidence_expires date,
    ofsted_urn       text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organisation_id, service_type),
    CHECK (status = 'active' OR status_reason IS NOT NULL)
);
CREATE INDEX qualification_due ON qualification (review_due) WHERE status = 'active';

CREATE TABLE api_key (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash          bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    role              text NOT NULL CHECK (role IN ('provider', 'commissioner', 'assessor', 'board')),
    organisation_id   uuid REFERENCES organisation (id),
    commissioner_code text,
    label             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz,
    CHECK ((role = 'provider') = (organisation_id IS NOT NULL)),
    CHECK ((role = 'commissioner') = (commissioner_code IS NOT NULL))
);

-- The API's JSON shapes, in one place. Handlers return what these produce, so a field is
-- named and formatted the same way wherever the object appears. Optional fields are omitted
-- rather than sent as null (jsonb_strip_nulls on the top level).
CREATE FUNCTION api_organisation(o organisation) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', o.id, 'name', o.name, 'kind', o.kind, 'sector', o.sector,
        'identifiers', o.identifiers, 'contacts', o.contacts,
        'description', nullif(o.description, ''), 'website', o.website,
        'members', CASE WHEN o.kind = 'consortium' THEN coalesce((
            SELECT jsonb_agg(jsonb_build_object('organisation_id', m.member_id, 'name', mo.name,
                                                'role', m.role) ORDER BY mo.name, m.member_id)
            FROM consortium_member m JOIN organisation mo ON mo.id = m.member_id
            WHERE m.consortium_id = o.id), '[]'::jsonb) END,
        'created_at', o.created_at, 'updated_at', o.updated_at))
$$;

CREATE FUNCTION api_site(s site) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', s.id, 'organisation_id', s.organisation_id, 'name', s.name,
        'ofsted_urn', s.ofsted_urn, 'address', s.address, 'postcode', s.postcode,
        'address_private', s.address_private, 'la_code', s.la_code,
        'location', CASE WHEN s.lat IS NOT NULL THEN jsonb_build_object('lat', s.lat, 'lon', s.lon) END,
        'places', s.places, 'vacancies', s.vacancies, 'vacancies_at', s.vacancies_at,
        'age_min', s.age_min, 'age_max', s.age_max, 'needs', s.needs,
        'created_at', s.created_at, 'updated_at', s.updated_at))
$$;

CREATE FUNCTION api_application(a application) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', a.id, 'organisation_id', a.organisation_id, 'service_type', a.service_type,
        'criteria_version', a.criteria_version, 'status', a.status, 'answers', a.answers,
        'results', a.results, 'scores', a.scores, 'decision_reason', a.decision_reason,
        'created_at', a.created_at, 'updated_at', a.updated_at,
        'submitted_at', a.submitted_at, 'decided_at', a.decided_at))
$$;

CREATE FUNCTION api_qualification(q qualification) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', q.id, 'organisation_id', q.organisation_id,
        'organisation_name', (SELECT name FROM organisation WHERE id = q.organisation_id),
        'service_type', q.service_type, 'application_id', q.application_id,
        'status', q.status, 'status_reason', q.status_reason,
        'qualified_at', q.qualified_at, 'review_due', q.review_due,
        'evidence_expires', q.evidence_expires, 'ofsted_urn', q.ofsted_urn,
        'updated_at', q.updated_at))
$$;

-- One open application per organisation and service type.
CREATE UNIQUE INDEX application_open ON application (organisation_id, service_type)
    WHERE status NOT IN ('qualified', 'rejected', 'withdrawn');

-- A date from answer text, or NULL when it is not one (answers are the provider's words).
CREATE FUNCTION aqpd_try_date(t text) RETURNS date LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF t IS NULL OR t !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN NULL;
    END IF;
    RETURN t::date;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- The earliest expiry of the evidence a qualification relies on (the insurances); the
-- daemon's lapse timer lapses the qualification when it passes.
CREATE FUNCTION application_evidence_expires(answers jsonb) RETURNS date LANGUAGE sql IMMUTABLE AS $$
    SELECT least(aqpd_try_date(answers #>> '{insurance,public_liability,expires}'),
                 aqpd_try_date(answers #>> '{insurance,employers_liability,expires}'),
                 aqpd_try_date(answers #>> '{insurance,professional_indemnity,expires}'))
$$;

-- A register row as the rules see it (criteria/README.md documents the fields).
CREATE FUNCTION ofsted_register_entry(r ofsted_setting) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'urn', r.urn, 'provision_type', r.provision_type,
        'registration_status', r.registration_status, 'registration_date', r.registration_date,
        'owner', r.owner_name, 'local_authority', r.local_authority, 'region', r.region,
        'places', r.places, 'overall_rating', r.overall_rating,
        'inspection_date', r.latest_inspection_date, 'sa_outcome', r.sa_outcome)
$$;

-- Grants (or renews) the qualification an application earned, with its audit event; called
-- by the statement that moves the application to 'qualified', inside its transaction.
CREATE FUNCTION qualification_grant(a application, actor text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    q qualification;
BEGIN
    INSERT INTO qualification (organisation_id, service_type, application_id, review_due,
                               evidence_expires, ofsted_urn)
    VALUES (a.organisation_id, a.service_type, a.id, now() + interval '12 months',
            application_evidence_expires(a.answers), a.answers ->> 'ofsted_urn')
    ON CONFLICT (organisation_id, service_type) DO UPDATE
        SET status = 'active', status_reason = NULL, application_id = EXCLUDED.application_id,
            qualified_at = now(), review_due = EXCLUDED.review_due,
            evidence_expires = EXCLUDED.evidence_expires, ofsted_urn = EXCLUDED.ofsted_urn,
            updated_at = now()
    RETURNING * INTO q;
    INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)
    VALUES (actor, 'qualification.grant', 'qualification', q.id::text,
            jsonb_build_object('after', to_jsonb(q), 'application_id', a.id));
    RETURN api_qualification(q);
END
$$;
