#!/usr/bin/env bash
# Search (issue 5; DESIGN.md §7): every filter of /v1/directory and /v1/search, alone and
# combined, checked against a brute-force answer computed independently over the same data.
#
# The data: the real Ofsted register as qualified providers (tests/lib/bulk_ofsted.sql, about
# 5,400 entries, real postcode districts and council centroids), plus, made here in SQL so that
# every filter has something to tell apart: qualifications lapsed and revoked, offers,
# local applications and agreements (active, suspended, terminated) with three councils, sites
# with their own coordinates (a children's home among them, whose public point is its district
# while councils measure from the site), a site naming no service type (one entry per
# qualification of its organisation), and descriptions with apostrophes and bytes beyond ASCII.
#
# The ground truth is exported with this test's own SQL (tests/lib/search.sh, search_truth:
# not index_entries()), and tests/lib/search_oracle.js computes each query's expected set,
# total, order and facets (haversine, R = 6371.0088 km) and walks every page of aqpd's answer:
#   - each filter alone, ~40 combinations (the issue's query among them), on /v1/directory
#     (public: active only, public points, no private site names in q) and /v1/search (a
#     council's and the board's view: precise points, status);
#   - the full set of ids of every page and `total`, every item's service type, status, rating
#     and distance_km, the order for sort=distance/rating/name/relevance with the tie-break on
#     id, and the facet counts (each ignoring only its own filter) for a sample;
#   - pagination: page sizes 1, 7 and 100 give every result exactly once; and a walk during
#     which vacancies change (some entries leave the result, others join) returns every entry
#     that matched throughout exactly once and nothing that never matched;
#   - invalid input: a 400 problem+json whose detail names the parameter.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/search.sh"
t_init
T0=$(now_ms)
search_data

LEEDS=E08000035 MCR=E08000003 WESTMINSTER=E09000033

# ---- data that makes every filter non-trivial ----
fixture_psql -d "$DB_NAME" -At >"$T/extra.out" 2>&1 <<SQL || fail "extra data: $(tail -n 5 "$T/extra.out")"
BEGIN;
-- Statuses: some lapsed and some revoked (the bulk load has active and suspended ones).
UPDATE qualification SET status = 'lapsed', status_reason = 'review overdue (search test)'
 WHERE id IN (SELECT id FROM qualification WHERE status = 'active' ORDER BY md5(id::text || 'l') LIMIT 40);
UPDATE qualification SET status = 'revoked', status_reason = 'revoked (search test)'
 WHERE id IN (SELECT id FROM qualification WHERE status = 'active' ORDER BY md5(id::text || 'r') LIMIT 25);

-- Offers, local applications and agreements with Leeds, Manchester and Westminster: for the
-- active qualifications of organisations with a site within ~60 km of the council, in a
-- deterministic pseudo-random order; most active, some suspended, some terminated.
INSERT INTO offer (commissioner_code, service_type, price_pence, price_unit, specification)
SELECT c.code, st.code, 300000 + row_number() OVER () * 100, 'week', 'search test offer'
FROM commissioner c CROSS JOIN service_type st
WHERE c.code IN ('$LEEDS', '$MCR', '$WESTMINSTER') AND st.code IN ('childrens-home', 'independent-fostering', 'supported-accommodation', 'short-breaks');

CREATE TEMP TABLE pick AS
SELECT c.code AS council, q.id AS qual, q.organisation_id AS org, q.service_type,
       row_number() OVER (PARTITION BY c.code ORDER BY md5(q.id::text || c.code)) AS n
FROM commissioner c
JOIN qualification q ON q.status = 'active'
 AND q.service_type IN ('childrens-home', 'independent-fostering', 'supported-accommodation', 'short-breaks')
WHERE c.code IN ('$LEEDS', '$MCR', '$WESTMINSTER')
  AND EXISTS (SELECT 1 FROM site s JOIN commissioner sc ON sc.code = s.la_code
              WHERE s.organisation_id = q.organisation_id
                AND abs(sc.lat - c.lat) < 0.6 AND abs(sc.lon - c.lon) < 0.9);
DELETE FROM pick WHERE n > 45;

INSERT INTO local_application (qualification_id, organisation_id, commissioner_code, service_type,
                               answers, results, status, decided_at)
SELECT qual, org, council, service_type, '{}', '[]', 'accepted', now() FROM pick;
INSERT INTO agreement (local_application_id, qualification_id, organisation_id, commissioner_code,
                       service_type, status, status_reason, start_price_pence, price_unit,
                       end_date, termination_reason)
SELECT la.id, la.qualification_id, la.organisation_id, la.commissioner_code, la.service_type,
       CASE WHEN p.n % 9 = 0 THEN 'suspended' WHEN p.n % 11 = 0 THEN 'terminated' ELSE 'active' END,
       CASE WHEN p.n % 9 = 0 THEN 'paused by the council (search test)' END,
       350000, 'week',
       CASE WHEN p.n % 9 <> 0 AND p.n % 11 = 0 THEN current_date + 30 END,
       CASE WHEN p.n % 9 <> 0 AND p.n % 11 = 0 THEN 'ended (search test)' END
FROM local_application la JOIN pick p ON p.qual = la.qualification_id AND p.council = la.commissioner_code;

-- Sites with their own coordinates: public offices of fostering agencies, and a children's
-- home whose own point is not its district's.
INSERT INTO site (organisation_id, name, address, postcode, la_code, lat, lon, age_min, age_max,
                  vacancies, vacancies_at, service_types)
SELECT q.organisation_id, 'Fostering office ' || row_number() OVER (), '1 Office Row, Leeds', 'LS1 4AP',
       '$LEEDS', 53.79 + row_number() OVER () * 0.013, -1.56 + row_number() OVER () * 0.021, 0, 17,
       2, now() - interval '1 hour', '{independent-fostering}'
FROM (SELECT organisation_id FROM qualification WHERE service_type = 'independent-fostering'
      AND status = 'active' ORDER BY organisation_id LIMIT 6) q;
INSERT INTO site (organisation_id, name, address, postcode, la_code, lat, lon, age_min, age_max,
                  vacancies, vacancies_at, service_types)
SELECT q.organisation_id, 'Hollybrook Orchard House', '9 Hidden Close, Otley', 'LS21 3ZZ', '$LEEDS',
       53.905, -1.69, 8, 17, 1, now() - interval '2 hours', '{childrens-home}'
FROM (SELECT organisation_id FROM qualification WHERE service_type = 'childrens-home'
      AND status = 'active' ORDER BY organisation_id LIMIT 1) q;
-- A site naming no service type: one entry per qualification of its organisation.
INSERT INTO site (organisation_id, name, postcode, la_code, age_min, age_max)
SELECT organisation_id, 'Head office (all services)', 'M1 1AE', '$MCR', 0, 25
FROM (SELECT organisation_id FROM qualification WHERE status = 'active'
      GROUP BY organisation_id HAVING count(*) >= 2 ORDER BY organisation_id LIMIT 1) q;
-- Words with apostrophes (ASCII and U+2019) and bytes beyond ASCII.
UPDATE organisation SET description = description || ' Children’s homes across Yorkshire; Ålesund café partnership.'
 WHERE id IN (SELECT organisation_id FROM site WHERE la_code = '$LEEDS' ORDER BY id LIMIT 12);
UPDATE organisation SET description = description || ' We''re a children''s charity.'
 WHERE sector = 'voluntary' AND id IN (SELECT id FROM organisation ORDER BY md5(id::text) LIMIT 300);
COMMIT;
SELECT (SELECT count(*) FROM agreement WHERE status = 'active') || ' ' ||
       (SELECT count(DISTINCT commissioner_code) FROM agreement WHERE status = 'active') || ' ' ||
       (SELECT count(*) FROM qualification WHERE status = 'suspended');
SQL
read -r N_AGREEMENTS N_AG_COUNCILS N_SUSPENDED < <(tail -n 1 "$T/extra.out")
((N_AGREEMENTS >= 60 && N_AG_COUNCILS == 3)) ||
  fail "the test made $N_AGREEMENTS active agreements with $N_AG_COUNCILS councils, expected >= 60 with 3"
((N_SUSPENDED >= 1)) || fail "the bulk load made no suspended qualification"

aqpd_env
aqpd_start
search_wait_ready
note "data loaded and aqpd ready in $(($(now_ms) - T0)) ms"

search_truth "$T/truth.json"
N_ENTRIES=$(jq '.entries | length' "$T/truth.json")
N_ACTIVE=$(jq '[.entries[] | select(.status == "active")] | length' "$T/truth.json")
((N_ENTRIES >= 5400)) || fail "the ground truth has $N_ENTRIES entries, expected >= 5400"

# Independent cross-checks of the ground truth itself, by counting in SQL another way.
N_ACTIVE_SQL=$(db_query "SELECT count(*) FROM site s JOIN qualification q ON q.organisation_id = s.organisation_id
  AND (q.service_type = ANY (s.service_types) OR s.service_types = '{}') WHERE q.status = 'active'
  AND (s.lat IS NOT NULL OR s.la_code IS NOT NULL
       OR EXISTS (SELECT 1 FROM postcode_district d WHERE d.outcode = split_part(s.postcode, ' ', 1)))")
assert_eq "$N_ACTIVE_SQL" "$N_ACTIVE" "active entries in the ground truth (by a second count)"

export CACERT AQPD_PORT
export K_BOARD K_LEEDS K_MCR
K_BOARD=$(skey board)
K_LEEDS=$(skey commissioner --commissioner "$LEEDS")
K_MCR=$(skey commissioner --commissioner "$MCR")
export K_BOARD_ROLE=board K_LEEDS_ROLE=commissioner:$LEEDS K_MCR_ROLE=commissioner:$MCR

# ---- the queries: ENDPOINT KEYVAR QUERYSTRING [facets] ----
D=/v1/directory S=/v1/search
cat >"$T/queries" <<EOF
# every filter alone
$D - limit=100 facets
$D - service_type=independent-fostering&limit=100 facets
$D - service_type=childrens-home,short-breaks&limit=100
$D - service_type=residential-family-centre&service_type=secure-childrens-home&limit=7 facets
$D - tier=2&limit=100 facets
$D - tier=4&limit=100
$D - near=LS6&radius_km=50&limit=100 facets
$D - near=LS6%202AB&radius_km=12.5&limit=100
$D - near=ls62ab&radius_km=12.5&limit=100
$D - near=53.8008,-1.5491&radius_km=30&limit=100
$D - near=SW1A&radius_km=5&limit=7
$D - near=M1&limit=100
$D - commissioner=$LEEDS&limit=100 facets
$D - commissioner=$MCR&limit=7
$D - covers=$LEEDS&limit=100 facets
$D - covers=$WESTMINSTER&limit=100
$D - region=E12000003&limit=100 facets
$D - region=north%20west&limit=100
$D - region=London&limit=100
$D - min_rating=good&limit=100 facets
$D - min_rating=outstanding&limit=100
$D - min_rating=inadequate&limit=100
$D - age=5&limit=100
$D - age=16&limit=100
$D - age=0&limit=100
$D - has_vacancies=true&limit=100 facets
$D - has_vacancies=false&limit=100
$D - sector=voluntary&limit=100 facets
$D - sector=local_authority&limit=100
$D - sector=health&limit=7
$D - q=barnardo&limit=100
$D - q=care&limit=100 facets
$D - q=children's&limit=100
$D - q=children%E2%80%99s%20charity&limit=100
$D - q=fostering%20ag&limit=100
$D - q=%C3%A5lesund&limit=100
$D - q=%C3%85lesund&limit=100
$D - q=caf%C3%A9&limit=100
$D - q=confidential&limit=100
$D - q=hollybrook&limit=100
$D - q=xyzzyplugh&limit=100
$D - sort=rating&limit=100
$D - sort=name&limit=100
$S K_BOARD status=suspended&limit=100 facets
$S K_BOARD status=lapsed,revoked&limit=100
$S K_BOARD status=active,suspended,lapsed,revoked&sort=rating&limit=100
$S K_LEEDS q=confidential%20home&limit=100
$S K_LEEDS q=hollybrook&limit=100
$S K_LEEDS commissioner=$LEEDS&limit=100 facets
$S K_LEEDS near=LS21&radius_km=5&limit=100
$S K_LEEDS near=53.905,-1.69&radius_km=0.3&limit=100
$D - near=53.905,-1.69&radius_km=0.3&limit=100
$S K_MCR covers=$LEEDS&limit=100
# combinations
$D - service_type=independent-fostering&near=LS6&radius_km=50&min_rating=good&limit=20 facets
$D - service_type=independent-fostering&near=LS6&radius_km=50&min_rating=good&limit=1
$D - service_type=childrens-home&near=LS6&radius_km=50&min_rating=good&sort=rating&limit=100 facets
$D - service_type=childrens-home&region=E12000002&has_vacancies=true&age=10&limit=7 facets
$D - service_type=supported-accommodation&age=16&sector=private&limit=100
$D - near=B1&radius_km=40&tier=4&sort=name&limit=100
$D - covers=$LEEDS&service_type=childrens-home&min_rating=good&limit=100 facets
$D - commissioner=$LEEDS&near=LS1&radius_km=100&sort=distance&limit=7
$D - q=care&region=London&sort=name&limit=100
$D - q=homes&service_type=childrens-home&min_rating=good&limit=100
$D - near=51.5074,-0.1278&radius_km=15&has_vacancies=true&limit=100 facets
$D - region=south%20west&sector=voluntary&limit=100
$D - min_rating=outstanding&sort=rating&service_type=childrens-home,short-breaks&limit=100
$D - age=12&has_vacancies=true&sort=rating&limit=100
$D - tier=2&near=NE1&radius_km=80&sort=distance&limit=100
$D - covers=E06000023&has_vacancies=true&limit=100
$D - service_type=independent-fostering&sector=private&region=E12000008&sort=rating&limit=7
$D - near=CB2&radius_km=60&min_rating=requires_improvement&service_type=childrens-home&limit=100 facets
$D - q=ltd&near=M1&radius_km=30&limit=100
$D - q=limited&near=M1&radius_km=30&sort=distance&limit=100
$D - commissioner=$MCR&service_type=childrens-home&limit=100
$D - covers=$WESTMINSTER&sort=name&tier=3&limit=1
$D - region=E12000003&min_rating=good&has_vacancies=true&limit=100 facets
$D - service_type=short-breaks&age=8&sector=local_authority&limit=100
$D - near=LS6&radius_km=25&covers=$LEEDS&limit=100
$D - near=LS6&radius_km=400&commissioner=$WESTMINSTER&limit=100
$D - q=children&service_type=independent-fostering&sort=name&limit=100
$D - q=fost&region=E12000005&limit=7
$D - service_type=childrens-home&sector=private&age=15&min_rating=good&region=E12000004&limit=100
$D - near=PL1&radius_km=100&service_type=childrens-home,supported-accommodation&sort=rating&limit=100
$D - tier=3&covers=$MCR&has_vacancies=true&limit=100
$D - near=53.48,-2.24&radius_km=1000&sort=distance&min_rating=outstanding&limit=100
$D - q=the&sector=voluntary&min_rating=good&limit=100
$D - commissioner=$LEEDS&has_vacancies=true&limit=100
$S K_LEEDS service_type=childrens-home&near=LS6&radius_km=50&status=active,suspended&limit=100 facets
$S K_LEEDS near=LS21&radius_km=8&service_type=childrens-home&sort=distance&limit=100
$S K_BOARD status=suspended&service_type=childrens-home&sort=name&limit=7
$S K_BOARD status=active,lapsed&min_rating=good&age=14&limit=7
$S K_MCR commissioner=$MCR&q=care&limit=100
$S K_MCR q=confidential%20home%2026&near=M1&radius_km=30&limit=100
$S K_BOARD q=confidential&has_vacancies=true&sort=rating&status=active,suspended&limit=100
EOF
N_Q=$(grep -c '^/' "$T/queries")
note "checking $N_Q queries against the oracle"
T1=$(now_ms)
node "$SEARCH_ORACLE" check "$T/truth.json" "$T/queries" >"$T/oracle.out" 2>"$T/oracle.err" ||
  fail "search results differ from the brute-force answer:
$(head -c 6000 "$T/oracle.err")"
STATS=$(<"$T/oracle.out")
note "oracle: $STATS in $(($(now_ms) - T1)) ms"
assert_eq "$N_Q" "$(jq -r .queries <<<"$STATS")" "queries checked by the oracle"
# The checks must not be vacuous: nearly every query matches something, facets were compared.
# Five are empty by design: q=confidential, q=hollybrook (a private site's name), q=ålesund
# (only ASCII folds: the text has Ålesund), q=xyzzyplugh, and the public point of the private
# site with its own coordinates is not within 300 m of them.
assert_le "$(jq -r .empty <<<"$STATS")" 5 "queries whose expected answer is empty"
assert_le 15 "$(jq -r .facets <<<"$STATS")" "queries whose facets were compared"
assert_le 50000 "$(jq -r .items <<<"$STATS")" "items compared"

# The oracle itself sees the differences the filters make (a sanity check on the oracle).
exp() { node "$SEARCH_ORACLE" expect "$T/truth.json" "$1"; }
ALL=$(exp "$D - limit=100")
assert_eq "$N_ACTIVE" "$ALL" "oracle: the public directory lists every active entry"
ISSUE=$(exp "$D - service_type=independent-fostering&near=LS6&radius_km=50&min_rating=good")
((ISSUE >= 5 && ISSUE < ALL)) || fail "oracle: the issue's query expects $ISSUE entries"
PUBLIC_HOLLY=$(exp "$D - q=hollybrook") COMM_HOLLY=$(exp "$S K_LEEDS q=hollybrook")
assert_eq "0 1" "$PUBLIC_HOLLY $COMM_HOLLY" "oracle: a private site's name is searchable by councils only"
PUBLIC_AT=$(exp "$D - near=53.905,-1.69&radius_km=0.3") COMM_AT=$(exp "$S K_LEEDS near=53.905,-1.69&radius_km=0.3")
assert_eq "0 1" "$PUBLIC_AT $COMM_AT" "oracle: councils measure from a children's home's own point, the public from its district"

# ---- pagination while entries change ----
# A walk 7 at a time over children's homes with vacancies in Yorkshire, by name. After the
# second page, the vacancies of entries on both sides of the walk's position change: some
# leave the result (0 places), some join (fresh places).
export TRUTH2=$T/truth2.json
cat >"$T/change.sh" <<EOF
set -e
source "$AQPD_SOURCE_DIR/tests/lib/common.sh"
AQPD_TEST_STATE=$AQPD_TEST_STATE DB_NAME=$DB_NAME T=$T
source "\$AQPD_TEST_STATE/cluster/env"
source "$AQPD_SOURCE_DIR/tests/lib/search.sh"
fixture_psql -d "$DB_NAME" -c "
  UPDATE site SET vacancies = 0, vacancies_at = now() WHERE id IN (
    SELECT s.id FROM site s JOIN commissioner c ON c.code = s.la_code
    WHERE c.region_code = 'E12000003' AND s.vacancies > 0 AND s.vacancies_at > now() - interval '6 days'
      AND 'childrens-home' = ANY (s.service_types) ORDER BY md5(s.id::text) LIMIT 6);
  UPDATE site SET vacancies = 3, vacancies_at = now() WHERE id IN (
    SELECT s.id FROM site s JOIN commissioner c ON c.code = s.la_code
    WHERE c.region_code = 'E12000003' AND (s.vacancies IS NULL OR s.vacancies = 0)
      AND 'childrens-home' = ANY (s.service_types) ORDER BY md5(s.id::text) LIMIT 6)"
search_truth "$TRUTH2"
EOF
export CHANGE_CMD="AQPD_TEST_STATE='$AQPD_TEST_STATE' bash '$T/change.sh'"
node "$SEARCH_ORACLE" walkchange "$T/truth.json" \
  "$D - service_type=childrens-home&region=E12000003&has_vacancies=true&sort=name&limit=7" \
  >"$T/walk.out" 2>"$T/walk.err" || fail "a walk while vacancies change: $(head -c 3000 "$T/walk.err")"
note "walk while changing: $(<"$T/walk.out")"
search_truth "$T/truth.json"

# ---- one rendering: a hit's provider, site and location equal its provider page's ----
# /v1/directory renders them in C from index_rows() (schema/0010); /v1/providers/{id} renders
# them in SQL (index_entries()). Three pages by name, then each provider of those hits.
: >"$T/hits.ndjson"
CUR=''
for _ in 1 2 3; do
  sreq GET "$D?limit=100&sort=name${CUR:+&cursor=$(jq -rn --arg c "$CUR" '$c | @uri')}" -
  expect_status 200 "a directory page by name"
  jq -c '.items[] | {site, location, service_type, org: .provider.id}' <<<"$HTTP_BODY" >>"$T/hits.ndjson"
  CUR=$(jq -r '.next_cursor // empty' <<<"$HTTP_BODY")
done
: >"$T/pages.ndjson"
for org in $(jq -r .org "$T/hits.ndjson" | sort -u); do
  sreq GET "/v1/providers/$org" -
  expect_status 200 "provider $org"
  jq -c --arg o "$org" '{org: $o, sites}' <<<"$HTTP_BODY" >>"$T/pages.ndjson"
done
# Every hit against its provider page's entry for the same site and service type.
jq -n --slurpfile hits "$T/hits.ndjson" --slurpfile pages "$T/pages.ndjson" '
  ($pages | map({(.org): .sites}) | add) as $by
  | [$hits[] | . as $h | {key: "\(.site.id):\(.service_type)", private: .site.address_private,
      same: ([$by[$h.org][] | select(.site.id == $h.site.id and .service_type == $h.service_type)
              | {site, location}] == [{site: $h.site, location: $h.location}])}]
  | {n: length, private: map(select(.private)) | length, bad: map(select(.same | not) | .key)}' \
  >"$T/same.json"
assert_eq "[]" "$(jq -c '.bad[:5]' "$T/same.json")" "hits whose provider page shows another site or location"
SAME=$(jq .n "$T/same.json") PRIV=$(jq .private "$T/same.json")
assert_le 250 "$SAME" "hits compared with their provider pages"
assert_le 20 "$PRIV" "children's homes among them"
note "one rendering: $SAME hits ($PRIV children's homes) equal their provider pages"

# ---- invalid input: 400 problem+json naming the parameter ----
sreq GET "$D?limit=5" -
expect_status 200 "a first page"
CURSOR=$(jq -r .next_cursor <<<"$HTTP_BODY")
[[ -n "$CURSOR" && "$CURSOR" != null ]] || fail "no next_cursor on a first page of 5: $HTTP_BODY"
CURSOR_Q=$(jq -rn --arg c "$CURSOR" '$c | @uri')
BAD=(
  "near $D - near=ZZ99&radius_km=10"
  "near $D - near=QQ1%201AA"
  "near $D - near=91,0"
  "near $D - near=not-a-place"
  "radius_km $D - near=LS6&radius_km=-5"
  "radius_km $D - near=LS6&radius_km=0"
  "radius_km $D - near=LS6&radius_km=100000"
  "radius_km $D - near=LS6&radius_km=abc"
  "radius_km $D - radius_km=10"
  "service_type $D - service_type=dog-grooming"
  "service_type $D - service_type=childrens-home,nonsense"
  "min_rating $D - min_rating=excellent"
  "limit $D - limit=0"
  "limit $D - limit=101"
  "limit $D - limit=ten"
  "cursor $D - cursor=garbage"
  "cursor $D - limit=5&cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
  "cursor $D - limit=5&min_rating=good&cursor=$CURSOR_Q"
  "cursor $D - limit=5&sort=rating&cursor=$CURSOR_Q"
  "foo $D - foo=bar"
  "status $D - status=active"
  "tier $D - tier=5"
  "tier $D - tier=1&tier=2"
  "near $D - near=LS6&near=M1"
  "age $D - age=26"
  "has_vacancies $D - has_vacancies=maybe"
  "sector $D - sector=corporate"
  "region $D - region=Narnia"
  "commissioner $D - commissioner=E99999999"
  "covers $D - covers=E08000035&covers=E08000003"
  "sort $D - sort=distance"
  "sort $D - sort=random"
  "status $S K_BOARD status=pending"
  "min_rating $S K_LEEDS min_rating=good&min_rating=outstanding"
)
for b in "${BAD[@]}"; do
  read -r param ep keyvar qs <<<"$b"
  key=-
  [[ "$keyvar" != - ]] && key=${!keyvar}
  sreq GET "$ep?$qs" "$key"
  expect_status 400 "GET $ep?$qs"
  expect_ctype application/problem+json "GET $ep?$qs"
  jq -e --arg p "$param" '(.status == 400) and (.type | type == "string") and (.title | type == "string")
    and (.detail | type == "string") and (.detail | test("^" + $p + "\\b"))' >/dev/null <<<"$HTTP_BODY" ||
    fail "GET $ep?$qs: expected a 400 problem whose detail names '$param', got: $HTTP_BODY"
done
# The cursor is still good with its own filters, and a new limit.
sreq GET "$D?limit=7&cursor=$CURSOR_Q" -
expect_status 200 "the cursor with its own filters and another limit"
assert_eq 7 "$(jq '.items | length' <<<"$HTTP_BODY")" "items on the page after the cursor"

aqpd_stop
note "search test took $(($(now_ms) - T0)) ms"
