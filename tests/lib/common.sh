# Sourced by every tests/integration/*.sh. Gives a test: a temporary directory ($T), its own
# database in the fixture cluster, self-signed certificates, the real aqpd started on port 0
# (it writes the port it bound to AQPD_PORT_FILE), an HTTPS client pinned to the test's
# certificate, assertions that say what was expected and what came, and an EXIT trap that kills
# whatever the test started. A failing test keeps $T and prints the aqpd log.
#
# Environment (set by tests/tests.cmake; defaults suit a run by hand from the repository):
#   AQPD_BIN         the aqpd binary               (default: build/aqpd)
#   AQPD_SOURCE_DIR  the repository                (default: two levels above this file)
#   AQPD_TEST_STATE  where the fixture cluster is  (default: build/test-state); the fixture
#                    "pg" (tests/lib/cluster.sh start $AQPD_TEST_STATE/cluster) must be running.

set -euo pipefail

AQPD_SOURCE_DIR=${AQPD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
AQPD_BIN=${AQPD_BIN:-$AQPD_SOURCE_DIR/build/aqpd}
AQPD_TEST_STATE=${AQPD_TEST_STATE:-$AQPD_SOURCE_DIR/build/test-state}
CLUSTER_SH=$AQPD_SOURCE_DIR/tests/lib/cluster.sh
TEST_NAME=$(basename "$0" .sh)

# How long to wait for aqpd to bind or to exit. Sanitizer builds start more slowly.
AQPD_START_TIMEOUT_S=${AQPD_START_TIMEOUT_S:-20}
AQPD_STOP_TIMEOUT_S=${AQPD_STOP_TIMEOUT_S:-20}

# Every configuration key, so that a test starts from a clean environment whatever the shell
# that ran it had exported.
AQPD_CONFIG_KEYS=(database_url listen tls_cert tls_key port_file schema_dir pool_size
  max_connections max_header_bytes max_body_bytes idle_timeout_s request_timeout_ms
  shutdown_grace_s log_level db_queue_max vacancy_max_age_s sweep_interval_s signup_per_hour
  tile_url tile_attribution signing_key search_index)
for _k in "${AQPD_CONFIG_KEYS[@]}"; do
  unset "AQPD_${_k^^}"
done
unset _k

_T_PIDS=()          # aqpd processes this test started (killed at exit)
_T_PRIV_CLUSTERS=() # private clusters this test started (destroyed at exit)
_T_DATABASES=()     # databases this test created in the fixture cluster (dropped at exit)
_T_FAILED=0
_T_ON_EXIT=()       # commands (strings) run first at exit, e.g. to resume stopped processes

# ---- messages and assertions ----

note() { echo "[$TEST_NAME] $*" >&2; }

# Prints the message, the logs of every aqpd this test started, and exits 1.
fail() {
  _T_FAILED=1
  echo "[$TEST_NAME] FAIL: $*" >&2
  local log
  for log in "$T"/aqpd.*.log; do
    [[ -f "$log" ]] || continue
    echo "---- $log (last 40 lines) ----" >&2
    tail -n 40 "$log" >&2
  done
  exit 1
}

assert_eq() { # expected actual what
  [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

assert_ne() { # unexpected actual what
  [[ "$1" != "$2" ]] || fail "$3: expected anything but '$1'"
}

assert_contains() { # haystack needle what
  [[ "$1" == *"$2"* ]] || fail "$3: expected to contain '$2', got: $(printf '%.600s' "$1")"
}

assert_not_contains() { # haystack needle what
  [[ "$1" != *"$2"* ]] || fail "$3: expected not to contain '$2', got: $(printf '%.600s' "$1")"
}

assert_match() { # string ERE what
  [[ "$1" =~ $2 ]] || fail "$3: expected to match /$2/, got: $(printf '%.600s' "$1")"
}

assert_le() { # a b what   (numbers, decimals allowed)
  awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }' || fail "$3: expected $1 <= $2"
}

assert_file_contains() { # file ERE what
  grep -Eq -- "$2" "$1" 2>/dev/null ||
    fail "$3: expected $1 to match /$2/; it has: $(tail -c 1500 "$1" 2>/dev/null || echo '(missing)')"
}

# ---- set-up and clean-up ----

_t_cleanup() {
  local rc=$? pid c db cmd
  for cmd in "${_T_ON_EXIT[@]}"; do
    eval "$cmd" >/dev/null 2>&1 || true
  done
  for pid in "${_T_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  for db in "${_T_DATABASES[@]}"; do
    fixture_psql -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
      true
  done
  for c in "${_T_PRIV_CLUSTERS[@]}"; do
    bash "$CLUSTER_SH" destroy "$c" >/dev/null 2>&1 || true
  done
  if ((rc == 0 && _T_FAILED == 0)); then
    rm -rf "$T"
    echo "[$TEST_NAME] PASS" >&2
  else
    echo "[$TEST_NAME] kept $T for inspection" >&2
  fi
}

# Runs the command string CMD when the test exits, before anything else is cleaned up.
on_exit() {
  _T_ON_EXIT+=("$1")
}

# Call first. Makes $T, checks the binary and the fixture, installs the EXIT trap.
t_init() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/aqpd-$TEST_NAME.XXXXXX")
  trap _t_cleanup EXIT
  [[ -x "$AQPD_BIN" ]] || fail "aqpd binary not found at $AQPD_BIN (build first)"
  local env=$AQPD_TEST_STATE/cluster/env
  [[ -f "$env" ]] || fail "fixture cluster not started: no $env (run via ctest, or: $CLUSTER_SH start $AQPD_TEST_STATE/cluster)"
  # shellcheck disable=SC1090
  source "$env"
  fixture_psql -d postgres -c 'SELECT 1' >/dev/null 2>&1 ||
    fail "the fixture cluster in $AQPD_TEST_STATE/cluster is not running (run via ctest, or: $CLUSTER_SH start $AQPD_TEST_STATE/cluster)"
  command -v jq >/dev/null || fail "jq is missing (scripts/deps.sh installs it)"
}

# psql against the fixture cluster as its superuser; arguments go to psql.
fixture_psql() {
  PGOPTIONS='-c client_min_messages=warning' "$AQPD_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$AQPD_PG_HOST" -p "$AQPD_PG_PORT" \
    -U "$AQPD_PG_USER" "$@"
}

# Creates an empty database of the fixture cluster for this test (suffix optional) and exports
# AQPD_DATABASE_URL for it. Echoes nothing; sets DB_NAME and DB_URL.
new_database() {
  DB_NAME="aqpd_t_${TEST_NAME}${1:+_$1}"
  fixture_psql -d postgres -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null ||
    fail "cannot drop database $DB_NAME"
  fixture_psql -d postgres -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null ||
    fail "cannot create database $DB_NAME"
  _T_DATABASES+=("$DB_NAME")
  DB_URL="postgresql:///$DB_NAME?host=$AQPD_PG_HOST&port=$AQPD_PG_PORT&user=$AQPD_PG_USER"
  export AQPD_DATABASE_URL=$DB_URL
  [[ -n "${NO_MIGRATE:-}" ]] || migrate_db "$DB_URL"
}

# migrate_db URL: brings a database to the current schema (aqpd serve needs it: its prepared
# statements name the tables).
migrate_db() {
  local out
  out=$(AQPD_DATABASE_URL=$1 "$AQPD_BIN" migrate 2>&1) || fail "aqpd migrate failed on $1: $out"
}

# directory_database [SUFFIX] [seed]: new_database with the councils and postcode districts
# imported, and with "seed" the small directory of tests/lib/publication_seed.sql (providers,
# sites including a children's home, qualifications, offers, agreements) that the publication
# tests publish.
directory_database() {
  new_database "${1:-}"
  aqpd_run import commissioners "$AQPD_SOURCE_DIR/data"
  assert_eq 0 "$RUN_EXIT" "import commissioners: $RUN_ERR"
  aqpd_run import postcodes
  assert_eq 0 "$RUN_EXIT" "import postcodes: $RUN_ERR"
  if [[ "${2:-}" == seed ]]; then
    fixture_psql -d "$DB_NAME" -f "$AQPD_SOURCE_DIR/tests/lib/publication_seed.sql" >/dev/null ||
      fail "seeding the directory"
  fi
}

# psql against this test's database ($DB_NAME), tuples only, unaligned.
db_query() {
  fixture_psql -d "$DB_NAME" -At -c "$1"
}

# Starts a private cluster in $T/NAME that this test may stop and start (the fixture's must
# not be). Sets PRIV_DIR, PRIV_URL (database "aqpd"), PRIV_PG_CTL (a command prefix that runs
# pg_ctl on it as its owner: "$PRIV_PG_CTL" stop -m fast).
priv_cluster_start() {
  PRIV_DIR=$T/${1:-pg}
  AQPD_PG_FAST=1 bash "$CLUSTER_SH" start "$PRIV_DIR" >&2 || fail "cannot start a private cluster"
  _T_PRIV_CLUSTERS+=("$PRIV_DIR")
  PRIV_URL=$(
    # shellcheck disable=SC1091
    source "$PRIV_DIR/env"
    echo "$AQPD_TEST_DATABASE_URL"
  )
  migrate_db "$PRIV_URL"
}

# Runs pg_ctl ARGS... on the private cluster, as its owner, with -D set (and, for start, -l
# with the cluster's own log, which its owner can write).
priv_pg_ctl() {
  (
    # shellcheck disable=SC1091
    source "$PRIV_DIR/env"
    local args=(-D "$AQPD_PG_DATA")
    [[ "${1:-}" == start ]] && args+=(-l "$AQPD_PG_LOG")
    if [[ $(id -u) -eq 0 ]]; then
      runuser -u postgres -- "$AQPD_PG_BINDIR/pg_ctl" "${args[@]}" "$@"
    else
      "$AQPD_PG_BINDIR/pg_ctl" "${args[@]}" "$@"
    fi
  )
}

# Makes a self-signed certificate for localhost / 127.0.0.1 in DIR: DIR/cert.pem, DIR/key.pem.
# Each call makes a new key and a new random serial.
make_cert() {
  local dir=$1
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$dir/key.pem.new" -out "$dir/cert.pem.new" >/dev/null 2>&1 ||
    fail "openssl req failed"
  mv "$dir/key.pem.new" "$dir/key.pem"
  mv "$dir/cert.pem.new" "$dir/cert.pem"
}

# ---- aqpd ----

# Sets the environment for `aqpd serve` with this test's defaults: listen on 127.0.0.1:0, a port
# file, a fresh certificate in $T/tls, the test's database (new_database first). Tests override
# afterwards by exporting AQPD_* themselves.
aqpd_env() {
  [[ -f "$T/tls/cert.pem" ]] || make_cert "$T/tls"
  export AQPD_LISTEN=127.0.0.1:0
  export AQPD_TLS_CERT=$T/tls/cert.pem
  export AQPD_TLS_KEY=$T/tls/key.pem
  export AQPD_LOG_LEVEL=${AQPD_LOG_LEVEL:-info}
  CACERT=$T/tls/cert.pem
}

_T_N=0

# Starts `aqpd serve ARGS...` in the background and waits until it has written its port file
# ($T/port.N, passed as AQPD_PORT_FILE; or $WAIT_PORT_FILE if set, which the test arranges).
# Sets AQPD_PID, AQPD_PORT, AQPD_LOG (its stdout+stderr). Fails with the log if aqpd exits or
# does not bind within AQPD_START_TIMEOUT_S.
aqpd_start() {
  _T_N=$((_T_N + 1))
  AQPD_LOG=$T/aqpd.$_T_N.log
  local portfile
  if [[ -n "${WAIT_PORT_FILE:-}" ]]; then
    # The test configures port_file itself (config file or environment).
    portfile=$WAIT_PORT_FILE
    rm -f "$portfile"
    "$AQPD_BIN" serve "$@" >"$AQPD_LOG" 2>&1 &
  else
    portfile=$T/port.$_T_N
    rm -f "$portfile"
    AQPD_PORT_FILE=$portfile "$AQPD_BIN" serve "$@" >"$AQPD_LOG" 2>&1 &
  fi
  AQPD_PID=$!
  _T_PIDS+=("$AQPD_PID")
  local deadline=$((SECONDS + AQPD_START_TIMEOUT_S))
  AQPD_PORT=
  while ((SECONDS < deadline)); do
    if [[ -s "$portfile" ]] && [[ $(tail -c 1 "$portfile" | od -An -c | tr -d ' ') == '\n' ]]; then
      AQPD_PORT=$(head -n 1 "$portfile")
      break
    fi
    if ! kill -0 "$AQPD_PID" 2>/dev/null; then
      local rc=0
      wait "$AQPD_PID" || rc=$?
      fail "aqpd serve exited with status $rc before writing its port file"
    fi
    sleep 0.05
  done
  [[ -n "$AQPD_PORT" ]] || fail "aqpd did not write its port file $portfile in ${AQPD_START_TIMEOUT_S}s"
  [[ "$AQPD_PORT" =~ ^[0-9]+$ ]] && ((AQPD_PORT > 0 && AQPD_PORT < 65536)) ||
    fail "port file $portfile holds '$AQPD_PORT', not a port number"
  note "aqpd pid $AQPD_PID listening on 127.0.0.1:$AQPD_PORT"
}

# Sends SIGNAL (default TERM) to the aqpd started last and waits for it to exit. Sets
# AQPD_EXIT (its exit status; 128+N if killed by signal N) and AQPD_STOP_SECONDS. Fails if it
# has not exited within AQPD_STOP_TIMEOUT_S, or, unless the second argument is "any", if its
# exit status is not 0 (a sanitizer report makes it non-zero).
aqpd_stop() {
  local sig=${1:-TERM} want=${2:-0}
  kill -0 "$AQPD_PID" 2>/dev/null || fail "aqpd (pid $AQPD_PID) is not running before SIG$sig"
  local t0=$EPOCHREALTIME
  kill -"$sig" "$AQPD_PID"
  local deadline=$((SECONDS + AQPD_STOP_TIMEOUT_S))
  while kill -0 "$AQPD_PID" 2>/dev/null && ((SECONDS < deadline)); do
    # A zombie counts as exited: only wait reaps it.
    [[ $(ps -o stat= -p "$AQPD_PID" 2>/dev/null) == Z* ]] && break
    sleep 0.05
  done
  if kill -0 "$AQPD_PID" 2>/dev/null && [[ $(ps -o stat= -p "$AQPD_PID" 2>/dev/null) != Z* ]]; then
    fail "aqpd did not exit within ${AQPD_STOP_TIMEOUT_S}s of SIG$sig"
  fi
  AQPD_EXIT=0
  wait "$AQPD_PID" || AQPD_EXIT=$?
  AQPD_STOP_SECONDS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  if [[ "$want" != any && "$AQPD_EXIT" != "$want" ]]; then
    fail "aqpd exited with status $AQPD_EXIT after SIG$sig, expected $want"
  fi
}

# Runs `aqpd ARGS...` to completion (timeout 60 s); sets RUN_EXIT, RUN_OUT, RUN_ERR.
aqpd_run() {
  RUN_EXIT=0
  timeout 60 "$AQPD_BIN" "$@" >"$T/run.out" 2>"$T/run.err" || RUN_EXIT=$?
  RUN_OUT=$(cat "$T/run.out")
  RUN_ERR=$(cat "$T/run.err")
}

# ---- HTTPS client ----

# https METHOD PATH [curl args...]: one request to the aqpd started last, verifying its
# certificate against $CACERT. Sets HTTP_STATUS ("000" if no response), HTTP_BODY,
# HTTP_CTYPE, HTTP_TIME (seconds) and keeps the headers in $T/headers. Never fails by itself.
https() {
  local method=$1 path=$2
  shift 2
  local out rc=0
  rm -f "$T/body" "$T/headers"
  out=$(curl -sS -o "$T/body" -D "$T/headers" --max-time "${CURL_MAX_TIME:-10}" \
    --cacert "$CACERT" --resolve "localhost:$AQPD_PORT:127.0.0.1" -X "$method" \
    -w '%{http_code} %{time_total} %{content_type}' "$@" \
    "https://localhost:$AQPD_PORT$path" 2>"$T/curl.err") || rc=$?
  HTTP_STATUS=${out%% *}
  out=${out#* }
  HTTP_TIME=${out%% *}
  HTTP_CTYPE=${out#* }
  [[ -n "$HTTP_STATUS" ]] || HTTP_STATUS=000
  HTTP_BODY=$(cat "$T/body" 2>/dev/null || true)
  HTTP_CURL_EXIT=$rc
}

# The value of response header NAME from the last https call (case-insensitive). A header sent
# more than once reads as a client combines it (RFC 9110 5.3): the values joined by ", ", so a
# duplicate shows ("*, *" is not "*", and a browser refuses it as CORS).
header() {
  awk -v want="$(echo "$1" | tr '[:upper:]' '[:lower:]')" -F': *' '
    /^HTTP\// { n = 0; v = "" } # the last response only (after a 100 Continue)
    { name = tolower($1); sub(/\r$/, "") }
    name == want { sub(/^[^:]*: */, ""); v = (n++ ? v ", " : "") $0 }
    END { if (n) print v }' "$T/headers" 2>/dev/null || true
}

# Asserts the last response: status, content type (prefix match), and for problem+json the
# RFC 9457 members and the "code".
expect_status() { # status what
  [[ "$HTTP_STATUS" == "$1" ]] ||
    fail "$2: expected HTTP $1, got $HTTP_STATUS (curl exit $HTTP_CURL_EXIT: $(cat "$T/curl.err" 2>/dev/null)) body: $(printf '%.400s' "$HTTP_BODY")"
}

expect_ctype() { # media-type what
  [[ "$HTTP_CTYPE" == "$1"* ]] || fail "$2: expected Content-Type $1, got '$HTTP_CTYPE'"
}

expect_problem() { # status code what
  expect_status "$1" "$3"
  expect_ctype application/problem+json "$3"
  jq -e . >/dev/null 2>&1 <<<"$HTTP_BODY" || fail "$3: body is not JSON: $HTTP_BODY"
  local m
  for m in type title status detail code; do
    jq -e --arg m "$m" 'has($m)' >/dev/null <<<"$HTTP_BODY" ||
      fail "$3: problem+json lacks member '$m': $HTTP_BODY"
  done
  assert_eq "$1" "$(jq -r .status <<<"$HTTP_BODY")" "$3: problem status member"
  assert_eq "$2" "$(jq -r .code <<<"$HTTP_BODY")" "$3: problem code"
}

# The server certificate's "serial=..." and SHA-256 fingerprint seen by a new TLS handshake.
server_cert_id() {
  openssl s_client -connect "127.0.0.1:$AQPD_PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -serial -fingerprint -sha256 2>/dev/null | tr '\n' ' '
}

# Prints the value of the Prometheus sample whose line starts with NAME{ and contains every
# given label="value" pair (any order); 0 if there is none. Reads $1 (the metrics text).
metric_value() { # text name label=value...
  local text=$1 name=$2
  shift 2
  awk -v name="$name" -v labels="$*" '
    BEGIN { n = split(labels, want, " ") }
    index($0, name "{") == 1 || (n == 0 && $1 == name) {
      ok = 1
      for (i = 1; i <= n; i++) {
        split(want[i], kv, "=")
        if (index($0, kv[1] "=\"" kv[2] "\"") == 0) ok = 0
      }
      if (ok) { print $NF; found = 1; exit }
    }
    END { if (!found) print 0 }' <<<"$text"
}
