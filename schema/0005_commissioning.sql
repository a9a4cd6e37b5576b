-- 0005_commissioning: local commissioning (DESIGN.md §1 points 3-5). Each council sets one
-- price and specification per service type (an offer) with its local requirements; a provider
-- reuses its national qualification with any number of councils (local applications), and an
-- accepted application becomes an AQP agreement at the council's price. Price changes are kept
-- as history. When a qualification stops being active, every agreement relying on it is
-- suspended in the same transaction (trigger below), and reinstating it restores them.

CREATE TABLE offer (
    commissioner_code  text NOT NULL REFERENCES commissioner (code),
    service_type       text NOT NULL REFERENCES service_type (code),
    price_pence        integer NOT NULL CHECK (price_pence > 0),
    price_unit         text NOT NULL CHECK (price_unit IN ('week', 'night', 'hour', 'session', 'placement')),
    specification      text NOT NULL CHECK (length(specification) BETWEEN 1 AND 20000),
    open               boolean NOT NULL DEFAULT true,
    local_requirements jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(local_requirements) = 'array'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (commissioner_code, service_type)
);

-- Every price an offer has had; the row with effective_to NULL is in force.
CREATE TABLE offer_price (
    commissioner_code text NOT NULL,
    service_type      text NOT NULL,
    price_pence       integer NOT NULL CHECK (price_pence > 0),
    price_unit        text NOT NULL,
    effective_from    timestamptz NOT NULL,
    effective_to      timestamptz,
    PRIMARY KEY (commissioner_code, service_type, effective_from),
    FOREIGN KEY (commissioner_code, service_type) REFERENCES offer (commissioner_code, service_type),
    CHECK (effective_to IS NULL OR effective_to >= effective_from)
);
CREATE UNIQUE INDEX offer_price_current ON offer_price (commissioner_code, service_type)
    WHERE effective_to IS NULL;

-- Keeps offer_price in step with the offer: a new price closes the one in force.
CREATE FUNCTION offer_price_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.price_pence IS DISTINCT FROM NEW.price_pence
       OR OLD.price_unit IS DISTINCT FROM NEW.price_unit THEN
        UPDATE offer_price SET effective_to = now()
        WHERE commissioner_code = NEW.commissioner_code AND service_type = NEW.service_type
          AND effective_to IS NULL;
        INSERT INTO offer_price (commissioner_code, service_type, price_pence, price_unit, effective_from)
        VALUES (NEW.commissioner_code, NEW.service_type, NEW.price_pence, NEW.price_unit, now())
        ON CONFLICT (commissioner_code, service_type, effective_from) DO UPDATE
            SET price_pence = EXCLUDED.price_pence, price_unit = EXCLUDED.price_unit, effective_to = NULL;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER offer_price_history AFTER INSERT OR UPDATE ON offer
    FOR EACH ROW EXECUTE FUNCTION offer_price_history();

CREATE TABLE local_application (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    qualification_id  uuid NOT NULL REFERENCES qualification (id),
    organisation_id   uuid NOT NULL REFERENCES organisation (id),
    commissioner_code text NOT NULL REFERENCES commissioner (code),
    service_type      text NOT NULL REFERENCES service_type (code),
    answers           jsonb NOT NULL CHECK (jsonb_typeof(answers) = 'object'),
    results           jsonb NOT NULL CHECK (jsonb_typeof(results) = 'array'),
    status            text NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'accepted', 'declined')),
    decision_reason   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    decided_at        timestamptz,
    CHECK (status <> 'declined' OR decision_reason IS NOT NULL),
    CHECK ((status = 'submitted') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX local_application_open ON local_application (organisation_id, commissioner_code, service_type)
    WHERE status = 'submitted';
CREATE INDEX local_application_council ON local_application (commissioner_code, created_at);

CREATE TABLE agreement (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    local_application_id uuid NOT NULL UNIQUE REFERENCES local_application (id),
    qualification_id     uuid NOT NULL REFERENCES qualification (id),
    organisation_id      uuid NOT NULL REFERENCES organisation (id),
    commissioner_code    text NOT NULL REFERENCES commissioner (code),
    service_type         text NOT NULL REFERENCES service_type (code),
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'terminated')),
    status_reason        text,
    suspended_by_qualification boolean NOT NULL DEFAULT false,
    start_price_pence    integer NOT NULL CHECK (start_price_pence > 0),
    price_unit           text NOT NULL,
    started_at           timestamptz NOT NULL DEFAULT now(),
    end_date             date,
    termination_reason   text,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'terminated') = (end_date IS NOT NULL AND termination_reason IS NOT NULL)),
    CHECK (end_date IS NULL OR end_date >= (started_at AT TIME ZONE 'UTC')::date),
    CHECK (NOT suspended_by_qualification OR status = 'suspended')
);
CREATE UNIQUE INDEX agreement_live ON agreement (organisation_id, commissioner_code, service_type)
    WHERE status <> 'terminated';
CREATE INDEX agreement_qualification ON agreement (qualification_id);
CREATE INDEX agreement_council ON agreement (commissioner_code, status);

CREATE TABLE agreement_review (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agreement_id uuid NOT NULL REFERENCES agreement (id),
    reviewed_at  timestamptz NOT NULL DEFAULT now(),
    reviewer     text NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('good', 'requires_improvement', 'inadequate')),
    notes        text NOT NULL DEFAULT '' CHECK (length(notes) <= 20000),
    indicators   jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(indicators) = 'array')
);
CREATE INDEX agreement_review_agreement ON agreement_review (agreement_id, reviewed_at);

-- The changes feed reads audit events by action; this keeps a poll cheap.
CREATE INDEX audit_event_changes ON audit_event (seq)
    WHERE action LIKE 'qualification.%' OR action LIKE 'agreement.%' OR action = 'offer.price';

CREATE FUNCTION qualification_propagate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'active' AND NEW.status <> 'active' THEN
        WITH s AS (
            UPDATE agreement SET status = 'suspended', suspended_by_qualification = true,
                   status_reason = 'the national qualification is ' || NEW.status ||
                                   coalesce(': ' || NEW.status_reason, ''),
                   updated_at = now()
            WHERE qualification_id = NEW.id AND status = 'active' RETURNING *)
        INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)
        SELECT 'system:propagation', 'agreement.suspend', 'agreement', s.id::text,
               jsonb_build_object('commissioner_code', s.commissioner_code,
                                  'organisation_id', s.organisation_id,
                                  'service_type', s.service_type, 'qualification_id', NEW.id,
                                  'before', jsonb_build_object('status', 'active'),
                                  'after', jsonb_build_object('status', 'suspended'),
                                  'reason', s.status_reason)
        FROM s;
    ELSIF NEW.status = 'active' AND OLD.status IN ('suspended', 'lapsed') THEN
        -- Not after a revocation: a new qualification starts without the old agreements.
        WITH r AS (
            UPDATE agreement SET status = 'active', suspended_by_qualification = false,
                   status_reason = NULL, updated_at = now()
            WHERE qualification_id = NEW.id AND status = 'suspended' AND suspended_by_qualification
            RETURNING *)
        INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)
        SELECT 'system:propagation', 'agreement.reinstate', 'agreement', r.id::text,
               jsonb_build_object('commissioner_code', r.commissioner_code,
                                  'organisation_id', r.organisation_id,
                                  'service_type', r.service_type, 'qualification_id', NEW.id,
                                  'before', jsonb_build_object('status', 'suspended'),
                                  'after', jsonb_build_object('status', 'active'),
                                  'reason', 'the national qualification is active again')
        FROM r;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER qualification_propagate AFTER UPDATE OF status ON qualification
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION qualification_propagate();

CREATE FUNCTION api_offer(o offer) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'commissioner_code', o.commissioner_code, 'service_type', o.service_type,
        'price_pence', o.price_pence, 'price_unit', o.price_unit,
        'specification', o.specification, 'open', o.open,
        'local_requirements', o.local_requirements,
        'price_history', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
              'price_pence', p.price_pence, 'price_unit', p.price_unit,
              'effective_from', p.effective_from, 'effective_to', p.effective_to))
            ORDER BY p.effective_from)
          FROM offer_price p WHERE p.commissioner_code = o.commissioner_code
           AND p.service_type = o.service_type), '[]'::jsonb),
        'created_at', o.created_at, 'updated_at', o.updated_at)
$$;

CREATE FUNCTION api_local_application(l local_application) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', l.id, 'qualification_id', l.qualification_id, 'organisation_id', l.organisation_id,
        'commissioner_code', l.commissioner_code, 'service_type', l.service_type,
        'answers', l.answers, 'results', l.results, 'status', l.status,
        'decision_reason', l.decision_reason, 'created_at', l.created_at,
        'decided_at', l.decided_at))
$$;

CREATE FUNCTION api_agreement(a agreement) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', a.id, 'local_application_id', a.local_application_id,
        'qualification_id', a.qualification_id, 'organisation_id', a.organisation_id,
        'organisation_name', (SELECT name FROM organisation WHERE id = a.organisation_id),
        'commissioner_code', a.commissioner_code, 'service_type', a.service_type,
        'status', a.status, 'status_reason', a.status_reason,
        'price_at_start', jsonb_build_object('price_pence', a.start_price_pence, 'price_unit', a.price_unit),
        'price_now', (SELECT jsonb_build_object('price_pence', o.price_pence, 'price_unit', o.price_unit)
                      FROM offer o WHERE o.commissioner_code = a.commissioner_code
                       AND o.service_type = a.service_type),
        'started_at', a.started_at, 'end_date', a.end_date,
        'termination_reason', a.termination_reason,
        'reviews', coalesce((SELECT jsonb_agg(jsonb_build_object('id', r.id,
              'reviewed_at', r.reviewed_at, 'outcome', r.outcome, 'notes', r.notes,
              'indicators', r.indicators) ORDER BY r.reviewed_at, r.id)
          FROM agreement_review r WHERE r.agreement_id = a.id), '[]'::jsonb),
        'updated_at', a.updated_at))
$$;

-- The state part of an audit event's before/after, as the changes feed shows it.
CREATE FUNCTION change_state(d jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN d IS NULL THEN NULL ELSE jsonb_strip_nulls(jsonb_build_object(
        'status', d -> 'status', 'price_pence', d -> 'price_pence', 'price_unit', d -> 'price_unit',
        'end_date', d -> 'end_date')) END
$$;

CREATE FUNCTION api_commissioner(c commissioner) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'code', c.code, 'name', c.name, 'region_code', c.region_code,
        'region', (SELECT r.name FROM region r WHERE r.code = c.region_code),
        'la_number', c.la_number, 'centroid', jsonb_build_object('lat', c.lat, 'lon', c.lon),
        'ofsted_judgement', c.ofsted_judgement, 'ofsted_inspected', c.ofsted_inspected))
$$;

-- A commissioner key acts for a council that exists.
ALTER TABLE api_key ADD CONSTRAINT api_key_commissioner_fk
    FOREIGN KEY (commissioner_code) REFERENCES commissioner (code);
