# shellcheck shell=bash disable=SC2034 # variables set here are read by the tests that source this
# Sourced after tests/lib/common.sh by the pipeline tests (pipeline.sh, access.sh,
# hostile_json.sh): API calls with a key and a JSON body, sign-up, keys, answers built from
# criteria/examples with dates relative to today, row counts, and the sanitizer log check.

OFSTED_CSV=$AQPD_SOURCE_DIR/data/ofsted/Provider_level_at_31_Mar_2025.csv
EXAMPLES=$AQPD_SOURCE_DIR/criteria/examples

# Dates relative to today (UTC), so that the answers stay valid whenever the test runs.
VALID_UNTIL=$(date -u -d '+400 days' +%F)  # insurance comfortably beyond the 30-day minimum
EXPIRED=$(date -u -d '-1 day' +%F)         # an insurance policy that ended yesterday
REVIEWED=$(date -u -d '-30 days' +%F)      # safeguarding policy reviewed within 12 months

# api METHOD PATH KEY [BODY [CONTENT-TYPE]]: one request; KEY "-" sends no Authorization
# header. BODY is sent byte for byte (from a file, so it may hold anything bash can hold but
# NUL: use api_file for that) as application/json unless CONTENT-TYPE says otherwise ("-" for
# no Content-Type header at all). Sets what https sets.
api() {
  local method=$1 path=$2 key=$3
  local args=()
  [[ "$key" != - ]] && args+=(-H "Authorization: Bearer $key")
  if (($# >= 4)); then
    printf '%s' "$4" >"$T/req.body"
    api_file "$method" "$path" "$key" "$T/req.body" "${5:-application/json}"
    return
  fi
  https "$method" "$path" "${args[@]}"
}

# api_file METHOD PATH KEY FILE [CONTENT-TYPE]: as api, the body read from FILE.
api_file() {
  local method=$1 path=$2 key=$3 file=$4 ctype=${5:-application/json}
  local args=(--data-binary "@$file")
  [[ "$key" != - ]] && args+=(-H "Authorization: Bearer $key")
  if [[ "$ctype" == - ]]; then
    args+=(-H "Content-Type:")
  else
    args+=(-H "Content-Type: $ctype")
  fi
  https "$method" "$path" "${args[@]}"
}

# jqb FILTER: applies a jq filter to the last response body (raw output).
jqb() {
  jq -r "$1" <<<"$HTTP_BODY"
}

# new_key ROLE [aqpd key create options]: prints a new key made with the CLI (and checks it).
new_key() {
  local role=$1
  shift
  aqpd_run key create --role "$role" "$@"
  [[ "$RUN_EXIT" == 0 ]] || fail "aqpd key create --role $role: exit $RUN_EXIT: $RUN_ERR"
  [[ "$RUN_OUT" =~ ^aqpd_[A-Za-z0-9_-]{43}$ ]] ||
    fail "aqpd key create --role $role printed '$RUN_OUT', not a key alone"
  printf '%s' "$RUN_OUT"
}

# key_id KEY: the api_key id of a key (the actor "key:ID" in audit events). Only the SHA-256
# of a key is stored, so this also checks that.
key_id() {
  db_query "SELECT id FROM api_key WHERE key_hash = sha256(convert_to('$1', 'UTF8'))"
}

# signup BODY: POST /v1/organisations; expects 201 and sets ORG_ID and ORG_KEY.
signup() {
  api POST /v1/organisations - "$1"
  expect_status 201 "sign-up $(jq -r .name <<<"$1" 2>/dev/null)"
  ORG_ID=$(jqb .organisation.id)
  ORG_KEY=$(jqb .api_key)
  [[ "$ORG_KEY" =~ ^aqpd_[A-Za-z0-9_-]{43}$ ]] || fail "sign-up returned no key: $HTTP_BODY"
}

# answers EXAMPLE [JQ-FILTER]: the answers of criteria/examples/EXAMPLE.json with every
# insurance valid for 400 more days and the safeguarding review 30 days ago, then FILTER.
answers() {
  jq -c --arg until "$VALID_UNTIL" --arg reviewed "$REVIEWED" "
    .answers
    | .insurance[].expires = \$until
    | .safeguarding.policy_reviewed = \$reviewed
    | ${2:-.}" "$EXAMPLES/$1.json" || fail "cannot build answers from $1.json"
}

# counts: one line with the row counts of the tables a request could write to.
counts() {
  db_query "SELECT (SELECT count(*) FROM organisation) || ' organisations, ' ||
    (SELECT count(*) FROM application) || ' applications, ' ||
    (SELECT count(*) FROM audit_event) || ' audit events, ' ||
    (SELECT count(*) FROM api_key) || ' keys, ' ||
    (SELECT count(*) FROM site) || ' sites, ' ||
    (SELECT count(*) FROM qualification) || ' qualifications'"
}

# assert_no_sanitizer_report FILE...: fails if any file holds an AddressSanitizer,
# LeakSanitizer or UndefinedBehaviorSanitizer report (the sanitizer build writes them to
# stderr, which aqpd_start and aqpd_run capture).
assert_no_sanitizer_report() {
  local f
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer' "$f"; then
      fail "sanitizer report in $f: $(grep -E -m 3 -A 12 'ERROR: |runtime error:' "$f")"
    fi
  done
}

# wait_for SECONDS SQL EXPECTED what: polls the test database until SQL returns EXPECTED.
wait_for() {
  local deadline=$((SECONDS + $1)) got
  while :; do
    got=$(db_query "$2")
    [[ "$got" == "$3" ]] && return 0
    ((SECONDS < deadline)) || fail "$4: waited $1 s for '$3', still '$got'"
    sleep 0.2
  done
}

# expect_problem STATUS CODE what: as common.sh's, checked with one jq run instead of eight
# (these tests check hundreds of answers).
expect_problem() {
  expect_status "$1" "$3"
  expect_ctype application/problem+json "$3"
  local got
  got=$(jq -r 'if type == "object" and has("type") and has("title") and has("status")
      and has("detail") and has("code") then "\(.status) \(.code)" else "malformed" end' \
    <<<"$HTTP_BODY" 2>/dev/null) || got="not JSON"
  [[ "$got" == "$1 $2" ]] ||
    fail "$3: expected a problem with status $1 and code $2 (type, title, status, detail, code), got ($got): $(printf '%.400s' "$HTTP_BODY")"
}

# https METHOD PATH [curl args...]: as common.sh's (same variables, same files), with one
# process (curl) per request instead of four: these tests send several hundred.
https() {
  local method=$1 path=$2
  shift 2
  : >"$T/body"
  : >"$T/headers"
  HTTP_CURL_EXIT=0
  curl -sS -o "$T/body" -D "$T/headers" --max-time "${CURL_MAX_TIME:-10}" \
    --cacert "$CACERT" --resolve "localhost:$AQPD_PORT:127.0.0.1" -X "$method" \
    -w '%{http_code} %{time_total} %{content_type}' "$@" \
    "https://localhost:$AQPD_PORT$path" >"$T/curl.out" 2>"$T/curl.err" || HTTP_CURL_EXIT=$?
  HTTP_STATUS="" HTTP_TIME="" HTTP_CTYPE=""
  read -r HTTP_STATUS HTTP_TIME HTTP_CTYPE <"$T/curl.out" || true
  [[ -n "$HTTP_STATUS" ]] || HTTP_STATUS=000
  HTTP_BODY=
  IFS= read -r -d '' HTTP_BODY <"$T/body" || true
}
