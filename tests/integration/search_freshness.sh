#!/usr/bin/env bash
# Freshness across two instances (issue 5): two aqpd processes serve one database (the real
# register as qualified providers, tests/lib/bulk_ofsted.sql). Each change is made through the
# API on instance A, and both instances are polled (round-robin, keep-alive connections, by
# tests/lib/search_oracle.js fresh) until their searches show it; the delay from the change's
# response to the end of the first answer showing it must be at most 1.0 s on each instance,
# for each search:
#   1. a vacancy changed (PUT /v1/sites/{id}/vacancies by the site's provider): the entry's
#      vacancies.places in /v1/directory, and has_vacancies=true finds it (then drops it at 0);
#   2. an agreement made (Leeds's offer PUT, the provider's POST /v1/local-applications, Leeds
#      accepts): commissioner=Leeds in /v1/directory finds the entry, and /v1/search shows Leeds
#      its agreement (active, at Leeds's price);
#   3. the qualification suspended by the board: gone from /v1/directory (also from
#      commissioner=Leeds), shown by /v1/search?status=suspended with its agreement suspended;
#   4. the qualification reinstated: back in /v1/directory, its agreement active again.
# The answer cache is on (the default): the polls repeat the same searches, and the metrics
# must show answers served from it; another council's /v1/search of the URI Leeds uses must not
# show Leeds's agreement.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/search.sh"
t_init
T0=$(now_ms)
search_data
LEEDS=E08000035
MAX_MS=1000

# The subject: a provider with one site and one qualification (independent fostering, active),
# in Yorkshire, in a known postcode district, without a vacancy figure.
read -r ORG SITE QUAL OUTCODE < <(db_query "SELECT o.id, s.id, q.id, split_part(s.postcode, ' ', 1)
  FROM organisation o JOIN site s ON s.organisation_id = o.id
  JOIN qualification q ON q.organisation_id = o.id
  JOIN commissioner c ON c.code = s.la_code
  WHERE q.service_type = 'independent-fostering' AND q.status = 'active' AND c.region_code = 'E12000003'
    AND s.vacancies IS NULL
    AND EXISTS (SELECT 1 FROM postcode_district d WHERE d.outcode = split_part(s.postcode, ' ', 1))
    AND (SELECT count(*) FROM site x WHERE x.organisation_id = o.id) = 1
    AND (SELECT count(*) FROM qualification x WHERE x.organisation_id = o.id) = 1
  ORDER BY o.id LIMIT 1" | tr '|' ' ')
[[ -n "$QUAL" ]] || fail "no single-site independent fostering provider in Yorkshire in the register"
KEY="$SITE:independent-fostering"
note "subject: organisation $ORG, entry $KEY, district $OUTCODE"

aqpd_env
aqpd_start
PA=$AQPD_PORT PID_A=$AQPD_PID
aqpd_start
PB=$AQPD_PORT PID_B=$AQPD_PID
[[ "$PA" != "$PB" ]] || fail "both instances on port $PA"
SREQ_PORT=$PA search_wait_ready "instance A"
SREQ_PORT=$PB search_wait_ready "instance B"
export CACERT

K_BOARD=$(skey board)
K_LEEDS=$(skey commissioner --commissioner "$LEEDS")
K_PROV=$(skey provider --organisation "$ORG")

NEAR="service_type=independent-fostering&near=$OUTCODE&radius_km=3&limit=100"
DIR="/v1/directory?$NEAR"

# item BODY: sets ITEM to the JSON text of entry $KEY in a search answer ("" if absent).
item() {
  ITEM=
  local rest=${1#*\"id\":\"$KEY\"}
  [[ "$rest" != "$1" ]] || return 0
  ITEM=${rest%%\},\{\"id\":\"*}
}

# change WHAT METHOD PATH KEYVAR BODY STATUS [PATH KEYVAR COND]...: tests/lib/search_oracle.js
# (fresh) makes the change on instance A and polls every PATH (KEYVAR: the variable holding its
# key, "" for none) on both instances until each shows entry $KEY as COND says (present,
# absent, has:TEXT); the delay of each, from the change's response to the first answer showing
# it, must be at most MAX_MS. Sets CHANGE_RESPONSE (the change's answer).
RESULTS=()
change() {
  local what=$1 method=$2 path=$3 keyvar=$4 body=$5 status=$6 polls='[]' port key ms inst
  shift 6
  while (($#)); do
    key=
    [[ -n "$2" ]] && key=${!2}
    for port in "$PA" "$PB"; do
      polls=$(jq -c --argjson port "$port" --arg path "$1" --arg key "$key" --arg cond "$3" \
        '. + [{port: $port, path: $path, key: (if $key == "" then null else $key end), cond: $cond}]' <<<"$polls")
    done
    shift 3
  done
  jq -n --argjson port "$PA" --arg m "$method" --arg path "$path" --arg key "${!keyvar}" \
    --argjson body "$body" --argjson st "$status" --arg entry "$KEY" --argjson polls "$polls" \
    '{change: {port: $port, method: $m, path: $path, key: $key, body: $body, status: $st},
      entry: $entry, polls: $polls, timeout_ms: 10000}' >"$T/fresh.json"
  node "$SEARCH_ORACLE" fresh - "$T/fresh.json" >"$T/fresh.out" 2>"$T/fresh.err" ||
    fail "$what: $(head -c 3000 "$T/fresh.err")"
  CHANGE_RESPONSE=$(jq -c .response "$T/fresh.out")
  assert_eq "$(jq '.polls | length' "$T/fresh.json")" "$(jq '[.delays[] | select(.ms != null)] | length' "$T/fresh.out")" \
    "$what: searches measured"
  while IFS=$'\t' read -r port ms path; do
    inst=A
    [[ "$port" == "$PB" ]] && inst=B
    note "$what: instance $inst shows it in $path after $ms ms"
    RESULTS+=("$what/$inst $ms ms")
    ((ms <= MAX_MS)) || fail "$what: instance $inst showed it in $path after $ms ms, more than $MAX_MS ms"
  done < <(jq -r '.delays[] | [.port, .ms, .path] | @tsv' "$T/fresh.out")
}

# Before: both instances list the entry, without vacancies and without an agreement.
for port in "$PA" "$PB"; do
  SREQ_PORT=$port sreq GET "$DIR" -
  expect_status 200 "GET $DIR on port $port"
  item "$HTTP_BODY"
  [[ -n "$ITEM" ]] || fail "before any change, port $port does not list $KEY: $(printf '%.400s' "$HTTP_BODY")"
  assert_not_contains "$ITEM" '"vacancies"' "entry $KEY on port $port before the vacancy change"
  SREQ_PORT=$port sreq GET "/v1/directory?commissioner=$LEEDS&limit=100" -
  assert_not_contains "$HTTP_BODY" "\"$KEY\"" "commissioner=$LEEDS on port $port before the agreement"
done

# ---- 1. a vacancy ----
change "vacancy set to 3" PUT "/v1/sites/$SITE/vacancies" K_PROV '{"places": 3}' 200 \
  "$DIR" "" 'has:"vacancies":{"places":3,' \
  "$DIR&has_vacancies=true" "" present
assert_eq 3 "$(jq -r .vacancies <<<"$CHANGE_RESPONSE")" "the site after PUT vacancies"
change "vacancy set to 0" PUT "/v1/sites/$SITE/vacancies" K_PROV '{"places": 0}' 200 \
  "$DIR" "" 'has:"vacancies":{"places":0,' \
  "$DIR&has_vacancies=true" "" absent

# ---- 2. an agreement ----
SREQ_PORT=$PA sreq PUT "/v1/commissioners/$LEEDS/offers/independent-fostering" "$K_LEEDS" \
  '{"price_pence": 123400, "price_unit": "week", "specification": "Leeds fostering (freshness test)", "local_requirements": []}'
[[ "$HTTP_STATUS" == 200 || "$HTTP_STATUS" == 201 ]] || fail "Leeds sets its offer: HTTP $HTTP_STATUS $HTTP_BODY"
SREQ_PORT=$PA sreq POST /v1/local-applications "$K_PROV" \
  "{\"qualification_id\": \"$QUAL\", \"commissioner\": \"$LEEDS\", \"answers\": {}}"
expect_status 201 "the provider applies to Leeds"
LOCAL=$(jq -r .id <<<"$HTTP_BODY")
change "agreement made" POST "/v1/local-applications/$LOCAL/decision" K_LEEDS '{"decision": "accept"}' 200 \
  "/v1/directory?commissioner=$LEEDS&limit=100" "" present \
  "/v1/search?$NEAR" K_LEEDS 'has:"agreement":{"status":"active","price_pence":123400,"price_unit":"week"}'
assert_eq active "$(jq -r .agreement.status <<<"$CHANGE_RESPONSE")" "the agreement made by Leeds's acceptance"
# The answer cache keys the framework search by caller: the URI Leeds was just answered (from
# the cache, while polling) shows another council no agreement, and the public none either.
K_BRADFORD=$(skey commissioner --commissioner E08000032)
for port in "$PA" "$PB"; do
  SREQ_PORT=$port sreq GET "/v1/search?$NEAR" "$K_LEEDS"
  item "$HTTP_BODY"
  assert_contains "$ITEM" '"agreement":{"status":"active"' "Leeds's /v1/search on port $port"
  SREQ_PORT=$port sreq GET "/v1/search?$NEAR" "$K_BRADFORD"
  expect_status 200 "Bradford's /v1/search on port $port"
  item "$HTTP_BODY"
  [[ -n "$ITEM" ]] || fail "Bradford's /v1/search on port $port does not list $KEY"
  assert_not_contains "$ITEM" '"agreement"' "Bradford's /v1/search on port $port (Leeds's agreement)"
  assert_not_contains "$ITEM" '123400' "Bradford's /v1/search on port $port (Leeds's price)"
done

# ---- 3. the qualification suspended ----
change "qualification suspended" POST "/v1/qualifications/$QUAL/suspend" K_BOARD \
  '{"reason": "safeguarding concern (freshness test)"}' 200 \
  "$DIR" "" absent \
  "/v1/directory?commissioner=$LEEDS&limit=100" "" absent \
  "/v1/search?$NEAR&status=suspended" K_LEEDS 'has:"agreement":{"status":"suspended"'
SREQ_PORT=$PB sreq GET "/v1/search?$NEAR&status=suspended" "$K_LEEDS"
item "$HTTP_BODY"
assert_contains "$ITEM" '"status":"suspended"' "instance B: the entry's status in /v1/search?status=suspended"

# ---- 4. reinstated ----
change "qualification reinstated" POST "/v1/qualifications/$QUAL/reinstate" K_BOARD \
  '{"reason": "concern resolved (freshness test)"}' 200 \
  "$DIR" "" 'has:"status":"active"' \
  "/v1/search?$NEAR" K_LEEDS 'has:"agreement":{"status":"active"'

note "delays: $(IFS=';'; echo "${RESULTS[*]}")"
# The polls repeat the same searches, so both instances answered many of them from the answer
# cache (search_cache_ms, on by default): the delays above hold with the cache in the way.
for port in "$PA" "$PB"; do
  SREQ_PORT=$port sreq GET /metrics -
  hits=$(metric_value "$HTTP_BODY" aqpd_search_cache_answers_total result=hit)
  misses=$(metric_value "$HTTP_BODY" aqpd_search_cache_answers_total result=miss)
  note "port $port: answer cache hits $hits, misses $misses"
  ((hits > 0)) || fail "port $port answered no search from the answer cache"
  ((misses > 0)) || fail "port $port counted no answer-cache miss"
done
AQPD_PID=$PID_B
aqpd_stop
AQPD_PID=$PID_A
aqpd_stop
note "freshness test took $(($(now_ms) - T0)) ms"
