#!/usr/bin/env bash
# SIGTERM and SIGINT: stop accepting, finish the request in flight, exit 0 promptly even with
# an idle keep-alive connection open; the log says so; the port is closed afterwards.
source "$(dirname "$0")/../lib/common.sh"
t_init
new_database
aqpd_env
export AQPD_SHUTDOWN_GRACE_S=3 AQPD_POOL_SIZE=1

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- SIGTERM with an idle connection and a request waiting on the database ----
aqpd_start
for _ in $(seq 1 50); do
  https GET /readyz
  [[ "$HTTP_STATUS" == 200 ]] && break
  sleep 0.1
done
expect_status 200 "GET /readyz before shutdown"

# An idle TLS connection that never sends a request.
sleep 30 2>/dev/null |
  openssl s_client -connect "127.0.0.1:$AQPD_PORT" -servername localhost -quiet >/dev/null 2>&1 &
idle_pid=$!
on_exit "kill $idle_pid"

# A request in flight: freeze the pool's database backend (SIGSTOP), ask /readyz, then SIGTERM.
backends=$(db_query "SELECT pid FROM pg_stat_activity WHERE datname = '$DB_NAME' AND pid <> pg_backend_pid()")
[[ -n "$backends" ]] || fail "no database backend for aqpd's pool"
on_exit "kill -CONT $(echo $backends)"
kill -STOP $backends
curl -sS -o "$T/inflight.body" -w '%{http_code}' --max-time 20 --cacert "$CACERT" \
  --resolve "localhost:$AQPD_PORT:127.0.0.1" "https://localhost:$AQPD_PORT/readyz" \
  >"$T/inflight.code" 2>"$T/inflight.err" &
curl_pid=$!
# Wait until the query is really in flight: the pool reports a busy connection or a queue.
inflight=0
for _ in $(seq 1 100); do
  https GET /metrics
  busy=$(metric_value "$HTTP_BODY" aqpd_db_connections state=busy)
  queued=$(metric_value "$HTTP_BODY" aqpd_db_queue_length)
  if awk -v b="$busy" -v q="$queued" 'BEGIN { exit !(b + q >= 1) }'; then
    inflight=1
    break
  fi
  sleep 0.05
done
((inflight)) || fail "the /readyz query never showed as busy or queued in /metrics"
aqpd_port=$AQPD_PORT
kill -TERM "$AQPD_PID"
sleep 0.5
# While shutting down, new connections are not accepted.
if port_open "$aqpd_port" && kill -0 "$AQPD_PID" 2>/dev/null; then
  # accept(2) may still complete in the kernel backlog; a TLS handshake must not.
  hs=$(timeout 3 openssl s_client -connect "127.0.0.1:$aqpd_port" -servername localhost </dev/null 2>&1 | sed -n 's/^New, .*Cipher is //p')
  [[ "$hs" == "(NONE)" || -z "$hs" ]] || fail "a new TLS handshake completed after SIGTERM (cipher $hs): still accepting"
fi
kill -CONT $backends
wait "$curl_pid" || true
code=$(cat "$T/inflight.code")
[[ "$code" == 200 || "$code" == 503 ]] ||
  fail "the /readyz request in flight at SIGTERM got '$code' ($(cat "$T/inflight.err")), expected an answer (200, or 503)"
note "in-flight /readyz answered $code"
t0=$EPOCHREALTIME
aqpd_stop_wait() {
  while kill -0 "$AQPD_PID" 2>/dev/null && [[ $(ps -o stat= -p "$AQPD_PID") != Z* ]]; do
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a > 10) }' &&
      fail "aqpd still running 10s after SIGTERM (shutdown_grace_s=3)"
    sleep 0.05
  done
  local rc=0
  wait "$AQPD_PID" || rc=$?
  assert_eq 0 "$rc" "exit status after SIGTERM"
}
aqpd_stop_wait
grep -qi shutdown "$AQPD_LOG" || fail "the log does not mention shutdown: $(tail -n 5 "$AQPD_LOG")"
port_open "$aqpd_port" && fail "port $aqpd_port still accepts connections after aqpd exited"

# ---- SIGINT, idle server ----
aqpd_start
https GET /healthz
expect_status 200 "GET /healthz before SIGINT"
aqpd_stop INT
assert_le "$AQPD_STOP_SECONDS" 5 "seconds to exit after SIGINT with nothing in flight"
port_open "$AQPD_PORT" && fail "port $AQPD_PORT still accepts connections after SIGINT"

# ---- SIGTERM with an idle keep-alive connection only ----
aqpd_start
sleep 30 2>/dev/null |
  openssl s_client -connect "127.0.0.1:$AQPD_PORT" -servername localhost -quiet >/dev/null 2>&1 &
idle2=$!
on_exit "kill $idle2"
sleep 0.3
aqpd_stop TERM
assert_le "$AQPD_STOP_SECONDS" 5 "seconds to exit after SIGTERM with an idle connection (grace 3 s)"
grep -qi shutdown "$AQPD_LOG" || fail "the log does not mention shutdown"
