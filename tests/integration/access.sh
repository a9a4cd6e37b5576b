#!/usr/bin/env bash
# Route × role matrix. Every route of api/routes.c (parsed from the source, so a new route fails
# this test until it has a row in EXPECTED_TABLE below, and a row without a route fails too) is
# called by every role: anonymous, provider A, provider B (a second organisation), commissioner
# (Leeds), assessor and board. Each call gets the status the table says: the route's answer for
# a role that may call it, 401 without a key, 403 for a role that may not, and 404 when provider
# B names provider A's organisation, sites, applications or qualifications. Refused calls change
# nothing: every table of the database is fingerprinted before and after them (they all run
# before any allowed call). Then the cross-organisation cases one by one (lists, PATCH, submit
# and withdraw of A's application by B with its row compared, local applications and agreements
# across providers and across councils with a second council's key), and bad keys: missing,
# malformed, unknown and revoked.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/pipeline.sh"
t_init
new_database
aqpd_run import ofsted "$OFSTED_CSV"
assert_eq 0 "$RUN_EXIT" "import of the register (stderr: $(tail -n 3 <<<"$RUN_ERR"))"
aqpd_run import commissioners "$AQPD_SOURCE_DIR/data"
assert_eq 0 "$RUN_EXIT" "import of the councils (stderr: $(tail -n 3 <<<"$RUN_ERR"))"

ROLES=(anon provA provB comm assr board)

# The expected status for each route and role. "id" segments name provider A's objects (its
# organisation, its applications, its qualifications); the requests are built by target() below.
# A route without a row, or a row without a route, fails the test.
EXPECTED_TABLE='
# method path                                   anon provA provB comm assr board
GET    /healthz                                 200  200   200   200  200  200
GET    /readyz                                  200  200   200   200  200  200
GET    /metrics                                 200  200   200   200  200  200
GET    /openapi.json                            200  200   200   200  200  200
GET    /                                        200  200   200   200  200  200
GET    /config.json                             200  200   200   200  200  200
GET    /assets/{file}                           200  200   200   200  200  200
GET    /assets/leaflet/{file}                   200  200   200   200  200  200
GET    /assets/leaflet/images/{file}            200  200   200   200  200  200
GET    /v1/service-types                        200  200   200   200  200  200
GET    /v1/criteria                             200  200   200   200  200  200
POST   /v1/criteria                             401  403   403   403  403  201
GET    /v1/audit-events                         401  403   403   403  403  200
POST   /v1/organisations                        201  201   201   201  201  201
GET    /v1/organisations/{id}                   401  200   404   200  200  200
PATCH  /v1/organisations/{id}                   401  200   404   403  403  403
POST   /v1/organisations/{id}/sites             401  201   404   403  403  403
GET    /v1/organisations/{id}/sites             401  200   404   403  200  200
POST   /v1/applications                         401  201   201   403  403  403
GET    /v1/applications                         401  200   200   403  200  200
GET    /v1/applications/{id}                    401  200   404   403  200  200
PATCH  /v1/applications/{id}                    401  200   404   403  403  403
POST   /v1/applications/{id}/submit             401  200   404   403  403  403
POST   /v1/applications/{id}/withdraw           401  200   404   403  403  403
POST   /v1/applications/{id}/decision           401  403   403   403  200  200
GET    /v1/assessments                          401  403   403   403  200  200
GET    /v1/commissioners                        200  200   200   200  200  200
GET    /v1/commissioners/{code}                 200  200   200   200  200  200
PUT    /v1/commissioners/{code}/offers/{service_type} 401 403 403  201  403  201
POST   /v1/local-applications                   401  201   404   403  403  403
GET    /v1/local-applications                   401  200   200   200  200  200
POST   /v1/local-applications/{id}/decision     401  403   403   200  403  403
GET    /v1/agreements                           401  200   200   200  200  200
POST   /v1/agreements/{id}/reviews              401  403   403   201  403  403
POST   /v1/agreements/{id}/terminate            401  403   403   200  403  403
GET    /v1/changes                              401  403   403   200  403  200
GET    /v1/providers/{id}                       200  200   200   200  200  200
GET    /v1/directory                            200  200   200   200  200  200
GET    /v1/search                               401  403   403   200  403  200
PUT    /v1/sites/{id}/vacancies                 401  200   404   403  403  403
GET    /v1/qualifications                       401  200   200   200  200  200
POST   /v1/qualifications/{id}/suspend          401  403   403   403  403  200
POST   /v1/qualifications/{id}/reinstate        401  403   403   403  403  200
POST   /v1/qualifications/{id}/revoke           401  403   403   403  403  200
POST   /v1/qualifications/{id}/reviews          401  403   403   403  200  200
GET    /v1/publications                         200  200   200   200  200  200
POST   /v1/publications                         401  403   403   403  403  201
GET    /v1/publications/latest                  200  200   200   200  200  200
GET    /v1/publications/public-key              200  200   200   200  200  200
GET    /v1/publications/{n}                     200  200   200   200  200  200
GET    /v1/publications/{n}/directory.json      200  200   200   200  200  200
GET    /v1/publications/{n}/directory.csv       200  200   200   200  200  200
GET    /hsds/                                   200  200   200   200  200  200
GET    /hsds/services                           200  200   200   200  200  200
GET    /hsds/services/{id}                      404  404   404   404  404  404
GET    /hsds/organizations                      200  200   200   200  200  200
GET    /hsds/organizations/{id}                 404  404   404   404  404  404
GET    /hsds/service_at_locations               200  200   200   200  200  200
GET    /hsds/service_at_locations/{id}          404  404   404   404  404  404
GET    /hsds/taxonomies                         200  200   200   200  200  200
GET    /hsds/taxonomies/{id}                    404  404   404   404  404  404
GET    /hsds/taxonomy_terms                     200  200   200   200  200  200
GET    /hsds/taxonomy_terms/{id}                404  404   404   404  404  404
'
declare -A WANT
while read -r m p rest; do
  [[ -z "$m" || "$m" == '#'* ]] && continue
  read -r -a st <<<"$rest"
  ((${#st[@]} == ${#ROLES[@]})) || fail "table row '$m $p' has ${#st[@]} statuses, not ${#ROLES[@]}"
  for i in "${!ROLES[@]}"; do WANT["$m $p ${ROLES[$i]}"]=${st[$i]}; done
  WANT["$m $p"]=row
done <<<"$EXPECTED_TABLE"

# The routes the server has: {"METHOD", "/pattern", roles, handler} lines of api/routes.c.
mapfile -t ROUTES < <(sed -nE 's/^[[:space:]]*\{[[:space:]]*"([A-Z]+)",[[:space:]]*"([^"]+)",.*/\1 \2/p' \
  "$AQPD_SOURCE_DIR/api/routes.c")
((${#ROUTES[@]} >= 20)) || fail "parsed only ${#ROUTES[@]} routes from api/routes.c"
for r in "${ROUTES[@]}"; do
  [[ "${WANT[$r]:-}" == row ]] || fail "route '$r' (api/routes.c) has no row in this test's table: add one"
done
while read -r m p _; do
  [[ -z "$m" || "$m" == '#'* ]] && continue
  grep -qxF "$m $p" <<<"$(printf '%s\n' "${ROUTES[@]}")" || fail "the table's '$m $p' is not in api/routes.c"
done <<<"$EXPECTED_TABLE"

# ---- keys, organisations and the objects the matrix works on ----
BOARD=$(new_key board)
ASSESSOR=$(new_key assessor)
LEEDS=E08000035 BIRMINGHAM=E08000025
COMMISSIONER=$(new_key commissioner --commissioner "$LEEDS") # the matrix's commissioner
COMMISSIONER_BHAM=$(new_key commissioner --commissioner "$BIRMINGHAM") # another council

aqpd_env
openssl genpkey -algorithm ed25519 -out "$T/board-signing.pem" 2>/dev/null || fail "openssl genpkey"
export AQPD_SIGNING_KEY=$T/board-signing.pem # the board may publish
export AQPD_SIGNUP_PER_HOUR=100000 # this test signs up more organisations than a person would
aqpd_start
for _ in $(seq 1 100); do
  https GET /readyz
  [[ "$HTTP_STATUS" == 200 ]] && break
  sleep 0.05
done

signup '{"name": "Woodside House Care Ltd", "sector": "private"}'
ORG_A=$ORG_ID KEY_A=$ORG_KEY
signup '{"name": "Youthworx London Limited", "sector": "private"}'
ORG_B=$ORG_ID KEY_B=$ORG_KEY
declare -A KEY=([anon]=- [provA]=$KEY_A [provB]=$KEY_B [comm]=$COMMISSIONER [assr]=$ASSESSOR [board]=$BOARD)

api POST "/v1/organisations/$ORG_A/sites" "$KEY_A" '{"name": "Woodside House", "ofsted_urn": "SC357455"}'
expect_status 201 "A's site"
SITE_A=$(jqb .id)

# new_app KEY SERVICE-TYPE ANSWERS [submit]: creates (and submits) an application; prints its id.
new_app() {
  api POST /v1/applications "$1" "{\"service_type\": \"$2\", \"answers\": $3}"
  expect_status 201 "create a $2 application"
  local id
  id=$(jqb .id)
  if [[ "${4:-}" == submit ]]; then
    api POST "/v1/applications/$id/submit" "$1"
    expect_status 200 "submit the $2 application"
  fi
  printf '%s' "$id"
}
# new_qual KEY SERVICE-TYPE EXAMPLE URN: a qualification, by an application that qualifies
# automatically; prints its id.
new_qual() {
  local app
  app=$(new_app "$1" "$2" "$(answers "$3" ".ofsted_urn = \"$4\"")" submit)
  db_query "SELECT id FROM qualification WHERE application_id = '$app' AND status = 'active'"
}
UNREG=$(answers family-support)
QA1=$(new_qual "$KEY_A" childrens-home childrens-home SC357455)
QA2=$(new_qual "$KEY_A" short-breaks childrens-home 2775561)
QA3=$(new_qual "$KEY_A" independent-fostering independent-fostering SC036488)
QA4=$(new_qual "$KEY_A" residential-family-centre childrens-home 2736061)
QA5=$(new_qual "$KEY_A" supported-accommodation childrens-home 2739460)
QB1=$(new_qual "$KEY_B" childrens-home childrens-home 2735311)
for q in QA1 QA2 QA3 QA4 QA5 QB1; do [[ -n "${!q}" ]] || fail "qualification $q was not granted"; done
APP_A_GET=$(db_query "SELECT application_id FROM qualification WHERE id = '$QA1'")
APP_A_PATCH=$(new_app "$KEY_A" edge-of-care "$UNREG")
APP_A_SUBMIT=$(new_app "$KEY_A" assessment-care-planning "$UNREG")
APP_A_WITHDRAW=$(new_app "$KEY_A" adoption-support "$UNREG")
APP_A_DECIDE1=$(new_app "$KEY_A" family-support "$UNREG" submit)
APP_A_DECIDE2=$(new_app "$KEY_A" advocacy "$UNREG" submit)
APP_B=$(new_app "$KEY_B" family-support "$UNREG")
api POST "/v1/qualifications/$QA2/suspend" "$BOARD" '{"reason": "set-up: suspended to be reinstated"}'
expect_status 200 "suspend QA2 (set-up)"
CRITERIA_V2=$(jq -c '.version = 2' "$AQPD_SOURCE_DIR/criteria/v1.json")

# Local commissioning: offers (by the board), A's local applications and, accepted by Leeds,
# two agreements; one more application Leeds has not decided.
OFFER='{"price_pence": 450000, "price_unit": "week", "specification": "As the national specification."}'
for o in "$LEEDS/supported-accommodation" "$LEEDS/residential-family-centre" "$LEEDS/childrens-home" \
  "$BIRMINGHAM/childrens-home" "$BIRMINGHAM/residential-family-centre"; do
  api PUT "/v1/commissioners/${o%%/*}/offers/${o#*/}" "$BOARD" "$OFFER"
  expect_status 201 "offer $o (set-up)"
done
# local_app KEY QUALIFICATION COUNCIL: a local application; prints its id.
local_app() {
  api POST /v1/local-applications "$1" "{\"qualification_id\": \"$2\", \"commissioner\": \"$3\", \"answers\": {}}"
  expect_status 201 "local application $2 to $3 (set-up)"
  jqb .id
}
# agreement LOCAL-APPLICATION: Leeds accepts it; prints the agreement's id.
agreement() {
  api POST "/v1/local-applications/$1/decision" "$COMMISSIONER" '{"decision": "accept"}'
  expect_status 200 "Leeds accepts local application $1 (set-up)"
  db_query "SELECT id FROM agreement WHERE local_application_id = '$1'"
}
AG_REVIEW=$(agreement "$(local_app "$KEY_A" "$QA5" "$LEEDS")")
AG_TERM=$(agreement "$(local_app "$KEY_A" "$QA4" "$LEEDS")")
LA_DECIDE=$(local_app "$KEY_A" "$QA1" "$LEEDS")
for v in AG_REVIEW AG_TERM LA_DECIDE; do [[ -n "${!v}" ]] || fail "set-up: no $v"; done
UNKNOWN=00000000-0000-4000-8000-00000000dead

# target METHOD PATTERN ROLE: the request the matrix sends, in REQ_PATH and REQ_BODY (empty:
# none). The same request goes to every role, except where two roles may both change an object:
# each then gets its own. A route not named here gets its {parameters} replaced by an unknown id
# and, unless it is a GET, an empty object as body.
target() {
  local m=$1 p=$2 role=$3
  REQ_PATH=$p REQ_BODY=
  case "$m $p" in
  "POST /v1/criteria") REQ_BODY=$CRITERIA_V2 ;;
  "POST /v1/organisations") REQ_BODY="{\"name\": \"Signed up with the $role key\", \"sector\": \"private\"}" ;;
  "GET /v1/organisations/{id}" | "GET /v1/organisations/{id}/sites") REQ_PATH=${p/\{id\}/$ORG_A} ;;
  "PATCH /v1/organisations/{id}")
    REQ_PATH=${p/\{id\}/$ORG_A} REQ_BODY="{\"description\": \"Changed with the $role key\"}" ;;
  "POST /v1/organisations/{id}/sites")
    REQ_PATH=${p/\{id\}/$ORG_A} REQ_BODY="{\"name\": \"Site added with the $role key\"}" ;;
  "POST /v1/applications") REQ_BODY='{"service_type": "secure-childrens-home", "answers": {}}' ;;
  "GET /v1/applications/{id}") REQ_PATH=${p/\{id\}/$APP_A_GET} ;;
  "PATCH /v1/applications/{id}")
    REQ_PATH=${p/\{id\}/$APP_A_PATCH} REQ_BODY="{\"answers\": {\"note\": \"changed with the $role key\"}}" ;;
  "POST /v1/applications/{id}/submit") REQ_PATH=${p/\{id\}/$APP_A_SUBMIT} ;;
  "POST /v1/applications/{id}/withdraw") REQ_PATH=${p/\{id\}/$APP_A_WITHDRAW} ;;
  "POST /v1/applications/{id}/decision")
    if [[ "$role" == board ]]; then REQ_PATH=${p/\{id\}/$APP_A_DECIDE2}; else REQ_PATH=${p/\{id\}/$APP_A_DECIDE1}; fi
    REQ_BODY="{\"decision\": \"request_info\", \"reason\": \"asked with the $role key\"}" ;;
  "POST /v1/qualifications/{id}/suspend") REQ_PATH=${p/\{id\}/$QA1} REQ_BODY='{"reason": "matrix"}' ;;
  "POST /v1/qualifications/{id}/reinstate") REQ_PATH=${p/\{id\}/$QA2} REQ_BODY='{"reason": "matrix"}' ;;
  "POST /v1/qualifications/{id}/revoke") REQ_PATH=${p/\{id\}/$QA3} REQ_BODY='{"reason": "matrix"}' ;;
  "GET /v1/commissioners/{code}") REQ_PATH=/v1/commissioners/$LEEDS ;;
  "PUT /v1/commissioners/{code}/offers/{service_type}")
    if [[ "$role" == board ]]; then REQ_PATH=/v1/commissioners/$LEEDS/offers/independent-fostering
    else REQ_PATH=/v1/commissioners/$LEEDS/offers/short-breaks; fi
    REQ_BODY="{\"price_pence\": 390000, \"price_unit\": \"week\", \"specification\": \"Set with the $role key\"}" ;;
  "POST /v1/local-applications")
    REQ_BODY="{\"qualification_id\": \"$QA4\", \"commissioner\": \"$BIRMINGHAM\", \"answers\": {}}" ;;
  "POST /v1/local-applications/{id}/decision")
    REQ_PATH=${p/\{id\}/$LA_DECIDE} REQ_BODY="{\"decision\": \"decline\", \"reason\": \"declined with the $role key\"}" ;;
  "POST /v1/agreements/{id}/reviews")
    REQ_PATH=${p/\{id\}/$AG_REVIEW} REQ_BODY="{\"outcome\": \"good\", \"notes\": \"reviewed with the $role key\"}" ;;
  "POST /v1/agreements/{id}/terminate")
    REQ_PATH=${p/\{id\}/$AG_TERM} REQ_BODY="{\"reason\": \"terminated with the $role key\", \"end_date\": \"$(date -u -d '+90 days' +%F)\"}" ;;
  "GET /v1/providers/{id}") REQ_PATH=${p/\{id\}/$ORG_A} ;;
  "GET /assets/{file}") REQ_PATH=/assets/app.js ;;
  "GET /assets/leaflet/{file}") REQ_PATH=/assets/leaflet/leaflet.js ;;
  "GET /assets/leaflet/images/{file}") REQ_PATH=/assets/leaflet/images/marker-icon.png ;;
  "PUT /v1/sites/{id}/vacancies") REQ_PATH=${p/\{id\}/$SITE_A} REQ_BODY='{"places": 1}' ;;
  # The board's POST /v1/publications (allowed calls run in route order) makes number 1.
  "GET /v1/publications/{n}"*) REQ_PATH=${p/\{n\}/1} ;;
  "POST /v1/qualifications/{id}/reviews")
    REQ_PATH=${p/\{id\}/$QA4} REQ_BODY="{\"outcome\": \"passed\", \"reason\": \"reviewed with the $role key\"}" ;;
  *)
    while [[ "$REQ_PATH" =~ ^(.*)\{[a-z_]+\}(.*)$ ]]; do
      REQ_PATH=${BASH_REMATCH[1]}$UNKNOWN${BASH_REMATCH[2]}
    done
    [[ "$m" == GET ]] || REQ_BODY='{}' ;;
  esac
}

# A fingerprint of every table in the database, so that a refused request that changed
# anything anywhere is caught: per table its row count and the sum of its rows' xmin (every
# inserted or updated row version carries the id of the transaction that wrote it, even when
# the values did not change). Built once: the tables do not change.
FP_SQL=$(db_query "SELECT 'SELECT ' || string_agg(format(
    '%L || '':'' || (SELECT count(*) || ''/'' || coalesce(sum(xmin::text::bigint), 0) FROM %I)',
    c.relname, c.relname), ' || '' '' || ' ORDER BY c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'public' AND c.relkind = 'r'")
# One psql session answers every fingerprint (a process per query would cost more than the query).
coproc FPSQL {
  PGOPTIONS='-c client_min_messages=warning' "$AQPD_PG_BINDIR/psql" -X -q -At -h "$AQPD_PG_HOST" \
    -p "$AQPD_PG_PORT" -U "$AQPD_PG_USER" -d "$DB_NAME" 2>&1
}
on_exit "kill $FPSQL_PID"
fingerprint() {
  local line out=
  printf '%s;\nSELECT %s;\n' "$FP_SQL" "'--end--'" >&"${FPSQL[1]}"
  while IFS= read -r -t 20 line <&"${FPSQL[0]}"; do
    [[ "$line" == --end-- ]] && break
    out+=$line
  done
  printf '%s' "$out"
}
[[ "$(fingerprint)" == *audit_event:* ]] || fail "the fingerprint query failed: $(fingerprint)"

# calls "ROUTE|ROLE"...: sends each route's request as the role, in order, in one curl run on one
# kept-alive connection (curl --next), and checks each answer's status, and for a refusal its
# problem document and code.
declare -A CALLED
calls() {
  local c r role m p i=0 args=() files=() problems=()
  for c in "$@"; do
    r=${c%|*} role=${c##*|} m=${r%% *} p=${r#* }
    target "$m" "$p" "$role"
    ((i == 0)) || args+=(--next)
    args+=(--cacert "$CACERT" --resolve "localhost:$AQPD_PORT:127.0.0.1" --max-time 10 -X "$m"
      -o "$T/matrix.$i" -w '%{http_code} %{content_type}\n')
    [[ "${KEY[$role]}" == - ]] || args+=(-H "Authorization: Bearer ${KEY[$role]}")
    if [[ -n "$REQ_BODY" ]]; then
      printf '%s' "$REQ_BODY" >"$T/matrix.req.$i"
      args+=(-H 'Content-Type: application/json' --data-binary "@$T/matrix.req.$i")
    fi
    args+=("https://localhost:$AQPD_PORT$REQ_PATH")
    case ${WANT["$r $role"]} in 401 | 403 | 404) files+=("$T/matrix.$i") ;; esac
    i=$((i + 1))
  done
  curl -sS "${args[@]}" >"$T/matrix.status" 2>"$T/curl.err" || true
  mapfile -t got <"$T/matrix.status"
  # The refusals' problem documents, one jq run for all: "status code complete" each.
  if ((${#files[@]})); then
    mapfile -t problems < <(jq -r '"\(.status) \(.code) \(has("type") and has("title") and has("detail"))"' \
      "${files[@]}" 2>&1)
  fi
  local code=([401]=unauthenticated [403]=forbidden [404]=not_found) k=0 want status ctype what
  i=0
  for c in "$@"; do
    r=${c%|*} role=${c##*|} m=${r%% *} p=${r#* }
    want=${WANT["$r $role"]} status=${got[$i]%% *} ctype=${got[$i]#* }
    target "$m" "$p" "$role"
    what="$role: $m $REQ_PATH"
    CALLED["$r $role"]=$status
    [[ "$status" == "$want" ]] ||
      fail "$what: expected HTTP $want, got '${status:-none}' ($(cat "$T/curl.err")): $(head -c 400 "$T/matrix.$i" 2>/dev/null)"
    case "$want" in
    401 | 403 | 404)
      [[ "$ctype" == application/problem+json* ]] || fail "$what: Content-Type '$ctype', not a problem"
      [[ "${problems[$k]:-}" == "$want ${code[$want]} true" ]] ||
        fail "$what: expected a $want ${code[$want]} problem, got (${problems[$k]:-nothing}): $(head -c 400 "$T/matrix.$i")"
      k=$((k + 1)) ;;
    esac
    i=$((i + 1))
  done
}

# ---- the matrix: first every call that must be refused (nothing may change: the database is
# fingerprinted before and after), then every call that may succeed. Each set is sent in route
# order, on one connection. ----
refused=() allowed=()
for r in "${ROUTES[@]}"; do
  for role in "${ROLES[@]}"; do
    case ${WANT["$r $role"]} in
    401 | 403 | 404) refused+=("$r|$role") ;;
    *) allowed+=("$r|$role") ;;
    esac
  done
done
before=$(fingerprint)
calls "${refused[@]}"
after=$(fingerprint)
[[ "$before" == "$after" ]] ||
  fail "refused calls changed the database (table:rows/xmin sum): $(diff <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after") | grep '^[<>]')"
calls "${allowed[@]}"
for r in "${ROUTES[@]}"; do
  for role in "${ROLES[@]}"; do
    [[ -n "${CALLED["$r $role"]:-}" ]] || fail "$r was not called as $role"
  done
done
note "matrix: ${#ROUTES[@]} routes x ${#ROLES[@]} roles = ${#CALLED[@]} calls"

# The allowed calls did what they say (so the statuses above are not empty successes).
assert_eq "info_requested|info_requested" \
  "$(db_query "SELECT string_agg(status, '|') FROM application WHERE id IN ('$APP_A_DECIDE1', '$APP_A_DECIDE2')")" \
  "decisions by the assessor and the board"
assert_eq "suspended active revoked active" \
  "$(db_query "SELECT string_agg(status, ' ' ORDER BY array_position(ARRAY['$QA1','$QA2','$QA3','$QA4']::uuid[], id)) FROM qualification WHERE id IN ('$QA1','$QA2','$QA3','$QA4')")" \
  "qualifications after suspend, reinstate, revoke, reviews"
assert_eq withdrawn "$(db_query "SELECT status FROM application WHERE id = '$APP_A_WITHDRAW'")" "A's withdrawn application"
assert_ne draft "$(db_query "SELECT status FROM application WHERE id = '$APP_A_SUBMIT'")" "A's submitted application"
assert_eq "changed with the provA key" "$(db_query "SELECT answers->>'note' FROM application WHERE id = '$APP_A_PATCH'")" \
  "A's edited application"
assert_eq "Changed with the provA key" "$(db_query "SELECT description FROM organisation WHERE id = '$ORG_A'")" \
  "A's organisation after PATCH"
assert_eq 2 "$(db_query "SELECT count(*) FROM criteria_set")" "criteria sets after the board published v2"
assert_eq "1 1" "$(db_query "SELECT count(*) FILTER (WHERE organisation_id = '$ORG_A') || ' ' || count(*) FILTER (WHERE organisation_id = '$ORG_B') FROM application WHERE service_type = 'secure-childrens-home'")" \
  "applications created by A and B in the matrix, each for its own organisation"
assert_eq "declined|declined with the comm key" \
  "$(db_query "SELECT status || '|' || decision_reason FROM local_application WHERE id = '$LA_DECIDE'")" \
  "the local application Leeds declined"
assert_eq "1 terminated" \
  "$(db_query "SELECT (SELECT count(*) FROM agreement_review WHERE agreement_id = '$AG_REVIEW') || ' ' || (SELECT status FROM agreement WHERE id = '$AG_TERM')")" \
  "agreements after the review and the termination"
assert_eq "independent-fostering 390000|short-breaks 390000" \
  "$(db_query "SELECT string_agg(service_type || ' ' || price_pence, '|' ORDER BY service_type) FROM offer WHERE commissioner_code = '$LEEDS' AND price_pence = 390000")" \
  "offers set in the matrix"
LA_BHAM=$(db_query "SELECT id FROM local_application WHERE commissioner_code = '$BIRMINGHAM' AND organisation_id = '$ORG_A' AND status = 'submitted'")
assert_eq 1 "$(db_query "SELECT count(*) FROM local_application WHERE commissioner_code = '$BIRMINGHAM'")" \
  "local applications to Birmingham (A's, from the matrix; B's refused)"

# ---- cross-organisation cases, one by one ----
row() { db_query "SELECT a::text FROM application a WHERE id = '$1'"; }
for path in "/v1/applications/$APP_A_PATCH" "/v1/applications/$APP_A_SUBMIT/submit" \
  "/v1/applications/$APP_A_PATCH/submit" "/v1/applications/$APP_A_PATCH/withdraw" \
  "/v1/applications/$APP_A_DECIDE1/withdraw"; do
  id=${path#/v1/applications/}
  id=${id%%/*}
  method=POST body=
  [[ "$path" == */"$id" ]] && method=PATCH body='{"answers": {"note": "B was here"}}'
  before=$(row "$id")
  if [[ -n "$body" ]]; then api "$method" "$path" "$KEY_B" "$body"; else api "$method" "$path" "$KEY_B"; fi
  expect_problem 404 not_found "B: $method $path"
  assert_eq "$before" "$(row "$id")" "A's application after B's $method $path"
done
before=$(db_query "SELECT o::text FROM organisation o WHERE id = '$ORG_A'")
api PATCH "/v1/organisations/$ORG_A" "$KEY_B" '{"name": "Taken over by B"}'
expect_problem 404 not_found "B renames A"
assert_eq "$before" "$(db_query "SELECT o::text FROM organisation o WHERE id = '$ORG_A'")" "A after B's PATCH"
api GET "/v1/organisations/$ORG_A/sites" "$KEY_B"
expect_problem 404 not_found "B lists A's sites"
assert_not_contains "$HTTP_BODY" "$SITE_A" "B's answer about A's sites"

# Lists are confined to the caller's organisation.
api GET /v1/applications "$KEY_B"
expect_status 200 "B lists applications"
assert_eq "$APP_B $ORG_B" "$(jqb '[.items[] | select(.service_type == "family-support")] | map(.id + " " + .organisation_id) | join(",")')" \
  "B's family support application in B's list"
assert_eq "$ORG_B" "$(jqb '[.items[].organisation_id] | unique | join(" ")')" "organisations in B's list"
assert_eq "$(db_query "SELECT count(*) FROM application WHERE organisation_id = '$ORG_B'")" "$(jqb .total)" "B's list total"
api GET /v1/applications "$KEY_A"
assert_eq "$ORG_A" "$(jqb '[.items[].organisation_id] | unique | join(" ")')" "organisations in A's list"
assert_not_contains "$HTTP_BODY" "$APP_B" "A's list"
api GET "/v1/applications?status=draft&limit=100" "$KEY_B"
assert_not_contains "$HTTP_BODY" "$APP_A_PATCH" "B's list of drafts"
api GET /v1/qualifications "$KEY_B"
assert_eq "$QB1" "$(jqb '[.items[].id] | join(" ")')" "B's qualifications"
api GET /v1/qualifications "$KEY_A"
assert_eq "$ORG_A" "$(jqb '[.items[].organisation_id] | unique | join(" ")')" "organisations in A's qualifications"
api GET "/v1/applications/$APP_B" "$KEY_A"
expect_problem 404 not_found "A reads B's application"
api GET "/v1/applications/$APP_B" "$ASSESSOR"
expect_status 200 "the assessor reads B's application"

# Local commissioning: B sees none of A's local applications or agreements; a council sees and
# changes only its own.
api GET /v1/local-applications "$KEY_B"
expect_status 200 "B lists local applications"
assert_eq 0 "$(jqb .total)" "B's local applications"
api GET /v1/agreements "$KEY_B"
expect_status 200 "B lists agreements"
assert_eq 0 "$(jqb .total)" "B's agreements"
api GET /v1/local-applications "$COMMISSIONER_BHAM"
expect_status 200 "Birmingham lists local applications"
assert_eq "$LA_BHAM" "$(jqb '[.items[].id] | join(" ")')" "Birmingham's local applications"
api GET /v1/agreements "$COMMISSIONER_BHAM"
assert_eq 0 "$(jqb .total)" "Birmingham's agreements"
api GET /v1/local-applications "$COMMISSIONER"
assert_not_contains "$HTTP_BODY" "$LA_BHAM" "Leeds's local applications"
before=$(fingerprint)
api POST "/v1/local-applications/$LA_BHAM/decision" "$COMMISSIONER" '{"decision": "accept"}'
expect_problem 404 not_found "Leeds decides on an application to Birmingham"
api POST "/v1/agreements/$AG_REVIEW/reviews" "$COMMISSIONER_BHAM" '{"outcome": "inadequate"}'
expect_problem 404 not_found "Birmingham reviews a Leeds agreement"
api POST "/v1/agreements/$AG_REVIEW/terminate" "$COMMISSIONER_BHAM" "{\"reason\": \"not ours\", \"end_date\": \"$(date -u -d '+90 days' +%F)\"}"
expect_problem 404 not_found "Birmingham terminates a Leeds agreement"
api PUT "/v1/commissioners/$BIRMINGHAM/offers/childrens-home" "$COMMISSIONER" \
  '{"price_pence": 1, "price_unit": "week", "specification": "Leeds sets Birmingham'"'"'s price"}'
expect_problem 403 forbidden "Leeds sets Birmingham's price"
api POST /v1/local-applications "$KEY_B" "{\"qualification_id\": \"$QA5\", \"commissioner\": \"$BIRMINGHAM\", \"answers\": {}}"
expect_problem 404 not_found "B applies locally with A's qualification"
assert_eq "$before" "$(fingerprint)" "the database after refused cross-council and cross-organisation writes"

# An application is always for the caller's own organisation: naming another is refused.
n=$(counts)
api POST /v1/applications "$KEY_B" "{\"organisation_id\": \"$ORG_A\", \"service_type\": \"advocacy\", \"answers\": {}}"
expect_problem 400 unknown_field "B applies naming A's organisation"
assert_eq "$n" "$(counts)" "rows after B named A's organisation"

# ---- keys: missing, malformed, unknown, revoked ----
protected="/v1/applications"
https GET "$protected"
expect_problem 401 unauthenticated "no Authorization header"
assert_contains "$(header WWW-Authenticate)" Bearer "WWW-Authenticate without a key"
for h in "Bearer" "Bearer " "Bearer abc" "Basic $(printf 'a:b' | base64)" "Token $KEY_A" \
  "Bearer ${KEY_A}x" "Bearer ${KEY_A:0:47}" "Bearer aqpd_$(printf '%043d' 0)"; do
  https GET "$protected" -H "Authorization: $h"
  expect_problem 401 unauthenticated "Authorization: $h"
done
# A revoked key: one that has just been used (so aqpd has it cached) stops working at once,
# because a change to api_key is NOTIFYed and clears every server's key cache.
REVOKED=$(new_key provider --organisation "$ORG_A")
api GET "$protected" "$REVOKED"
expect_status 200 "the key works before it is revoked (and is now cached)"
db_query "UPDATE api_key SET revoked_at = now() WHERE key_hash = sha256(convert_to('$REVOKED', 'UTF8'))" >/dev/null
revoked_ok=0
for _ in $(seq 1 20); do # the notification crosses the loop in milliseconds; allow 1 s
  api GET "$protected" "$REVOKED"
  [[ "$HTTP_STATUS" == 401 ]] && revoked_ok=1 && break
  sleep 0.05
done
((revoked_ok)) || fail "a revoked key still worked 1 s after revocation (key cache not cleared)"
expect_problem 401 unauthenticated "a revoked key"
assert_contains "$(header WWW-Authenticate)" invalid_token "WWW-Authenticate for a revoked key"

aqpd_stop TERM
assert_no_sanitizer_report "$T"/aqpd.*.log "$T/run.err"
