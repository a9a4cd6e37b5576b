/*
 * sql: every statement the API runs, by name. Each connection prepares all of them when it
 * connects, so a request sends only a name and parameters. Writes are single statements whose
 * CTEs make the change and its audit_event together (one round trip, one transaction); reads
 * return JSON built by the api_* SQL functions (schema/), which the handler passes through.
 * Scoping ($2 in most reads: the provider's own organisation, or NULL for national roles) is
 * part of every WHERE clause, never a check after the fact.
 */
#include "api/api.h"

const struct db_stmt api_stmts[] = {
    {"ready", "SELECT 1"},

    {"auth_key", "SELECT id, role, organisation_id, commissioner_code FROM api_key "
                 "WHERE key_hash = decode($1, 'hex') AND revoked_at IS NULL"},

    /* $1 name $2 kind $3 sector $4 identifiers $5 contacts $6 description $7 website
     * $8 members $9 key hash (hex) $10 client address $11 the key (echoed once, not stored) */
    {"org_create",
     "WITH o AS ("
     "  INSERT INTO organisation (name, kind, sector, identifiers, contacts, description, website)"
     "  VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7) RETURNING *),"
     " m AS ("
     "  INSERT INTO consortium_member (consortium_id, member_id, role)"
     "  SELECT o.id, (x->>'organisation_id')::uuid, x->>'role'"
     "  FROM o, jsonb_array_elements($8::jsonb) x RETURNING member_id),"
     " k AS ("
     "  INSERT INTO api_key (key_hash, role, organisation_id, label)"
     "  SELECT decode($9, 'hex'), 'provider', o.id, 'sign-up' FROM o RETURNING id),"
     " a AS ("
     "  INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT 'public:' || $10, 'organisation.create', 'organisation', o.id::text,"
     "         jsonb_build_object('after', to_jsonb(o), 'members', $8::jsonb,"
     "                            'key_id', (SELECT id FROM k)) FROM o RETURNING 1)"
     "SELECT jsonb_build_object('organisation', api_organisation(o) ||"
     "  CASE WHEN o.kind = 'consortium' THEN jsonb_build_object('members', ("
     "    SELECT jsonb_agg(jsonb_build_object('organisation_id', mo.id, 'name', mo.name,"
     "                                        'role', x->>'role') ORDER BY mo.name, mo.id)"
     "    FROM jsonb_array_elements($8::jsonb) x"
     "    JOIN organisation mo ON mo.id = (x->>'organisation_id')::uuid)) ELSE '{}'::jsonb END,"
     "  'api_key', $11::text,"
     "  'api_key_notice', 'This key is shown once. Store it now; only its hash is kept.')"
     " FROM o"},

    /* $1 id $2 scope (provider's organisation, or NULL) */
    {"org_get",
     "SELECT api_organisation(o) FROM organisation o"
     " WHERE o.id = $1::uuid AND ($2::uuid IS NULL OR o.id = $2::uuid)"},

    /* $1 id $2 scope $3 patch (validated JSON object) $4 actor */
    {"org_patch",
     "WITH cur AS (SELECT * FROM organisation"
     "  WHERE id = $1::uuid AND ($2::uuid IS NULL OR id = $2::uuid) FOR UPDATE),"
     " u AS (UPDATE organisation o SET"
     "  name = coalesce($3::jsonb->>'name', o.name),"
     "  sector = coalesce($3::jsonb->>'sector', o.sector),"
     "  identifiers = coalesce($3::jsonb->'identifiers', o.identifiers),"
     "  contacts = coalesce($3::jsonb->'contacts', o.contacts),"
     "  description = coalesce($3::jsonb->>'description', o.description),"
     "  website = coalesce($3::jsonb->>'website', o.website),"
     "  updated_at = now()"
     "  FROM cur WHERE o.id = cur.id RETURNING o.*),"
     " a AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $4, 'organisation.update', 'organisation', u.id::text,"
     "         jsonb_build_object('before', to_jsonb(cur), 'after', to_jsonb(u))"
     "  FROM u JOIN cur ON cur.id = u.id RETURNING 1)"
     "SELECT api_organisation(u) FROM u"},

    /* $1 organisation $2 scope $3 site (validated JSON object) $4 actor */
    {"site_create",
     "WITH org AS (SELECT id FROM organisation"
     "  WHERE id = $1::uuid AND ($2::uuid IS NULL OR id = $2::uuid)),"
     " s AS (INSERT INTO site (organisation_id, name, ofsted_urn, address, postcode,"
     "                         address_private, la_code, places, age_min, age_max, needs)"
     "  SELECT org.id, d->>'name', d->>'ofsted_urn', d->>'address', upper(d->>'postcode'),"
     "         coalesce((d->>'address_private')::boolean, false), d->>'la_code',"
     "         (d->>'places')::int, (d->>'age_min')::int, (d->>'age_max')::int,"
     "         ARRAY(SELECT jsonb_array_elements_text(coalesce(d->'needs', '[]'::jsonb)))"
     "  FROM org, (SELECT $3::jsonb AS d) x RETURNING *),"
     " a AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $4, 'site.create', 'site', s.id::text, jsonb_build_object('after', to_jsonb(s))"
     "  FROM s RETURNING 1)"
     "SELECT api_site(s) FROM s"},

    /* $1 organisation $2 scope */
    {"site_list",
     "SELECT CASE WHEN EXISTS (SELECT 1 FROM organisation"
     "  WHERE id = $1::uuid AND ($2::uuid IS NULL OR id = $2::uuid)) THEN"
     "  jsonb_build_object('items', coalesce((SELECT jsonb_agg(api_site(s) ORDER BY s.name, s.id)"
     "    FROM site s WHERE s.organisation_id = $1::uuid), '[]'::jsonb),"
     "   'next_cursor', NULL::text,"
     "   'total', (SELECT count(*) FROM site WHERE organisation_id = $1::uuid)) END"},

    /* ---- applications ---- */

    /* $1 organisation $2 service type $3 answers $4 actor. Columns: service type (no row:
     * unknown), the application (NULL: already qualified), the existing qualification status. */
    {"app_create",
     "WITH st AS (SELECT code FROM service_type WHERE code = $2),"
     " q AS (SELECT status FROM qualification WHERE organisation_id = $1::uuid"
     "       AND service_type = $2 AND status IN ('active', 'suspended')),"
     " a AS (INSERT INTO application (organisation_id, service_type, criteria_version, answers)"
     "  SELECT $1::uuid, st.code, (SELECT max(version) FROM criteria_set), $3::jsonb FROM st"
     "  WHERE NOT EXISTS (SELECT 1 FROM q) RETURNING *),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $4, 'application.create', 'application', a.id::text,"
     "         jsonb_build_object('after', to_jsonb(a)) FROM a RETURNING 1)"
     "SELECT st.code, (SELECT api_application(a) FROM a), (SELECT status FROM q) FROM st"},

    /* $1 id $2 scope */
    {"app_get",
     "SELECT api_application(a) FROM application a"
     " WHERE a.id = $1::uuid AND ($2::uuid IS NULL OR a.organisation_id = $2::uuid)"},

    /* $1 scope $2 status $3 cursor (id of the last item) $4 limit. Oldest first. */
    {"app_list",
     "WITH f AS (SELECT a.* FROM application a"
     "  WHERE ($1::uuid IS NULL OR a.organisation_id = $1::uuid) AND ($2::text IS NULL OR a.status = $2)),"
     " page AS (SELECT * FROM f WHERE $3::uuid IS NULL OR (created_at, id) >"
     "  (SELECT created_at, id FROM application WHERE id = $3::uuid)"
     "  ORDER BY created_at, id LIMIT $4::int + 1),"
     " shown AS (SELECT * FROM page ORDER BY created_at, id LIMIT $4::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(api_application(s) ORDER BY s.created_at, s.id) FROM shown s), '[]'::jsonb),"
     " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $4::int THEN"
     "   (SELECT id::text FROM shown ORDER BY created_at DESC, id DESC LIMIT 1) END,"
     " 'total', (SELECT count(*) FROM f))"},

    /* The assessors' queue: in_assessment, oldest submission first. Same parameters. */
    {"assessment_list",
     "WITH f AS (SELECT a.* FROM application a WHERE a.status = 'in_assessment'"
     "  AND ($1::uuid IS NULL OR a.organisation_id = $1::uuid) AND ($2::text IS NULL OR a.status = $2)),"
     " page AS (SELECT * FROM f WHERE $3::uuid IS NULL OR (submitted_at, id) >"
     "  (SELECT submitted_at, id FROM application WHERE id = $3::uuid)"
     "  ORDER BY submitted_at, id LIMIT $4::int + 1),"
     " shown AS (SELECT * FROM page ORDER BY submitted_at, id LIMIT $4::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(api_application(s) ORDER BY s.submitted_at, s.id) FROM shown s), '[]'::jsonb),"
     " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $4::int THEN"
     "   (SELECT id::text FROM shown ORDER BY submitted_at DESC, id DESC LIMIT 1) END,"
     " 'total', (SELECT count(*) FROM f))"},

    /* $1 id $2 organisation $3 states that allow editing $4 answers $5 actor.
     * Columns: current status (no row: not found), the application (NULL: not editable). */
    {"app_patch",
     "WITH cur AS (SELECT * FROM application WHERE id = $1::uuid AND organisation_id = $2::uuid FOR UPDATE),"
     " u AS (UPDATE application a SET answers = $4::jsonb, updated_at = now() FROM cur"
     "  WHERE a.id = cur.id AND cur.status = ANY ($3::text[]) RETURNING a.*),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $5, 'application.edit', 'application', u.id::text,"
     "         jsonb_build_object('status', u.status, 'before', cur.answers, 'after', u.answers)"
     "  FROM u JOIN cur ON cur.id = u.id RETURNING 1)"
     "SELECT cur.status, (SELECT api_application(u) FROM u) FROM cur"},

    /* $1 id $2 organisation $3 states that allow withdrawing $4 the resulting state $5 actor */
    {"app_withdraw",
     "WITH cur AS (SELECT * FROM application WHERE id = $1::uuid AND organisation_id = $2::uuid FOR UPDATE),"
     " u AS (UPDATE application a SET status = $4, updated_at = now() FROM cur"
     "  WHERE a.id = cur.id AND cur.status = ANY ($3::text[]) RETURNING a.*),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $5, 'application.withdraw', 'application', u.id::text,"
     "         jsonb_build_object('before', jsonb_build_object('status', cur.status),"
     "                            'after', jsonb_build_object('status', u.status))"
     "  FROM u JOIN cur ON cur.id = u.id RETURNING 1)"
     "SELECT cur.status, (SELECT api_application(u) FROM u) FROM cur"},

    /* Everything an evaluation needs. $1 id $2 scope (the provider's organisation, or NULL). */
    {"app_load",
     "SELECT a.status, a.updated_at::text, a.service_type, a.criteria_version, c.document::text,"
     " jsonb_build_object('answers', a.answers,"
     "  'organisation', jsonb_build_object('kind', o.kind, 'sector', o.sector,"
     "    'members', coalesce((SELECT jsonb_agg(jsonb_build_object('organisation_id', m.member_id,"
     "                                                             'role', m.role) ORDER BY m.member_id)"
     "                         FROM consortium_member m WHERE m.consortium_id = o.id), '[]'::jsonb)),"
     "  'service_type', jsonb_build_object('code', st.code, 'regulator', st.regulator,"
     "    'ofsted_provision_types', to_jsonb(st.ofsted_provision_types)))::text,"
     " jsonb_build_object('ofsted', coalesce((SELECT jsonb_object_agg(r.urn, ofsted_register_entry(r))"
     "   FROM ofsted_setting r WHERE r.urn = a.answers ->> 'ofsted_urn'), '{}'::jsonb))::text,"
     " o.kind, a.results::text"
     " FROM application a JOIN organisation o ON o.id = a.organisation_id"
     " JOIN criteria_set c ON c.version = a.criteria_version"
     " JOIN service_type st ON st.code = a.service_type"
     " WHERE a.id = $1::uuid AND ($2::uuid IS NULL OR a.organisation_id = $2::uuid)"},

    /* $1 id $2 status read $3 version read $4 new status $5 results $6 actor. No row: the
     * application changed since it was read. */
    {"app_submit",
     "WITH u AS (UPDATE application SET status = $4, results = $5::jsonb, submitted_at = now(),"
     "  updated_at = now() WHERE id = $1::uuid AND status = $2 AND updated_at = $3::timestamptz"
     "  RETURNING *),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $6, 'application.submit', 'application', u.id::text,"
     "         jsonb_build_object('before', jsonb_build_object('status', $2::text),"
     "                            'after', jsonb_build_object('status', u.status), 'results', u.results)"
     "  FROM u RETURNING 1)"
     "SELECT api_application(u) || jsonb_strip_nulls(jsonb_build_object('qualification',"
     "  CASE WHEN u.status = 'qualified' THEN qualification_grant(u, $6) END)) FROM u"},

    /* $1 id $2 status read $3 version read $4 new status $5 results (NULL: keep) $6 scores
     * (NULL: keep) $7 reason $8 actor */
    {"app_decide",
     "WITH u AS (UPDATE application SET status = $4, results = coalesce($5::jsonb, results),"
     "  scores = coalesce($6::jsonb, scores), decision_reason = $7, decided_at = now(),"
     "  updated_at = now() WHERE id = $1::uuid AND status = $2 AND updated_at = $3::timestamptz"
     "  RETURNING *),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $8, 'application.decide', 'application', u.id::text,"
     "         jsonb_build_object('before', jsonb_build_object('status', $2::text),"
     "                            'after', jsonb_build_object('status', u.status),"
     "                            'reason', $7::text, 'scores', $6::jsonb)"
     "  FROM u RETURNING 1)"
     "SELECT api_application(u) || jsonb_strip_nulls(jsonb_build_object('qualification',"
     "  CASE WHEN u.status = 'qualified' THEN qualification_grant(u, $8) END)) FROM u"},

    /* ---- qualifications ---- */

    /* $1 scope $2 status $3 service type $4 cursor $5 limit. Oldest first. */
    {"qual_list",
     "WITH f AS (SELECT q.* FROM qualification q"
     "  WHERE ($1::uuid IS NULL OR q.organisation_id = $1::uuid) AND ($2::text IS NULL OR q.status = $2)"
     "  AND ($3::text IS NULL OR q.service_type = $3)),"
     " page AS (SELECT * FROM f WHERE $4::uuid IS NULL OR (qualified_at, id) >"
     "  (SELECT qualified_at, id FROM qualification WHERE id = $4::uuid)"
     "  ORDER BY qualified_at, id LIMIT $5::int + 1),"
     " shown AS (SELECT * FROM page ORDER BY qualified_at, id LIMIT $5::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(api_qualification(s) ORDER BY s.qualified_at, s.id) FROM shown s), '[]'::jsonb),"
     " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $5::int THEN"
     "   (SELECT id::text FROM shown ORDER BY qualified_at DESC, id DESC LIMIT 1) END,"
     " 'total', (SELECT count(*) FROM f))"},

    /* $1 id $2 allowed states $3 new state $4 reason $5 actor $6 audit action.
     * Columns: current status (no row: not found), the qualification (NULL: not allowed). */
    {"qual_change",
     "WITH cur AS (SELECT * FROM qualification WHERE id = $1::uuid FOR UPDATE),"
     " u AS (UPDATE qualification q SET status = $3,"
     "  status_reason = CASE WHEN $3 = 'active' THEN NULL ELSE $4 END, updated_at = now()"
     "  FROM cur WHERE q.id = cur.id AND cur.status = ANY ($2::text[]) RETURNING q.*),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $5, $6, 'qualification', u.id::text,"
     "         jsonb_build_object('before', jsonb_build_object('status', cur.status),"
     "                            'after', jsonb_build_object('status', u.status), 'reason', $4::text)"
     "  FROM u JOIN cur ON cur.id = u.id RETURNING 1)"
     "SELECT cur.status, (SELECT api_qualification(u) FROM u) FROM cur"},

    /* $1 id $2 allowed states $3 new state $4 reason $5 actor $6 passed|failed
     * $7 new evidence expiry (optional). A passed review moves review_due on 12 months. */
    {"qual_review",
     "WITH cur AS (SELECT * FROM qualification WHERE id = $1::uuid FOR UPDATE),"
     " u AS (UPDATE qualification q SET status = $3,"
     "  status_reason = CASE WHEN $3 = 'active' THEN NULL ELSE $4 END,"
     "  review_due = CASE WHEN $6 = 'passed' THEN now() + interval '12 months' ELSE q.review_due END,"
     "  evidence_expires = coalesce($7::date, q.evidence_expires), updated_at = now()"
     "  FROM cur WHERE q.id = cur.id AND cur.status = ANY ($2::text[]) RETURNING q.*),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $5, 'qualification.review', 'qualification', u.id::text,"
     "         jsonb_build_object('outcome', $6::text, 'reason', $4::text,"
     "                            'before', jsonb_build_object('status', cur.status, 'review_due', cur.review_due),"
     "                            'after', jsonb_build_object('status', u.status, 'review_due', u.review_due))"
     "  FROM u JOIN cur ON cur.id = u.id RETURNING 1)"
     "SELECT cur.status, (SELECT api_qualification(u) FROM u) FROM cur"},

    /* $1 states that may lapse $2 the lapsed state. Lapses what is overdue for review or
     * whose evidence has expired, with one audit event each. Returns how many. */
    /* $1 states that may be suspended $2 the suspended state. Suspends Ofsted-regulated
     * qualifications whose setting the register now shows suspended, cancelled or Inadequate. */
    {"qual_register_sweep",
     "WITH hit AS (SELECT q.id, q.status, CASE"
     "   WHEN r.registration_status <> 'Active' THEN 'Ofsted registration of ' || r.urn || ' is ' || r.registration_status"
     "   ELSE 'latest Ofsted rating of ' || r.urn || ' is Inadequate (inspected ' || r.latest_inspection_date || ')' END AS why"
     "  FROM qualification q JOIN ofsted_setting r ON r.urn = q.ofsted_urn"
     "  JOIN service_type st ON st.code = q.service_type AND st.regulator = 'ofsted'"
     "  WHERE q.status = ANY ($1::text[])"
     "  AND (r.registration_status <> 'Active' OR r.overall_rating = 'Inadequate')"
     "  FOR UPDATE OF q SKIP LOCKED),"
     " u AS (UPDATE qualification q SET status = $2, status_reason = hit.why, updated_at = now()"
     "  FROM hit WHERE q.id = hit.id RETURNING q.id, hit.status AS before, hit.why),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT 'system:register', 'qualification.suspend', 'qualification', u.id::text,"
     "         jsonb_build_object('before', jsonb_build_object('status', u.before),"
     "                            'after', jsonb_build_object('status', $2::text), 'reason', u.why)"
     "  FROM u RETURNING 1)"
     "SELECT count(*) FROM u"},

    {"qual_lapse_sweep",
     "WITH due AS (SELECT id, status, CASE WHEN review_due < now() THEN 'annual review overdue'"
     "   ELSE 'evidence expired on ' || evidence_expires::text END AS why"
     "  FROM qualification WHERE status = ANY ($1::text[])"
     "  AND (review_due < now() OR evidence_expires < current_date) FOR UPDATE SKIP LOCKED),"
     " u AS (UPDATE qualification q SET status = $2, status_reason = due.why, updated_at = now()"
     "  FROM due WHERE q.id = due.id RETURNING q.id, due.status AS before, due.why),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT 'system:lapse', 'qualification.lapse', 'qualification', u.id::text,"
     "         jsonb_build_object('before', jsonb_build_object('status', u.before),"
     "                            'after', jsonb_build_object('status', $2::text), 'reason', u.why)"
     "  FROM u RETURNING 1)"
     "SELECT count(*) FROM u"},

    /* ---- catalogue ---- */

    {"service_types",
     "SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object("
     " 'code', code, 'name', name, 'tiers', to_jsonb(tiers), 'function', function,"
     " 'regulator', regulator, 'ofsted_provision_types', to_jsonb(ofsted_provision_types),"
     " 'residential', residential, 'hsds_term', hsds_term, 'description', description))"
     " ORDER BY code), '[]'::jsonb), 'next_cursor', NULL::text, 'total', count(*))"
     " FROM service_type"},

    /* $1 version (NULL: the latest) */
    {"criteria_get",
     "SELECT jsonb_build_object('version', version, 'published_at', published_at,"
     " 'published_by', published_by, 'sha256', sha256, 'document', document)"
     " FROM criteria_set WHERE version = coalesce($1::int, (SELECT max(version) FROM criteria_set))"},

    /* $1 version $2 document $3 sha256 $4 actor. A version that exists is a 409. */
    {"criteria_publish",
     "WITH c AS (INSERT INTO criteria_set (version, published_by, document, sha256)"
     "  VALUES ($1::int, $4, $2::jsonb, $3) RETURNING *),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $4, 'criteria.publish', 'criteria_set', c.version::text,"
     "         jsonb_build_object('sha256', c.sha256) FROM c RETURNING 1)"
     "SELECT jsonb_build_object('version', version, 'published_at', published_at,"
     " 'published_by', published_by, 'sha256', sha256, 'document', document) FROM c"},

    /* $1 subject_type $2 subject_id $3 since $4 until $5 cursor (last seq) $6 limit */
    {"audit_list",
     "WITH f AS (SELECT * FROM audit_event WHERE ($1::text IS NULL OR subject_type = $1)"
     "  AND ($2::text IS NULL OR subject_id = $2) AND ($3::timestamptz IS NULL OR at >= $3::timestamptz)"
     "  AND ($4::timestamptz IS NULL OR at < $4::timestamptz)),"
     " page AS (SELECT * FROM f WHERE $5::bigint IS NULL OR seq > $5::bigint ORDER BY seq LIMIT $6::int + 1),"
     " shown AS (SELECT * FROM page ORDER BY seq LIMIT $6::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(jsonb_build_object('seq', seq, 'at', at, 'actor', actor,"
     "   'action', action, 'subject_type', subject_type, 'subject_id', subject_id, 'detail', detail,"
     "   'hash', encode(hash, 'hex'), 'prev_hash', encode(prev_hash, 'hex')) ORDER BY seq) FROM shown), '[]'::jsonb),"
     " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $6::int THEN (SELECT max(seq)::text FROM shown) END,"
     " 'total', (SELECT count(*) FROM f))"},

    /* ---- commissioning ---- */

    /* $1 region (code or name) $2 cursor (last code) $3 limit */
    {"comm_list",
     "WITH f AS (SELECT * FROM commissioner c WHERE $1::text IS NULL OR c.region_code = $1"
     "  OR c.region_code = (SELECT r.code FROM region r WHERE lower(r.name) = lower($1))),"
     " page AS (SELECT * FROM f WHERE $2::text IS NULL OR code > $2 ORDER BY code LIMIT $3::int + 1),"
     " shown AS (SELECT * FROM page ORDER BY code LIMIT $3::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(api_commissioner(s) ORDER BY s.code) FROM shown s), '[]'::jsonb),"
     " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $3::int THEN (SELECT max(code) FROM shown) END,"
     " 'total', (SELECT count(*) FROM f))"},

    /* $1 code (or an alias). The council with its offers and agreement counts. */
    {"comm_get",
     "SELECT api_commissioner(c) || jsonb_build_object("
     " 'offers', coalesce((SELECT jsonb_agg(api_offer(o) || jsonb_build_object('active_agreements',"
     "     (SELECT count(*) FROM agreement a WHERE a.commissioner_code = o.commissioner_code"
     "       AND a.service_type = o.service_type AND a.status = 'active')) ORDER BY o.service_type)"
     "   FROM offer o WHERE o.commissioner_code = c.code), '[]'::jsonb),"
     " 'active_agreements', (SELECT coalesce(jsonb_object_agg(service_type, n), '{}'::jsonb) FROM"
     "   (SELECT service_type, count(*) AS n FROM agreement WHERE commissioner_code = c.code"
     "    AND status = 'active' GROUP BY service_type) x))"
     " FROM commissioner c WHERE c.code = commissioner_resolve($1)"},

    /* $1 council $2 service type $3 price $4 unit $5 specification $6 open $7 local
     * requirements $8 actor. Column: whether the offer was created (no row: unknown council or
     * service type). The price history is kept by the offer_price_history trigger; a price
     * change is also an offer.price audit event (and so appears in the changes feed). `prev`
     * must not lock: a row the same statement then updates would be skipped by FOR UPDATE. */
    {"offer_put",
     "WITH prev AS (SELECT * FROM offer WHERE commissioner_code = $1 AND service_type = $2),"
     " o AS (INSERT INTO offer (commissioner_code, service_type, price_pence, price_unit,"
     "   specification, open, local_requirements)"
     "  SELECT c.code, st.code, $3::int, $4, $5, $6::boolean, $7::jsonb"
     "  FROM commissioner c, service_type st WHERE c.code = $1 AND st.code = $2"
     "  ON CONFLICT (commissioner_code, service_type) DO UPDATE SET"
     "   price_pence = EXCLUDED.price_pence, price_unit = EXCLUDED.price_unit,"
     "   specification = EXCLUDED.specification, open = EXCLUDED.open,"
     "   local_requirements = EXCLUDED.local_requirements, updated_at = now()"
     "  RETURNING *),"
     " e1 AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $8, 'offer.price', 'offer', o.commissioner_code || '/' || o.service_type,"
     "         jsonb_build_object('commissioner_code', o.commissioner_code, 'service_type', o.service_type,"
     "           'before', (SELECT jsonb_build_object('price_pence', price_pence, 'price_unit', price_unit) FROM prev),"
     "           'after', jsonb_build_object('price_pence', o.price_pence, 'price_unit', o.price_unit))"
     "  FROM o LEFT JOIN prev ON true"
     "  WHERE prev.price_pence IS DISTINCT FROM o.price_pence OR prev.price_unit IS DISTINCT FROM o.price_unit"
     "  RETURNING 1),"
     " e2 AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $8, 'offer.update', 'offer', o.commissioner_code || '/' || o.service_type,"
     "         jsonb_build_object('commissioner_code', o.commissioner_code,"
     "           'before', (SELECT to_jsonb(prev) FROM prev), 'after', to_jsonb(o)) FROM o RETURNING 1)"
     "SELECT prev.commissioner_code IS NULL FROM o LEFT JOIN prev ON true"},

    /* $1 council $2 service type: the offer as it now stands (run after offer_put in the same
     * job, so in the same transaction and seeing its changes). */
    {"offer_get",
     "SELECT api_offer(o) FROM offer o WHERE o.commissioner_code = $1 AND o.service_type = $2"},

    /* $1 qualification $2 organisation $3 council. Columns: qualification status, service
     * type, offer open (NULL: no offer), local requirements, a live agreement's id. */
    {"local_load",
     "SELECT q.status, q.service_type, o.open, coalesce(o.local_requirements, '[]'::jsonb)::text,"
     " (SELECT a.id::text FROM agreement a WHERE a.organisation_id = q.organisation_id"
     "   AND a.commissioner_code = c.code AND a.service_type = q.service_type AND a.status <> 'terminated')"
     " FROM qualification q JOIN commissioner c ON c.code = commissioner_resolve($3)"
     " LEFT JOIN offer o ON o.commissioner_code = c.code AND o.service_type = q.service_type"
     " WHERE q.id = $1::uuid AND q.organisation_id = $2::uuid"},

    /* $1 qualification $2 organisation $3 council $4 answers $5 results $6 actor. Inserts only
     * while the qualification is active and the offer open (no row otherwise). */
    {"local_create",
     "WITH l AS (INSERT INTO local_application (qualification_id, organisation_id, commissioner_code,"
     "   service_type, answers, results)"
     "  SELECT q.id, q.organisation_id, o.commissioner_code, q.service_type, $4::jsonb, $5::jsonb"
     "  FROM qualification q JOIN offer o ON o.commissioner_code = commissioner_resolve($3)"
     "   AND o.service_type = q.service_type AND o.open"
     "  WHERE q.id = $1::uuid AND q.organisation_id = $2::uuid AND q.status = 'active' RETURNING *),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $6, 'local_application.create', 'local_application', l.id::text,"
     "         jsonb_build_object('commissioner_code', l.commissioner_code, 'after', to_jsonb(l))"
     "  FROM l RETURNING 1)"
     "SELECT api_local_application(l) FROM l"},

    /* $1 provider scope $2 council scope $3 status $4 cursor $5 limit */
    {"local_list",
     "WITH f AS (SELECT * FROM local_application l WHERE ($1::uuid IS NULL OR l.organisation_id = $1::uuid)"
     "  AND ($2::text IS NULL OR l.commissioner_code = $2) AND ($3::text IS NULL OR l.status = $3)),"
     " page AS (SELECT * FROM f WHERE $4::uuid IS NULL OR (created_at, id) >"
     "  (SELECT created_at, id FROM local_application WHERE id = $4::uuid)"
     "  ORDER BY created_at, id LIMIT $5::int + 1),"
     " shown AS (SELECT * FROM page ORDER BY created_at, id LIMIT $5::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(api_local_application(s) ORDER BY s.created_at, s.id) FROM shown s), '[]'::jsonb),"
     " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $5::int THEN"
     "   (SELECT id::text FROM shown ORDER BY created_at DESC, id DESC LIMIT 1) END,"
     " 'total', (SELECT count(*) FROM f))"},

    /* $1 local application $2 council scope $3 actor. Columns: status,
     * automatic failures, qualification status, the agreement (NULL: refused). */
    {"local_accept",
     "WITH cur AS (SELECT l.*, q.status AS qstatus,"
     "   (SELECT count(*) FROM jsonb_array_elements(l.results) r WHERE r->>'outcome' = 'fail') AS failed"
     "  FROM local_application l JOIN qualification q ON q.id = l.qualification_id"
     "  WHERE l.id = $1::uuid AND ($2::text IS NULL OR l.commissioner_code = $2) FOR UPDATE OF l),"
     " ok AS (SELECT cur.*, o.price_pence, o.price_unit FROM cur JOIN offer o"
     "   ON o.commissioner_code = cur.commissioner_code AND o.service_type = cur.service_type"
     "  WHERE cur.status = 'submitted' AND cur.qstatus = 'active' AND cur.failed = 0"
     "  AND NOT EXISTS (SELECT 1 FROM agreement a WHERE a.organisation_id = cur.organisation_id"
     "   AND a.commissioner_code = cur.commissioner_code AND a.service_type = cur.service_type"
     "   AND a.status <> 'terminated')),"
     " u AS (UPDATE local_application l SET status = 'accepted', decided_at = now() FROM ok"
     "  WHERE l.id = ok.id RETURNING l.*),"
     " ua AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $3, 'local_application.accept', 'local_application', u.id::text,"
     "         jsonb_build_object('commissioner_code', u.commissioner_code) FROM u RETURNING 1),"
     " a AS (INSERT INTO agreement (local_application_id, qualification_id, organisation_id,"
     "   commissioner_code, service_type, start_price_pence, price_unit)"
     "  SELECT ok.id, ok.qualification_id, ok.organisation_id, ok.commissioner_code, ok.service_type,"
     "         ok.price_pence, ok.price_unit FROM ok JOIN u ON u.id = ok.id RETURNING *),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $3, 'agreement.create', 'agreement', a.id::text,"
     "         jsonb_build_object('commissioner_code', a.commissioner_code,"
     "           'organisation_id', a.organisation_id, 'service_type', a.service_type,"
     "           'local_application_id', a.local_application_id,"
     "           'after', jsonb_build_object('status', a.status, 'price_pence', a.start_price_pence,"
     "                                       'price_unit', a.price_unit))"
     "  FROM a RETURNING 1)"
     "SELECT cur.status, cur.failed, cur.qstatus,"
     " (SELECT jsonb_build_object('local_application', api_local_application(u),"
     "   'agreement', (SELECT api_agreement(a) FROM a)) FROM u)"
     " FROM cur"},

    /* $1 local application $2 council scope $3 reason $4 actor. Same columns. */
    {"local_decline",
     "WITH cur AS (SELECT l.*, q.status AS qstatus FROM local_application l"
     "  JOIN qualification q ON q.id = l.qualification_id"
     "  WHERE l.id = $1::uuid AND ($2::text IS NULL OR l.commissioner_code = $2) FOR UPDATE OF l),"
     " u AS (UPDATE local_application l SET status = 'declined', decision_reason = $3,"
     "   decided_at = now() FROM cur WHERE l.id = cur.id AND cur.status = 'submitted' RETURNING l.*),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $4, 'local_application.decline', 'local_application', u.id::text,"
     "         jsonb_build_object('commissioner_code', u.commissioner_code, 'reason', $3::text)"
     "  FROM u RETURNING 1)"
     "SELECT cur.status, 0, cur.qstatus,"
     " (SELECT jsonb_build_object('local_application', api_local_application(u)) FROM u) FROM cur"},

    /* $1 provider scope $2 council scope $3 status $4 cursor $5 limit */
    {"agreement_list",
     "WITH f AS (SELECT * FROM agreement a WHERE ($1::uuid IS NULL OR a.organisation_id = $1::uuid)"
     "  AND ($2::text IS NULL OR a.commissioner_code = $2) AND ($3::text IS NULL OR a.status = $3)),"
     " page AS (SELECT * FROM f WHERE $4::uuid IS NULL OR (started_at, id) >"
     "  (SELECT started_at, id FROM agreement WHERE id = $4::uuid)"
     "  ORDER BY started_at, id LIMIT $5::int + 1),"
     " shown AS (SELECT * FROM page ORDER BY started_at, id LIMIT $5::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(api_agreement(s) ORDER BY s.started_at, s.id) FROM shown s), '[]'::jsonb),"
     " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $5::int THEN"
     "   (SELECT id::text FROM shown ORDER BY started_at DESC, id DESC LIMIT 1) END,"
     " 'total', (SELECT count(*) FROM f))"},

    /* $1 agreement $2 council scope $3 outcome $4 notes $5 indicators $6 actor.
     * Columns: status (no row: not this council's), the review (NULL: terminated). */
    {"agreement_review",
     "WITH cur AS (SELECT * FROM agreement WHERE id = $1::uuid"
     "  AND ($2::text IS NULL OR commissioner_code = $2) FOR UPDATE),"
     " r AS (INSERT INTO agreement_review (agreement_id, reviewer, outcome, notes, indicators)"
     "  SELECT cur.id, $6, $3, $4, $5::jsonb FROM cur WHERE cur.status <> 'terminated' RETURNING *),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $6, 'agreement_review.create', 'agreement', r.agreement_id::text,"
     "         jsonb_build_object('commissioner_code', cur.commissioner_code, 'review_id', r.id,"
     "           'outcome', r.outcome, 'indicators', r.indicators) FROM r, cur RETURNING 1)"
     "SELECT cur.status, (SELECT jsonb_build_object('id', r.id, 'agreement_id', r.agreement_id,"
     "  'reviewed_at', r.reviewed_at, 'outcome', r.outcome, 'notes', r.notes, 'indicators', r.indicators)"
     "  FROM r) FROM cur"},

    /* $1 agreement $2 council scope $3 reason $4 end date $5 actor */
    {"agreement_terminate",
     "WITH cur AS (SELECT * FROM agreement WHERE id = $1::uuid"
     "  AND ($2::text IS NULL OR commissioner_code = $2) FOR UPDATE),"
     " u AS (UPDATE agreement a SET status = 'terminated', termination_reason = $3,"
     "   end_date = $4::date, suspended_by_qualification = false, status_reason = $3, updated_at = now()"
     "  FROM cur WHERE a.id = cur.id AND cur.status <> 'terminated' RETURNING a.*),"
     " e AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $5, 'agreement.terminate', 'agreement', u.id::text,"
     "         jsonb_build_object('commissioner_code', u.commissioner_code,"
     "           'organisation_id', u.organisation_id, 'service_type', u.service_type,"
     "           'before', jsonb_build_object('status', cur.status),"
     "           'after', jsonb_build_object('status', u.status, 'end_date', u.end_date),"
     "           'reason', $3::text) FROM u JOIN cur ON cur.id = u.id RETURNING 1)"
     "SELECT cur.status, (SELECT api_agreement(u) FROM u) FROM cur"},

    /* $1 council scope $2 since (a seq) $3 limit. Status changes, oldest first. The audit
     * log's sequence is drawn under a lock held to commit, so seq order is commit order and
     * a reader resuming after seq N never misses an event committed later. */
    {"changes_list",
     "WITH f AS (SELECT e.* FROM audit_event e"
     "  WHERE (e.action LIKE 'qualification.%' OR e.action LIKE 'agreement.%' OR e.action = 'offer.price')"
     "  AND e.seq > coalesce($2::bigint, 0)"
     "  AND ($1::text IS NULL OR e.detail ->> 'commissioner_code' = $1"
     "   OR (e.subject_type = 'qualification' AND EXISTS (SELECT 1 FROM agreement a"
     "       WHERE a.qualification_id::text = e.subject_id AND a.commissioner_code = $1"
     "       AND a.started_at <= e.at AND (a.end_date IS NULL OR a.updated_at >= e.at))))"
     "  ORDER BY e.seq LIMIT $3::int + 1),"
     " shown AS (SELECT * FROM f ORDER BY seq LIMIT $3::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('cursor', seq::text,"
     "   'at', at, 'type', action, 'subject_type', subject_type, 'subject_id', subject_id,"
     "   'commissioner_code', detail ->> 'commissioner_code',"
     "   'before', change_state(detail -> 'before'), 'after', change_state(detail -> 'after'),"
     "   'reason', detail ->> 'reason'))"
     "   ORDER BY seq) FROM shown), '[]'::jsonb),"
     " 'next_cursor', coalesce((SELECT max(seq)::text FROM shown), $2::text, '0'),"
     " 'has_more', (SELECT count(*) FROM f) > $3::int)"},

    /* ---- search (api/search.c): the index loader and the vacancy update ---- */

    /* $1 the last site id loaded $2 sites per page */
    {"search_page",
     "SELECT * FROM index_rows(ARRAY(SELECT id FROM site WHERE id > $1::uuid"
     " ORDER BY id LIMIT $2::int))"},
    /* the page's last site id; NULL when there are no more sites */
    {"search_page_last",
     "SELECT (SELECT id::text FROM (SELECT id FROM site WHERE id > $1::uuid"
     " ORDER BY id LIMIT $2::int) s ORDER BY id DESC LIMIT 1)"},
    /* $1 organisation ids (uuid[] text) */
    {"search_orgs",
     "SELECT * FROM index_rows(ARRAY(SELECT id FROM site"
     " WHERE organisation_id = ANY ($1::uuid[])))"},
    {"search_ref_districts", "SELECT outcode, lat, lon FROM postcode_district"},
    {"search_ref_councils", "SELECT code, name, region_code, lat, lon FROM commissioner"},
    {"search_ref_regions", "SELECT code, name, NULL, 0, 0 FROM region"},
    {"search_ref_service_types", "SELECT code FROM service_type"},
    {"search_ref_offers", "SELECT * FROM index_offers()"},

    /* $1 site $2 the caller's organisation $3 places $4 actor */
    {"site_vacancies",
     "WITH cur AS (SELECT * FROM site WHERE id = $1::uuid AND organisation_id = $2::uuid"
     "  FOR UPDATE),"
     " u AS (UPDATE site s SET vacancies = $3::int, vacancies_at = now(), updated_at = now()"
     "  FROM cur WHERE s.id = cur.id RETURNING s.*),"
     " a AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $4, 'site.vacancies', 'site', u.id::text,"
     "         jsonb_build_object('before', cur.vacancies, 'after', u.vacancies)"
     "  FROM u JOIN cur ON cur.id = u.id RETURNING 1)"
     "SELECT api_site(u) FROM u"},

    /* $1 organisation. Public: name, active qualifications, councils with active agreements, Ofsted
     * judgements of the settings it claims. */
    {"provider_get",
     "SELECT jsonb_strip_nulls(jsonb_build_object('id', o.id, 'name', o.name, 'kind', o.kind,"
     " 'sector', o.sector, 'website', o.website, 'description', nullif(o.description, ''),"
     " 'qualifications', coalesce((SELECT jsonb_agg(jsonb_build_object('service_type', q.service_type,"
     "     'qualified_at', q.qualified_at, 'review_due', q.review_due) ORDER BY q.service_type)"
     "   FROM qualification q WHERE q.organisation_id = o.id AND q.status = 'active'), '[]'::jsonb),"
     " 'agreements', coalesce((SELECT jsonb_agg(jsonb_build_object('commissioner_code', a.commissioner_code,"
     "     'commissioner_name', c.name, 'service_type', a.service_type, 'since', a.started_at)"
     "     ORDER BY c.name, a.service_type)"
     "   FROM agreement a JOIN commissioner c ON c.code = a.commissioner_code"
     "   WHERE a.organisation_id = o.id AND a.status = 'active'), '[]'::jsonb),"
     /* Ofsted's judgements of the settings it claims (register facts, public; no address). */
     " 'ofsted', coalesce((SELECT jsonb_agg(jsonb_build_object('urn', s.urn,"
     "     'provision_type', s.provision_type, 'local_authority', s.local_authority,"
     "     'registration_status', s.registration_status,"
     "     'rating', CASE s.overall_rating WHEN 'Outstanding' THEN 'outstanding' WHEN 'Good' THEN 'good'"
     "       WHEN 'Requires improvement to be good' THEN 'requires_improvement'"
     "       WHEN 'Inadequate' THEN 'inadequate' END,"
     "     'supported_accommodation_outcome', s.sa_outcome, 'inspected_on', s.latest_inspection_date)"
     "     ORDER BY s.urn)"
     "   FROM ofsted_setting s WHERE s.urn IN ("
     "     SELECT q.ofsted_urn FROM qualification q WHERE q.organisation_id = o.id AND q.status = 'active'"
     "     UNION SELECT si.ofsted_urn FROM site si WHERE si.organisation_id = o.id)), '[]'::jsonb),"
     /* the public view of its sites, exactly as /v1/directory shows them (schema/0008) */
     " 'sites', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object("
     "     'service_type', e.service_type, 'rating', e.rating,"
     "     'site', e.display_public::jsonb -> 'site', 'location', e.display_public::jsonb -> 'location'))"
     "     ORDER BY e.key)"
     "   FROM index_entries(ARRAY(SELECT id FROM site WHERE organisation_id = o.id)) e"
     "   WHERE e.status = 'active'), '[]'::jsonb)))"
     " FROM organisation o WHERE o.id = $1::uuid"
     " AND EXISTS (SELECT 1 FROM qualification q WHERE q.organisation_id = o.id AND q.status = 'active')"},

    /* ---- publications (schema/0009; api/publications.c, daemon/publish.c) ---- */

    /* The directory as it stands, in one statement: rows for api/pubdoc.c, in document order. */
    {"pub_snapshot",
     "SELECT section, item::text FROM publication_snapshot()"
     " ORDER BY section COLLATE \"C\", key COLLATE \"C\""},

    /* Serialises publishing: taken before pub_create in the same transaction, so the number
     * and the "unchanged" comparison see every publication committed before. */
    {"pub_lock", "SELECT pg_advisory_xact_lock(7243519009)"},

    /* $1 document (canonical JSON text) $2 sha256 $3 content_sha256 $4 signature (base64)
     * $5 public key (PEM) $6 counts (JSON) $7 audit seq $8 audit hash $9 actor.
     * Inserts the next number unless the last publication has the same content; answers
     * (created, metadata of the new or of the last publication). */
    {"pub_create",
     "WITH last AS (SELECT number, content_sha256 FROM publication ORDER BY number DESC LIMIT 1),"
     " ins AS (INSERT INTO publication (number, created_by, format, counts, sha256, content_sha256,"
     "   signature, public_key, audit_seq, audit_hash, bytes, document)"
     "  SELECT coalesce((SELECT number FROM last), 0) + 1, $9, 'aqpd-directory/1', $6::jsonb, $2, $3,"
     "   $4, $5, $7::bigint, $8, octet_length(convert_to($1, 'UTF8')), convert_to($1, 'UTF8')"
     "  WHERE NOT EXISTS (SELECT 1 FROM last WHERE content_sha256 = $3)"
     "  RETURNING number, created_at, created_by, format, counts, sha256, content_sha256, signature,"
     "   public_key, audit_seq, audit_hash, bytes),"
     " a AS (INSERT INTO audit_event (actor, action, subject_type, subject_id, detail)"
     "  SELECT $9, 'publication.create', 'publication', ins.number::text,"
     "   jsonb_build_object('sha256', ins.sha256, 'content_sha256', ins.content_sha256,"
     "    'counts', ins.counts, 'audit_seq', ins.audit_seq) FROM ins RETURNING 1)"
     "SELECT EXISTS (SELECT 1 FROM ins),"
     " coalesce((SELECT api_publication(ins::publication_meta) FROM ins),"
     "  (SELECT api_publication(m) FROM publication_meta m JOIN last USING (number)))::text"},

    /* $1 cursor (the last number seen) $2 limit: newest first. */
    {"pub_list",
     "WITH f AS (SELECT * FROM publication_meta WHERE $1::int IS NULL OR number < $1::int"
     "  ORDER BY number DESC LIMIT $2::int + 1),"
     " shown AS (SELECT * FROM f ORDER BY number DESC LIMIT $2::int)"
     "SELECT jsonb_build_object("
     " 'items', coalesce((SELECT jsonb_agg(api_publication(shown) ORDER BY number DESC) FROM shown), '[]'::jsonb),"
     " 'next_cursor', CASE WHEN (SELECT count(*) FROM f) > $2::int THEN (SELECT min(number)::text FROM shown) END,"
     " 'total', (SELECT count(*) FROM publication))::text"},

    /* $1 number, or NULL for the latest: (metadata, sha256, number, bytes). */
    {"pub_get",
     "SELECT api_publication(m)::text, m.sha256, m.number, m.bytes FROM publication_meta m"
     " WHERE $1::int IS NULL OR m.number = $1::int ORDER BY m.number DESC LIMIT 1"},

    /* The public key that signed the latest publication. */
    {"pub_public_key", "SELECT public_key FROM publication ORDER BY number DESC LIMIT 1"},

    /* $1 number $2 offset $3 length: a slice of the exact bytes. */
    {"pub_slice",
     "SELECT substring(document FROM $2::int + 1 FOR $3::int) FROM publication WHERE number = $1::int"},

    /* $1 number $2 after (ord) $3 batch: CSV records of sites, (count, last ord, records). */
    {"pub_csv",
     "SELECT count(*), max(ord), coalesce(string_agg(line, '' ORDER BY ord), '')"
     " FROM (SELECT ord, line FROM publication_entry WHERE publication = $1::int AND kind = 'site'"
     "  AND ord > $2::int ORDER BY ord LIMIT $3::int) x"},

    /* ---- the Open Referral UK feed (api/hsds.c), from the latest publication ----
     * $1 kind $2 search $3 taxonomy_term_id $4 taxonomy_id $5 organization_id
     * $6 modified_after $7 page $8 per_page $9 variant (full|list|minimal) $10 outcode
     * $11 proximity (metres) $12 nothing (true: a filter no entry can match).
     * Answers (sha256 of the publication or NULL, whether the postcode district is known, page). */
    {"hsds_list",
     "WITH p AS (SELECT number, sha256 FROM publication ORDER BY number DESC LIMIT 1),"
     " c AS (SELECT lat, lon FROM postcode_district WHERE outcode = $10),"
     " f AS (SELECT e.ord, e.body, CASE WHEN $10::text IS NOT NULL"
     "   THEN hsds_distance_m(c.lat, c.lon, e.lat, e.lon) END AS dist"
     "  FROM publication_entry e JOIN p ON e.publication = p.number LEFT JOIN c ON true"
     "  WHERE e.kind = $1"
     "  AND ($2::text IS NULL OR strpos(e.search, lower($2)) > 0)"
     "  AND ($3::uuid IS NULL OR $3::uuid = ANY (e.term_ids))"
     "  AND ($4::uuid IS NULL OR $4::uuid = ANY (e.taxonomy_ids))"
     "  AND ($5::uuid IS NULL OR e.organization_id = $5::uuid)"
     "  AND ($6::timestamptz IS NULL OR e.modified >= $6::timestamptz)"
     "  AND NOT $12::boolean"
     "),"
     " g AS (SELECT * FROM f WHERE $11::float8 IS NULL OR dist <= $11::float8),"
     " pg AS (SELECT * FROM g ORDER BY dist NULLS LAST, ord OFFSET ($7::int - 1) * $8::int LIMIT $8::int),"
     " t AS (SELECT count(*)::int AS n, greatest(1, ceil(count(*)::numeric / $8::int))::int AS pages FROM g)"
     "SELECT (SELECT sha256 FROM p), $10::text IS NULL OR EXISTS (SELECT 1 FROM c),"
     " jsonb_build_object('total_items', t.n, 'total_pages', t.pages, 'page_number', $7::int,"
     "  'size', (SELECT count(*) FROM pg), 'first_page', $7::int = 1, 'last_page', $7::int >= t.pages,"
     "  'empty', NOT EXISTS (SELECT 1 FROM pg),"
     "  'contents', coalesce((SELECT jsonb_agg(hsds_variant(pg.body, $9) ORDER BY pg.dist NULLS LAST, pg.ord)"
     "   FROM pg), '[]'::jsonb))::text"
     " FROM t"},

    /* The same filters; $7 after (ord) $8 batch $13 publication number: a batch of ndjson,
     * (count, last ord, lines). */
    {"hsds_ndjson",
     "SELECT count(*), max(ord), coalesce(string_agg(hsds_variant(body, $9)::text || E'\\n', '' ORDER BY ord), '')"
     " FROM (SELECT e.ord, e.body FROM publication_entry e"
     "  LEFT JOIN (SELECT lat, lon FROM postcode_district WHERE outcode = $10) c ON true"
     "  WHERE e.publication = $13::int AND e.kind = $1 AND e.ord > $7::int"
     "  AND ($2::text IS NULL OR strpos(e.search, lower($2)) > 0)"
     "  AND ($3::uuid IS NULL OR $3::uuid = ANY (e.term_ids))"
     "  AND ($4::uuid IS NULL OR $4::uuid = ANY (e.taxonomy_ids))"
     "  AND ($5::uuid IS NULL OR e.organization_id = $5::uuid)"
     "  AND ($6::timestamptz IS NULL OR e.modified >= $6::timestamptz)"
     "  AND NOT $12::boolean"
     "  AND ($11::float8 IS NULL OR hsds_distance_m(c.lat, c.lon, e.lat, e.lon) <= $11::float8)"
     "  ORDER BY e.ord LIMIT $8::int) x"},

    /* $1 outcode: whether the postcode district is known (NULL: true). */
    {"hsds_outcode",
     "SELECT $1::text IS NULL OR EXISTS (SELECT 1 FROM postcode_district WHERE outcode = $1)"},

    /* $1 kind $2 id: (sha256 of the latest publication, the object fully nested). */
    {"hsds_get",
     "SELECT p.sha256, e.body::text FROM publication p"
     " JOIN publication_entry e ON e.publication = p.number"
     " WHERE p.number = (SELECT max(number) FROM publication) AND e.kind = $1 AND e.id = $2::uuid"},
};
const size_t api_nstmts = sizeof api_stmts / sizeof api_stmts[0];
