#!/usr/bin/env bash
# Benchmark, not a test: GET /healthz on aqpd against nginx serving the same bytes as a static
# file, both over TLS on loopback with the same certificate, protocols and ciphers, one event
# loop each (aqpd's single loop; nginx worker_processes 1), keep-alive. wrk (-t1 -c64 -d10s)
# runs against each in turn, 3 times, after a short warm-up; prints each req/s, the medians and
# the ratio aqpd/nginx. With 2 or more cores the servers are pinned to CPU 0 and wrk to CPU 1.
#
#   tests/bench/healthz_vs_nginx.sh            (builds build/aqpd first if needed)
# Environment: BENCH_DURATION (default 10s), BENCH_CONNECTIONS (64), BENCH_ROUNDS (3).
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
ROUNDS=${BENCH_ROUNDS:-3}

scripts/deps.sh wrk nginx-light iproute2 util-linux
bench_aqpd
bench_tmpdir aqpd-bench
bench_pin
bench_cert

# ---- aqpd, on a private cluster ----
say "starting a private PostgreSQL cluster"
bench_cluster_start
"$AQPD" migrate >/dev/null
bench_aqpd_start

# ---- nginx with the same bytes, certificate, protocols and ciphers ----
mkdir -p "$D/www"
bench_curl "$AQPD_PORT" /healthz -sS -o "$D/www/healthz"
chmod 0755 "$D/www"
chmod 0644 "$D/www/healthz"
bench_nginx_start "$D/nginx/access.log" "= /healthz" "$D/www/healthz"
a_body=$(bench_curl "$AQPD_PORT" /healthz -sS)
n_body=$(bench_curl "$NGINX_PORT" /healthz -sS)
[[ "$a_body" == "$n_body" ]] || { say "bodies differ: aqpd '$a_body' nginx '$n_body'"; exit 1; }
say "aqpd on :$AQPD_PORT, nginx on :$NGINX_PORT, body $a_body ($(wc -c <"$D/www/healthz") bytes)"

# run_wrk PORT DURATION PID...: prints "requests/s cpu_us_per_request" (the servers' own CPU
# time per answered request, which a busy shared machine disturbs far less than req/s).
run_wrk() {
  local port=$1 dur=$2 rps cpu
  shift 2
  read -r rps _ _ cpu < <(bench_wrk "$*" -t1 -c"$CONNS" -d"$dur" "https://127.0.0.1:$port/healthz")
  printf '%s %.2f\n' "$rps" "$cpu"
}

say "warm-up"
run_wrk "$AQPD_PORT" 2s "$aqpd_pid" >/dev/null
# shellcheck disable=SC2086
run_wrk "$NGINX_PORT" 2s $nginx_workers >/dev/null

a_runs=() n_runs=() a_cpu=() n_cpu=()
for r in $(seq 1 "$ROUNDS"); do
  read -r a ac < <(run_wrk "$AQPD_PORT" "$DURATION" "$aqpd_pid")
  # shellcheck disable=SC2086
  read -r n nc < <(run_wrk "$NGINX_PORT" "$DURATION" $nginx_workers)
  a_runs+=("$a") a_cpu+=("$ac")
  n_runs+=("$n") n_cpu+=("$nc")
  printf 'round %d: aqpd %10.0f req/s %6.1f us CPU/req   nginx %10.0f req/s %6.1f us CPU/req\n' \
    "$r" "$a" "$ac" "$n" "$nc"
done

am=$(bench_median "${a_runs[@]}")
nm=$(bench_median "${n_runs[@]}")
printf 'median: aqpd %.0f req/s, nginx %.0f req/s, ratio aqpd/nginx %.2f\n' "$am" "$nm" \
  "$(bench_ratio "$am" "$nm")"
acm=$(bench_median "${a_cpu[@]}")
ncm=$(bench_median "${n_cpu[@]}")
printf 'median CPU per request: aqpd %.1f us, nginx %.1f us, ratio nginx/aqpd %.2f (above 1: aqpd does the work with less CPU)\n' \
  "$acm" "$ncm" "$(bench_ratio "$ncm" "$acm")"
printf '(wrk -t1 -c%s -d%s, keep-alive, TLS, loopback, %s core(s)%s)\n' "$CONNS" "$DURATION" \
  "$(nproc)" "${pin_client:+; servers on CPU 0, wrk on CPU 1}"
