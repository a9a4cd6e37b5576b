#!/usr/bin/env bash
# SIGHUP reloads the config file, the environment and the TLS certificate: new handshakes show
# the new certificate. A broken new config (a missing certificate file; a malformed line) is
# refused: the server logs a "reload" line with the reason and goes on with the old one.
source "$(dirname "$0")/../lib/common.sh"
t_init
new_database
aqpd_env
unset AQPD_TLS_CERT AQPD_TLS_KEY

write_conf() { # cert key [extra line]
  {
    echo "tls_cert = $1"
    echo "tls_key = $2"
    [[ -n "${3:-}" ]] && echo "$3"
  } >"$T/aqpd.conf.new"
  mv "$T/aqpd.conf.new" "$T/aqpd.conf"
}

# wait_cert WANT WHAT: polls new handshakes for up to 5 s until they show certificate WANT.
wait_cert() {
  local got
  for _ in $(seq 1 50); do
    got=$(server_cert_id)
    [[ "$got" == "$1" ]] && return 0
    sleep 0.1
  done
  fail "$2: handshakes show '$got', expected '$1'"
}

make_cert "$T/a"
write_conf "$T/a/cert.pem" "$T/a/key.pem"
aqpd_start -c "$T/aqpd.conf"
CACERT=$T/a/cert.pem
id_a=$(server_cert_id)
assert_match "$id_a" 'serial=' "first certificate seen"
assert_eq "$(openssl x509 -in "$T/a/cert.pem" -noout -serial -fingerprint -sha256 | tr '\n' ' ')" \
  "$id_a" "the served certificate is the configured one"

# ---- the same paths, new files: a renewed certificate ----
make_cert "$T/a"
id_b=$(openssl x509 -in "$T/a/cert.pem" -noout -serial -fingerprint -sha256 | tr '\n' ' ')
assert_ne "$id_a" "$id_b" "a renewed certificate differs"
assert_eq "$id_a" "$(server_cert_id)" "before SIGHUP the old certificate is still served"
kill -HUP "$AQPD_PID"
wait_cert "$id_b" "after SIGHUP with a renewed certificate"
CACERT=$T/a/cert.pem
https GET /healthz
expect_status 200 "GET /healthz verified against the renewed certificate"

# ---- new paths in the config file ----
make_cert "$T/c"
id_c=$(openssl x509 -in "$T/c/cert.pem" -noout -serial -fingerprint -sha256 | tr '\n' ' ')
write_conf "$T/c/cert.pem" "$T/c/key.pem"
kill -HUP "$AQPD_PID"
wait_cert "$id_c" "after SIGHUP with tls_cert pointing to another file"
CACERT=$T/c/cert.pem

# ---- broken: the certificate file does not exist ----
lines=$(wc -l <"$AQPD_LOG")
write_conf "$T/missing/cert.pem" "$T/missing/key.pem"
kill -HUP "$AQPD_PID"
for _ in $(seq 1 50); do
  tail -n +"$((lines + 1))" "$AQPD_LOG" | grep -i reload | grep -Eiq 'fail|error|invalid|keep|reject|refus' && break
  sleep 0.1
done
tail -n +"$((lines + 1))" "$AQPD_LOG" | grep -i reload | grep -Eiq 'fail|error|invalid|keep|reject|refus' ||
  fail "no log line about a failed reload after SIGHUP with a missing certificate; new log lines: $(tail -n +"$((lines + 1))" "$AQPD_LOG")"
kill -0 "$AQPD_PID" 2>/dev/null || fail "aqpd died on SIGHUP with a missing certificate"
assert_eq "$id_c" "$(server_cert_id)" "after a failed reload the old certificate is still served"
https GET /healthz
expect_status 200 "GET /healthz after a failed reload (missing certificate)"

# ---- broken: a malformed line ----
lines=$(wc -l <"$AQPD_LOG")
make_cert "$T/d"
write_conf "$T/d/cert.pem" "$T/d/key.pem" "this line is not key-equals-value"
kill -HUP "$AQPD_PID"
for _ in $(seq 1 50); do
  tail -n +"$((lines + 1))" "$AQPD_LOG" | grep -i reload | grep -Eiq 'fail|error|invalid|keep|reject|refus' && break
  sleep 0.1
done
tail -n +"$((lines + 1))" "$AQPD_LOG" | grep -i reload | grep -Eiq 'fail|error|invalid|keep|reject|refus' ||
  fail "no log line about a failed reload after SIGHUP with a malformed config line; new log lines: $(tail -n +"$((lines + 1))" "$AQPD_LOG")"
assert_eq "$id_c" "$(server_cert_id)" "a config with a malformed line is not half-applied (old certificate kept)"
https GET /healthz
expect_status 200 "GET /healthz after a failed reload (malformed line)"

# ---- and a good one again ----
write_conf "$T/d/cert.pem" "$T/d/key.pem"
kill -HUP "$AQPD_PID"
wait_cert "$(openssl x509 -in "$T/d/cert.pem" -noout -serial -fingerprint -sha256 | tr '\n' ' ')" \
  "after SIGHUP with a fixed config"
aqpd_stop TERM
