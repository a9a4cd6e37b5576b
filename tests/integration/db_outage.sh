#!/usr/bin/env bash
# Database outage on a private cluster: /readyz 200 while up; after `pg_ctl stop -m fast` it
# answers 503 problem+json with Retry-After in well under a second and the process lives on;
# after `pg_ctl start` it is ready again within seconds, without a restart. Also: serve starts
# while the database is down and becomes ready when it comes up.
source "$(dirname "$0")/../lib/common.sh"
t_init
priv_cluster_start pg
export AQPD_DATABASE_URL=$PRIV_URL
aqpd_env
export AQPD_POOL_SIZE=2

# wait_ready SECONDS: polls /readyz until 200; sets WAITED (seconds). Fails on timeout.
wait_ready() {
  local t0=$EPOCHREALTIME limit=$1
  while :; do
    https GET /readyz
    [[ "$HTTP_STATUS" == 200 ]] && break
    if awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      fail "/readyz not 200 within ${limit}s (last: $HTTP_STATUS $HTTP_BODY)"
    fi
    sleep 0.1
  done
  WAITED=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
}

# expect_unready WHAT: /readyz answers 503 problem+json database_unavailable, with a Retry-After
# header, in under a second.
expect_unready() {
  https GET /readyz
  expect_problem 503 database_unavailable "$1"
  local ra
  ra=$(header Retry-After)
  [[ "$ra" =~ ^[0-9]+$ ]] || fail "$1: Retry-After header missing or not seconds: '$ra'"
  assert_le "$HTTP_TIME" 0.9 "$1: /readyz answer time in seconds"
}

aqpd_start
wait_ready 10
https GET /healthz
expect_status 200 "GET /healthz with the database up"

# ---- outage ----
priv_pg_ctl stop -m fast -w >/dev/null || fail "pg_ctl stop failed"
for i in 1 2 3 4 5; do
  expect_unready "GET /readyz #$i with the database stopped"
done
kill -0 "$AQPD_PID" 2>/dev/null || fail "aqpd died when the database stopped"
https GET /healthz
expect_status 200 "GET /healthz with the database stopped (liveness does not need it)"
https GET /metrics
expect_status 200 "GET /metrics with the database stopped"

# ---- recovery, same process ----
priv_pg_ctl start -w >/dev/null || fail "pg_ctl start failed"
wait_ready 10
note "ready again ${WAITED}s after the database came back"
https GET /readyz
expect_status 200 "GET /readyz after recovery"

# A second outage and recovery: reconnection is not a one-off.
priv_pg_ctl stop -m immediate -w >/dev/null || fail "pg_ctl stop -m immediate failed"
expect_unready "GET /readyz after an immediate (crash) stop"
priv_pg_ctl start -w >/dev/null || fail "pg_ctl start (2) failed"
wait_ready 15
aqpd_stop TERM

# ---- started while the database is down ----
priv_pg_ctl stop -m fast -w >/dev/null || fail "pg_ctl stop (3) failed"
aqpd_start
https GET /healthz
expect_status 200 "GET /healthz from a server started with the database down"
expect_unready "GET /readyz from a server started with the database down"
priv_pg_ctl start -w >/dev/null || fail "pg_ctl start (3) failed"
wait_ready 15
note "ready ${WAITED}s after the database first came up"
aqpd_stop TERM
