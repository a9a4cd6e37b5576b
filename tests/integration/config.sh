#!/usr/bin/env bash
# Configuration: CLI usage and exit codes, bad values rejected with exit 2 before listening and
# a message naming the key, values from a config file used, AQPD_* environment over the file.
source "$(dirname "$0")/../lib/common.sh"
t_init
new_database
aqpd_env

# ---- usage ----
aqpd_run --help
assert_eq 0 "$RUN_EXIT" "aqpd --help exit status"
assert_contains "$RUN_OUT$RUN_ERR" serve "aqpd --help output"
assert_contains "$RUN_OUT$RUN_ERR" migrate "aqpd --help output"

aqpd_run serve --help
assert_eq 0 "$RUN_EXIT" "aqpd serve --help exit status"
aqpd_run migrate --help
assert_eq 0 "$RUN_EXIT" "aqpd migrate --help exit status"

aqpd_run no-such-command
assert_eq 2 "$RUN_EXIT" "aqpd no-such-command exit status"
aqpd_run
assert_eq 2 "$RUN_EXIT" "aqpd without a command: exit status"

# ---- bad values: exit 2, the key named on stderr, nothing bound ----
# serve_rejects KEY VALUE: AQPD_<KEY>=VALUE makes serve exit 2 naming KEY, without a port file.
serve_rejects() {
  local key=$1 value=$2 var="AQPD_${1^^}" pf=$T/port.rejected
  rm -f "$pf"
  aqpd_run_env "$var" "$value" env AQPD_PORT_FILE="$pf" "$AQPD_BIN" serve
  assert_eq 2 "$RUN_EXIT" "serve with $key='$value': exit status (stderr: $RUN_ERR)"
  assert_contains "$RUN_ERR" "$key" "serve with $key='$value': stderr names the key"
  [[ ! -e "$pf" ]] || fail "serve with $key='$value' wrote a port file: it listened"
}
# aqpd_run_env VAR VALUE CMD...: runs CMD with VAR=VALUE (VALUE "-" means unset), timeout 15 s.
aqpd_run_env() {
  local var=$1 value=$2
  shift 2
  RUN_EXIT=0
  if [[ "$value" == - ]]; then
    (unset "$var"; exec timeout 15 "$@") >"$T/run.out" 2>"$T/run.err" || RUN_EXIT=$?
  else
    (export "$var=$value"; exec timeout 15 "$@") >"$T/run.out" 2>"$T/run.err" || RUN_EXIT=$?
  fi
  RUN_OUT=$(cat "$T/run.out")
  RUN_ERR=$(cat "$T/run.err")
}

serve_rejects listen "not-an-address"
serve_rejects listen "127.0.0.1:99999"
serve_rejects listen "127.0.0.1:"
serve_rejects tls_cert -
serve_rejects tls_cert "$T/no-such-cert.pem"
serve_rejects tls_key -
serve_rejects tls_key "$T/no-such-key.pem"
serve_rejects pool_size "many"
serve_rejects pool_size "0"
serve_rejects max_body_bytes "-5"
serve_rejects log_level "loud"
serve_rejects request_timeout_ms "soon"
for v in yes 1 TRUE ""; do
  serve_rejects search_index "$v"
  assert_contains "$RUN_ERR" "search_index: \"$v\" is not true or false" "search_index='$v': the message"
done

# A certificate file that is not PEM is a configuration error too.
echo "not a certificate" >"$T/garbage.pem"
serve_rejects tls_cert "$T/garbage.pem"

# A config file that does not exist, or has a line that is not `key = value`.
aqpd_run serve -c "$T/no-such.conf"
assert_eq 2 "$RUN_EXIT" "serve -c missing file: exit status (stderr: $RUN_ERR)"
printf 'listen 127.0.0.1:0\n' >"$T/bad-syntax.conf"
aqpd_run serve -c "$T/bad-syntax.conf"
assert_eq 2 "$RUN_EXIT" "serve -c file with a line without '=': exit status (stderr: $RUN_ERR)"

# ---- values from a config file ----
unset AQPD_LISTEN AQPD_TLS_CERT AQPD_TLS_KEY AQPD_DATABASE_URL AQPD_LOG_LEVEL
cat >"$T/aqpd.conf" <<CONF
# a comment line, then a blank one

database_url = $DB_URL
listen = 127.0.0.1:0
tls_cert = $T/tls/cert.pem
tls_key = $T/tls/key.pem
   # an indented comment
port_file = $T/port.from-file
log_level = debug
max_body_bytes = 2000
CONF
WAIT_PORT_FILE=$T/port.from-file aqpd_start -c "$T/aqpd.conf"
https GET /healthz
expect_status 200 "healthz with every setting from the config file"
# max_body_bytes = 2000 from the file: a 4000-byte body is too large.
head -c 4000 /dev/zero | tr '\0' a >"$T/body4000"
https POST /healthz -H 'Expect:' --data-binary @"$T/body4000"
expect_status 413 "max_body_bytes = 2000 from the config file, 4000-byte body"
aqpd_stop TERM
grep -q '"debug"' "$AQPD_LOG" ||
  note "(no line with level \"debug\" logged; log_level = debug could not be checked)"

# ---- the environment overrides the file ----
export AQPD_PORT_FILE=$T/port.from-env
export AQPD_MAX_BODY_BYTES=8000
rm -f "$T/port.from-file"
WAIT_PORT_FILE=$T/port.from-env aqpd_start -c "$T/aqpd.conf"
[[ ! -e "$T/port.from-file" ]] || fail "port_file from the file was written although AQPD_PORT_FILE overrides it"
https POST /healthz -H 'Expect:' --data-binary @"$T/body4000"
expect_status 405 "AQPD_MAX_BODY_BYTES=8000 overrides max_body_bytes = 2000, 4000-byte POST /healthz"
aqpd_stop TERM
unset AQPD_PORT_FILE AQPD_MAX_BODY_BYTES

# An environment value that is bad is reported as such even if the file's is good.
(export AQPD_LISTEN=bogus; aqpd_run serve -c "$T/aqpd.conf"; echo "$RUN_EXIT" >"$T/rc"; echo "$RUN_ERR" >"$T/err")
assert_eq 2 "$(cat "$T/rc")" "AQPD_LISTEN=bogus over a good file: exit status"
assert_contains "$(cat "$T/err")" listen "AQPD_LISTEN=bogus over a good file: stderr names the key"

# ---- deploy/aqpd.conf.example is a valid configuration ----
# Only database_url and the certificate paths are replaced; an unreachable database makes
# migrate fail at run time (1), not on the configuration (2).
(
  export AQPD_DATABASE_URL="postgresql:///nowhere?host=$T/no-socket-here&port=1"
  aqpd_run migrate -c "$AQPD_SOURCE_DIR/deploy/aqpd.conf.example"
  echo "$RUN_EXIT" >"$T/rc"
  echo "$RUN_ERR" >"$T/err"
)
assert_eq 1 "$(cat "$T/rc")" "aqpd migrate -c deploy/aqpd.conf.example with an unreachable database: exit status (stderr: $(cat "$T/err"))"
