-- 0007_api_key_notify: a key that is revoked, changed or removed is announced at once, so every
-- running aqpd drops its cache of known keys (api/auth.c) instead of honouring it for up to
-- LIMIT_AUTH_CACHE_S more seconds.
CREATE FUNCTION api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('aqpd_api_key', coalesce(OLD.id, NEW.id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER api_key_changed AFTER UPDATE OR DELETE ON api_key
    FOR EACH ROW EXECUTE FUNCTION api_key_changed();
