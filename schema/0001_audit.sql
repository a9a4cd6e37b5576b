-- 0001_audit: the append-only, hash-chained audit log.
--
-- Every change the API makes writes an audit_event in the same transaction. Each event's hash is
-- sha256(prev_hash || canonical text of the event), so altering or removing any event breaks
-- every hash after it; `aqpd audit verify` (a later issue) recomputes the chain end to end.
-- Events are serialised by a transaction-scoped advisory lock taken in the trigger, and the
-- sequence number is drawn after the lock, so chain order equals seq order even when
-- transactions interleave.

CREATE TABLE audit_event (
    seq          bigint PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    action       text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
    subject_type text NOT NULL CHECK (subject_type ~ '^[a-z][a-z0-9_]{0,63}$'),
    subject_id   text NOT NULL CHECK (length(subject_id) BETWEEN 1 AND 200),
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash    bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32)
);

CREATE SEQUENCE audit_event_seq AS bigint;

CREATE INDEX audit_event_subject ON audit_event (subject_type, subject_id, seq);

-- The text that is hashed: fixed field order, timestamps in UTC to the microsecond, jsonb in
-- its canonical text form.
CREATE FUNCTION audit_event_text(e audit_event) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws(E'\n', e.seq::text,
                     to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                     e.actor, e.action, e.subject_type, e.subject_id, e.detail::text)
$$;

CREATE FUNCTION audit_event_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(7243519002);
    NEW.seq := nextval('audit_event_seq');
    SELECT hash INTO last FROM audit_event ORDER BY seq DESC LIMIT 1;
    NEW.prev_hash := coalesce(last, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := sha256(NEW.prev_hash || convert_to(audit_event_text(NEW), 'UTF8'));
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_event_chain BEFORE INSERT ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_chain();

CREATE FUNCTION audit_event_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_immutable();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_immutable();
