# Sourced after tests/lib/common.sh by tests/integration/commissioning.sh: requests with a key
# and a JSON body, keys from the CLI, a provider that signs up and qualifies nationally from
# criteria/examples (dates relative to today), batches of refused requests checked for their
# problem and for storing nothing, the changes feed walked to its end, and a psql session kept
# open for row counts.
#
# Everything here avoids starting processes it does not need (a loaded machine takes tens of
# milliseconds per process): one curl per request, bodies read with $(<file), problem bodies
# matched in bash, refused requests sent in batches over one connection by one curl, and SQL
# through one psql coprocess.

# shellcheck disable=SC2034 # the variables set here are read by the test that sources this file
CM_EXAMPLES=$AQPD_SOURCE_DIR/criteria/examples
CM_OFSTED_CSV=$AQPD_SOURCE_DIR/data/ofsted/Provider_level_at_31_Mar_2025.csv

# Dates relative to today (UTC), so that the national answers stay valid whenever this runs.
CM_VALID_UNTIL=$(date -u -d '+400 days' +%F)
CM_REVIEWED=$(date -u -d '-30 days' +%F)

# ---- requests ----

# req METHOD PATH KEY [BODY]: one request to the aqpd started last (as https in common.sh, with
# one process); KEY "-" sends no Authorization header; BODY is sent as application/json. Sets
# HTTP_STATUS ("000" if no response), HTTP_BODY, HTTP_CTYPE, HTTP_CURL_EXIT; the headers are in
# $T/headers.
req() {
  local method=$1 path=$2 key=$3 w
  local args=(-sS -o "$T/body" -D "$T/headers" --max-time "${CURL_MAX_TIME:-10}" --cacert "$CACERT"
    --resolve "localhost:$AQPD_PORT:127.0.0.1" -X "$method" -w '%{http_code} %{content_type}')
  [[ "$key" != - ]] && args+=(-H "Authorization: Bearer $key")
  if (($# >= 4)); then
    printf '%s' "$4" >"$T/req.body"
    args+=(--data-binary "@$T/req.body" -H 'Content-Type: application/json')
  fi
  : >"$T/body"
  HTTP_CURL_EXIT=0
  curl "${args[@]}" "https://localhost:$AQPD_PORT$path" >"$T/req.w" 2>"$T/curl.err" || HTTP_CURL_EXIT=$?
  w=$(<"$T/req.w")
  HTTP_STATUS=${w%% *}
  HTTP_CTYPE=${w#* }
  [[ "$HTTP_STATUS" =~ ^[0-9]{3}$ && "$HTTP_STATUS" != 000 ]] || HTTP_STATUS=000
  HTTP_BODY=$(<"$T/body")
}

# jb FILTER [jq options]: jq -r FILTER on the last response body.
jb() {
  jq -r "${@:2}" "$1" <<<"$HTTP_BODY"
}

# cm_problem STATUS CODE what: the last response is an RFC 9457 problem with STATUS and CODE
# (matched in bash: the members type, title, detail as strings, status, code).
cm_problem() {
  expect_status "$1" "$3"
  expect_ctype application/problem+json "$3"
  local m re s='[[:space:]]*'
  [[ "$HTTP_BODY" =~ ^$s\{.*\}$s$ ]] || fail "$3: the problem is not a JSON object: $HTTP_BODY"
  for m in type title detail; do
    re="\"$m\"$s:$s\""
    [[ "$HTTP_BODY" =~ $re ]] || fail "$3: the problem has no string member '$m': $HTTP_BODY"
  done
  re="\"status\"$s:$s$1[,}[:space:]]"
  [[ "$HTTP_BODY" =~ $re ]] || fail "$3: the problem's status member is not $1: $HTTP_BODY"
  re="\"code\"$s:$s\"$2\""
  [[ "$HTTP_BODY" =~ $re ]] || fail "$3: expected problem code '$2': $HTTP_BODY"
}

# cm_key ROLE [options]: prints a new API key made with `aqpd key create`.
cm_key() {
  local role=$1
  shift
  aqpd_run key create --role "$role" "$@"
  [[ "$RUN_EXIT" == 0 ]] || fail "aqpd key create --role $role $*: exit $RUN_EXIT: $RUN_ERR"
  [[ "$RUN_OUT" =~ ^aqpd_[A-Za-z0-9_-]{43}$ ]] || fail "aqpd key create printed '$RUN_OUT'"
  printf '%s' "$RUN_OUT"
}

# ---- SQL ----

# cm_sql_start: one psql session on this test's database ($DB_NAME; after new_database) that
# cm_sql talks to. Stopped at exit.
cm_sql_start() {
  coproc CM_PSQL { set +x; fixture_psql -d "$DB_NAME" -At 2>&1; }
  # The coprocess's own descriptors are not inherited by $(...) subshells; copies are.
  exec {CM_SQL_W}>&"${CM_PSQL[1]}" {CM_SQL_R}<&"${CM_PSQL[0]}"
  on_exit "kill $CM_PSQL_PID"
}

# cm_sql SQL: as db_query (tuples only, unaligned), through the cm_sql_start session; the
# result also in CM_SQL_OUT. On an error psql stops (ON_ERROR_STOP): the test fails.
cm_sql() {
  cm_sql_v "$1"
  printf '%s' "$CM_SQL_OUT"
}

# cm_sql_v SQL: as cm_sql, the result only in CM_SQL_OUT (no subshell needed).
cm_sql_v() {
  printf '%s\n;\n\\echo __cm_sql_end__\n' "$1" 1>&"$CM_SQL_W" 2>/dev/null ||
    fail "psql session gone before: $1"
  local line out=
  while :; do
    IFS= read -r line <&"$CM_SQL_R" || fail "psql stopped on: $1: $out"
    [[ "$line" == __cm_sql_end__ ]] && break
    out+=$line$'\n'
  done
  CM_SQL_OUT=${out%$'\n'}
}

# cm_counts: sets CM_COUNTS to the row counts of every table a commissioning request writes to.
cm_counts() {
  cm_sql_v "SELECT 'offer=' || (SELECT count(*) FROM offer) ||
    ' offer_price=' || (SELECT count(*) FROM offer_price) ||
    ' local_application=' || (SELECT count(*) FROM local_application) ||
    ' agreement=' || (SELECT count(*) FROM agreement) ||
    ' agreement_review=' || (SELECT count(*) FROM agreement_review) ||
    ' audit_event=' || (SELECT count(*) FROM audit_event)"
  CM_COUNTS=$CM_SQL_OUT
}

# ---- national qualification ----

# cm_national_answers URN: the answers of criteria/examples/childrens-home.json with the
# insurance valid for 400 more days, the safeguarding policy reviewed 30 days ago and URN.
cm_national_answers() {
  jq -c --arg until "$CM_VALID_UNTIL" --arg reviewed "$CM_REVIEWED" --arg urn "$1" '
    .answers
    | .insurance[].expires = $until
    | .safeguarding.policy_reviewed = $reviewed
    | .ofsted_urn = $urn' "$CM_EXAMPLES/childrens-home.json" ||
    fail "cannot build answers from childrens-home.json"
}

# cm_qualify ORG-JSON URN: signs the organisation up, applies for childrens-home with answers
# that pass criteria v1 and submits; expects it to qualify. Sets CM_ORG, CM_KEY, CM_QUAL (the
# qualification id).
cm_qualify() {
  local org=$1 urn=$2 app
  req POST /v1/organisations - "$org"
  expect_status 201 "sign-up of $org"
  read -r CM_ORG CM_KEY < <(jb '"\(.organisation.id) \(.api_key)"')
  [[ "$CM_KEY" =~ ^aqpd_ ]] || fail "sign-up returned no key: $HTTP_BODY"
  req POST /v1/applications "$CM_KEY" \
    "{\"service_type\": \"childrens-home\", \"answers\": $(cm_national_answers "$urn")}"
  expect_status 201 "national application of $CM_ORG"
  app=$(jb .id)
  req POST "/v1/applications/$app/submit" "$CM_KEY"
  expect_status 200 "submit the national application of $CM_ORG"
  local st
  read -r st CM_QUAL < <(jb '"\(.status) \(.qualification.id)"')
  assert_eq qualified "$st" "organisation $CM_ORG: status after submit ($(printf '%.600s' "$HTTP_BODY"))"
  [[ "$CM_QUAL" =~ ^[0-9a-f-]{36}$ ]] || fail "no qualification id after submit: $HTTP_BODY"
}

# ---- batches of refused requests ----

CM_Q_N=0

# refuse STATUS CODE what METHOD PATH KEY [BODY]: queues a request that must be refused with
# the problem STATUS/CODE (KEY "-": none; no BODY: none). cm_refusals sends the queue.
refuse() {
  local i=$CM_Q_N
  CM_Q_STATUS[i]=$1 CM_Q_CODE[i]=$2 CM_Q_WHAT[i]=$3 CM_Q_METHOD[i]=$4 CM_Q_PATH[i]=$5 CM_Q_KEY[i]=$6
  if (($# >= 7)); then
    printf '%s' "$7" >"$T/q.$i.req"
  else
    rm -f "$T/q.$i.req"
  fi
  CM_Q_N=$((i + 1))
}

# cm_refusals what: sends the queued requests in order on one connection (one curl), checks
# that each was answered with its problem (one jq over every body: each is a JSON object with
# type, title, status, detail and code), and that together they stored nothing: the row counts
# of offer, offer_price, local_application, agreement, agreement_review and audit_event are
# the same after as before (no request of this API deletes a row, so no refused request in the
# batch can have added one).
cm_refusals() {
  local what=$1 n=$CM_Q_N i before args=() files=() w got
  ((n > 0)) || fail "cm_refusals $what: nothing queued"
  cm_counts
  before=$CM_COUNTS
  for ((i = 0; i < n; i++)); do
    ((i > 0)) && args+=(--next)
    args+=(-sS -o "$T/q.$i.body" -w '%{http_code} %{content_type}\n' --max-time 10 --cacert "$CACERT"
      --resolve "localhost:$AQPD_PORT:127.0.0.1" -X "${CM_Q_METHOD[i]}")
    [[ "${CM_Q_KEY[i]}" != - ]] && args+=(-H "Authorization: Bearer ${CM_Q_KEY[i]}")
    [[ -f "$T/q.$i.req" ]] && args+=(--data-binary "@$T/q.$i.req" -H 'Content-Type: application/json')
    args+=("https://localhost:$AQPD_PORT${CM_Q_PATH[i]}")
    files+=("$T/q.$i.body")
    : >"$T/q.$i.body"
  done
  curl "${args[@]}" >"$T/q.w" 2>"$T/curl.err" || fail "$what: curl failed: $(<"$T/curl.err")"
  mapfile -t w <"$T/q.w"
  for ((i = 0; i < n; i++)); do
    [[ "${w[i]:-}" == "${CM_Q_STATUS[i]} application/problem+json"* ]] ||
      fail "${CM_Q_WHAT[i]}: expected HTTP ${CM_Q_STATUS[i]} application/problem+json, got '${w[i]:-nothing}': $(<"${files[i]}")"
  done
  jq -r 'if type == "object" then . as $o | [(["type", "title", "status", "detail", "code"]
      | map(select(. as $m | $o | has($m) | not)) | join(",")), (.status | tostring), (.code | tostring)]
      | join(" ") else "not-an-object" end' "${files[@]}" >"$T/q.jq" 2>"$T/q.jqerr" ||
    fail "$what: a problem body is not JSON: $(<"$T/q.jqerr")"
  mapfile -t got <"$T/q.jq"
  for ((i = 0; i < n; i++)); do
    assert_eq " ${CM_Q_STATUS[i]} ${CM_Q_CODE[i]}" "${got[i]:-}" \
      "${CM_Q_WHAT[i]}: problem (missing members, status, code) in $(<"${files[i]}")"
  done
  cm_counts
  assert_eq "$before" "$CM_COUNTS" "$what: rows stored by $n refused requests"
  CM_Q_N=0
}

# ---- the changes feed ----

# cm_feed KEY [SINCE [LIMIT]]: walks GET /v1/changes from SINCE to the end, LIMIT per page, and
# checks each page: no more than LIMIT items, next_cursor set, and moved on when has_more. Writes
# every item, in the order received, as one JSON array to $T/feed.json; sets FEED_CURSOR (the
# last next_cursor) and FEED_PAGES.
cm_feed() {
  local key=$1 since=${2:-} limit=${3:-100} q pages=0 has prev files=()
  local s='[[:space:]]*'
  local re_c="\"next_cursor\"$s:$s\"([0-9]+)\"" re_h="\"has_more\"$s:$s(true|false)"
  while :; do
    q="limit=$limit"
    [[ -n "$since" ]] && q+="&since=$since"
    req GET "/v1/changes?$q" "$key"
    expect_status 200 "GET /v1/changes?$q"
    pages=$((pages + 1))
    ((pages <= 500)) || fail "the changes feed did not end after 500 pages"
    printf '%s' "$HTTP_BODY" >"$T/feed.$pages"
    files+=("$T/feed.$pages")
    [[ "$HTTP_BODY" =~ $re_c ]] || fail "GET /v1/changes?$q: no next_cursor: $HTTP_BODY"
    prev=$since
    since=${BASH_REMATCH[1]}
    [[ "$HTTP_BODY" =~ $re_h ]] || fail "GET /v1/changes?$q: no has_more: $HTTP_BODY"
    has=${BASH_REMATCH[1]}
    [[ "$has" == true ]] || break
    [[ "$since" != "$prev" ]] || fail "GET /v1/changes?$q: has_more but next_cursor did not move"
  done
  jq -c -s --argjson limit "$limit" '
    if any(.[]; (.items | length) > $limit) then error("a page has more than \($limit) items")
    else [.[].items[]] end' "${files[@]}" >"$T/feed.json" 2>"$T/feed.err" ||
    fail "changes feed pages: $(<"$T/feed.err")"
  FEED_CURSOR=$since
  FEED_PAGES=$pages
}

# feedq FILTER [jq options]: jq -r FILTER on $T/feed.json (the items of the last cm_feed).
# FILTER may use `kinds`: the items as sorted "type council" pairs joined by "|" (council "-"
# if none), and `ids(TYPE)`: the sorted subject ids of the items of TYPE, joined by ",".
feedq() {
  jq -r "${@:2}" 'def kinds: [.[] | "\(.type) \(.commissioner_code // "-")"] | sort | join("|");
    def ids(t): [.[] | select(.type == t) | .subject_id] | sort | join(",");
    '"$1" "$T/feed.json"
}
