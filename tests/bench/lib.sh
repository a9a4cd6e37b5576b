# shellcheck shell=bash disable=SC2034 # sets variables for the benchmarks that source it
# What the benchmarks of tests/bench/ share: their temporary directory, a self-signed
# certificate, a private PostgreSQL cluster, aqpd and nginx started alike, wrk with its figures
# parsed, CPU tick accounting, medians and ratios. Sourced, never run, right after `set -euo
# pipefail`:
#
#   source "$(dirname "$0")/lib.sh"
#
# Sourcing it moves to the repository root (ROOT), where the benchmarks' relative paths (build/,
# data/, tests/lib/) start. What it defines:
#
#   say MESSAGE...             progress on stderr: "bench: MESSAGE" (BENCH_TAG replaces "bench")
#   bench_aqpd [BUILD]         AQPD=ROOT/BUILD/aqpd (BUILD: build), building it first if missing
#   bench_tmpdir NAME          D=/tmp/NAME.XXXXXX (mode 0755: the postgres and nginx users read it),
#                              removed on exit with what the functions below started in it
#   bench_pin [1|0]            with 1 (the default), 2 or more cores and taskset:
#                              pin_server=(taskset -c 0), pin_client=(taskset -c 1); else both
#                              stay empty (as they are until it is called)
#   bench_cert                 $D/tls/cert.pem and key.pem: P-256, self-signed for localhost and
#                              127.0.0.1, valid 2 days
#   bench_cluster_start [durable]
#                              a private cluster in $D/pg (tests/lib/cluster.sh; fsync and
#                              synchronous_commit off unless "durable"), its env sourced
#                              (AQPD_PG_*), AQPD_DATABASE_URL exported for aqpd
#   bench_psql ARGS...         psql on that cluster's database aqpd: -X -q, ON_ERROR_STOP
#   bench_aqpd_start [VAR=VALUE...]
#                              `aqpd serve` with VAR=VALUE in its environment, on 127.0.0.1 (a
#                              port of its choosing: AQPD_PORT; pid aqpd_pid), TLS with
#                              bench_cert's pair, on the server CPU; log in $D/aqpd.log. A
#                              second call starts a second instance (the first keeps running
#                              and is stopped on exit too; save its AQPD_PORT and aqpd_pid)
#   bench_wait_ready           waits (up to 2 minutes) until aqpd's /readyz answers 200
#   bench_curl PORT PATH [CURL ARGS...]
#                              one HTTPS request to localhost:PORT, its certificate checked
#   bench_nginx_start ACCESS_LOG MATCH FILE
#                              nginx serving FILE at `location MATCH` as application/json, set up
#                              as aqpd is (one worker, TLS 1.2 and 1.3, the same certificate,
#                              ciphers and groups, no session cache, keep-alive), on a free port
#                              (NGINX_PORT; pid nginx_pid, workers nginx_workers), on the server
#                              CPU; ACCESS_LOG a file or "off". Returns once it answers
#   bench_cpu_ticks PID...     user + system CPU ticks these processes have used so far
#   bench_wrk "PID..." WRK ARGS...
#                              runs wrk on the client CPU; prints "req/s p50_ms p99_ms cpu_us":
#                              the latencies with --latency (else 0), cpu_us the CPU time PID...
#                              used per answered request (steadier than req/s on a busy shared
#                              machine); socket errors and non-2xx answers go to stderr
#   bench_to_ms DURATION       wrk's "850.00us", "1.23ms", "2.01s" or "1.5m" in milliseconds
#   bench_median NUMBER...     the median (of an even count, the mean of the two middle ones)
#   bench_ratio A B            A / B with two decimals (0.00 when B is not positive)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$(pwd)
D=''
aqpd_pid='' nginx_pid='' nginx_workers=''
aqpd_earlier=() # instances started before the current aqpd_pid
pin_server=() pin_client=()
_bench_cluster=0

say() { echo "${BENCH_TAG:-bench}: $*" >&2; }

bench_aqpd() {
  local build=${1:-build}
  [[ -x $build/aqpd ]] || { cmake -S . -B "$build" >/dev/null && cmake --build "$build" -j2 >/dev/null; }
  AQPD=$ROOT/$build/aqpd
}

_bench_cleanup() {
  local p
  for p in "$aqpd_pid" "${aqpd_earlier[@]}" "$nginx_pid"; do
    if [[ -n "$p" ]] && kill "$p" 2>/dev/null; then wait "$p" 2>/dev/null || true; fi
  done
  if ((_bench_cluster)); then bash tests/lib/cluster.sh destroy "$D/pg" >/dev/null 2>&1 || true; fi
  if [[ -n "$D" ]]; then rm -rf "$D"; fi
}

bench_tmpdir() {
  D=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 0755 "$D"
  trap _bench_cleanup EXIT
}

bench_pin() {
  if [[ "${1:-1}" == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    pin_server=(taskset -c 0)
    pin_client=(taskset -c 1)
  fi
}

bench_cert() {
  mkdir -p "$D/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$D/tls/key.pem" -out "$D/tls/cert.pem" 2>/dev/null
  chmod 0644 "$D/tls/cert.pem"
}

bench_cluster_start() {
  _bench_cluster=1
  if [[ "${1:-}" == durable ]]; then
    bash tests/lib/cluster.sh start "$D/pg" >/dev/null
  else
    AQPD_PG_FAST=1 bash tests/lib/cluster.sh start "$D/pg" >/dev/null
  fi
  # shellcheck disable=SC1091
  source "$D/pg/env"
  export AQPD_DATABASE_URL=$AQPD_TEST_DATABASE_URL
}

bench_psql() {
  "$AQPD_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$AQPD_PG_HOST" -p "$AQPD_PG_PORT" \
    -U "$AQPD_PG_USER" -d aqpd "$@"
}

bench_aqpd_start() {
  [[ -n "$aqpd_pid" ]] && aqpd_earlier+=("$aqpd_pid")
  rm -f "$D/aqpd.port"
  env "$@" AQPD_LISTEN=127.0.0.1:0 AQPD_PORT_FILE="$D/aqpd.port" \
    AQPD_TLS_CERT="$D/tls/cert.pem" AQPD_TLS_KEY="$D/tls/key.pem" \
    "${pin_server[@]}" "$AQPD" serve 2>>"$D/aqpd.log" &
  aqpd_pid=$!
  for _ in $(seq 1 200); do [[ -s "$D/aqpd.port" ]] && break; sleep 0.05; done
  [[ -s "$D/aqpd.port" ]] || { cat "$D/aqpd.log" >&2; say "aqpd did not start"; exit 1; }
  AQPD_PORT=$(head -n 1 "$D/aqpd.port")
}

bench_curl() {
  local port=$1 path=$2
  shift 2
  curl --cacert "$D/tls/cert.pem" --resolve "localhost:$port:127.0.0.1" "$@" \
    "https://localhost:$port$path"
}

bench_wait_ready() {
  for _ in $(seq 1 1200); do
    [[ $(bench_curl "$AQPD_PORT" /readyz -s -o /dev/null -w '%{http_code}') == 200 ]] && return 0
    sleep 0.1
  done
  say "aqpd's /readyz did not answer 200 within 2 minutes"
}

# A port nothing listens on.
_bench_free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
}

bench_nginx_start() {
  local access_log=$1 match=$2 file=$3 user_line=''
  mkdir -p "$D/nginx"
  NGINX_PORT=$(_bench_free_port)
  [[ $(id -u) -eq 0 ]] && user_line='user nobody nogroup;'
  cat >"$D/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $D/nginx/nginx.pid;
error_log $D/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log $access_log;
  client_body_temp_path $D/nginx/body;
  proxy_temp_path $D/nginx/proxy;
  fastcgi_temp_path $D/nginx/fastcgi;
  uwsgi_temp_path $D/nginx/uwsgi;
  scgi_temp_path $D/nginx/scgi;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $D/tls/cert.pem;
    ssl_certificate_key $D/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;
    ssl_ecdh_curve X25519:P-256;
    ssl_session_cache off;
    location $match {
      default_type application/json;
      alias $file;
    }
  }
}
EOF
  "${pin_server[@]}" "$(command -v nginx || echo /usr/sbin/nginx)" -p "$D/nginx" \
    -c "$D/nginx/nginx.conf" -e "$D/nginx/error.log" &
  nginx_pid=$!
  local up=0
  for _ in $(seq 1 100); do
    bench_curl "$NGINX_PORT" "${match#= }" -s -o /dev/null && { up=1; break; }
    sleep 0.05
  done
  ((up)) || { cat "$D/nginx/error.log" >&2; say "nginx did not start"; exit 1; }
  nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
}

bench_cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$t"
}

bench_to_ms() {
  awk -v v="$1" 'BEGIN { u = v; gsub(/[0-9.]/, "", u); n = v + 0;
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
    printf "%.3f", n }'
}

bench_wrk() {
  local pids=$1 out t0 t1 n
  shift
  # shellcheck disable=SC2086 # one word, several pids
  t0=$(bench_cpu_ticks $pids)
  out=$("${pin_client[@]}" wrk "$@" 2>&1)
  # shellcheck disable=SC2086
  t1=$(bench_cpu_ticks $pids)
  grep -E 'Socket errors|Non-2xx' <<<"$out" | sed "s/^/${BENCH_TAG:-bench}:   /" >&2 || true
  n=$(awk '/requests in/ { print $1 }' <<<"$out")
  echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
    "$(bench_to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
    "$(bench_to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" \
    "$(awk -v t="$((t1 - t0))" -v n="$n" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { printf "%.6f", (n > 0) ? t * 1e6 / hz / n : 0 }')"
}

bench_median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench_ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'
}
