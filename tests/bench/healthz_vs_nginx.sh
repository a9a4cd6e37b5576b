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

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
ROUNDS=${BENCH_ROUNDS:-3}

scripts/deps.sh wrk nginx-light iproute2 util-linux
[[ -x build/aqpd ]] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
AQPD=$ROOT/build/aqpd
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

D=$(mktemp -d /tmp/aqpd-bench.XXXXXX)
chmod 0755 "$D" # nginx's worker (nobody, when started as root) reads the document root
aqpd_pid='' nginx_pid=''
cleanup() {
  [[ -n "$aqpd_pid" ]] && kill "$aqpd_pid" 2>/dev/null && wait "$aqpd_pid" 2>/dev/null
  [[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  bash tests/lib/cluster.sh destroy "$D/pg" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT

say() { echo "bench: $*" >&2; }

pin_server=() pin_client=()
if (($(nproc) >= 2)) && command -v taskset >/dev/null; then
  pin_server=(taskset -c 0)
  pin_client=(taskset -c 1)
fi

# A port nothing listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    ss -Htln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
}

# ---- shared certificate ----
mkdir -p "$D/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$D/tls/key.pem" -out "$D/tls/cert.pem" 2>/dev/null
chmod 0644 "$D/tls/cert.pem"

# ---- aqpd, on a private cluster ----
say "starting a private PostgreSQL cluster"
AQPD_PG_FAST=1 bash tests/lib/cluster.sh start "$D/pg" >/dev/null
DBURL=$(source "$D/pg/env" && echo "$AQPD_TEST_DATABASE_URL")
AQPD_DATABASE_URL=$DBURL "$AQPD" migrate >/dev/null
AQPD_DATABASE_URL=$DBURL AQPD_LISTEN=127.0.0.1:0 AQPD_PORT_FILE=$D/aqpd.port \
  AQPD_TLS_CERT=$D/tls/cert.pem AQPD_TLS_KEY=$D/tls/key.pem \
  "${pin_server[@]}" "$AQPD" serve 2>"$D/aqpd.log" &
aqpd_pid=$!
for _ in $(seq 1 100); do [[ -s "$D/aqpd.port" ]] && break; sleep 0.05; done
[[ -s "$D/aqpd.port" ]] || { cat "$D/aqpd.log" >&2; say "aqpd did not start"; exit 1; }
AQPD_PORT=$(head -n 1 "$D/aqpd.port")

# ---- nginx with the same bytes, certificate, protocols and ciphers ----
mkdir -p "$D/www" "$D/nginx"
curl -sS --cacert "$D/tls/cert.pem" --resolve "localhost:$AQPD_PORT:127.0.0.1" \
  "https://localhost:$AQPD_PORT/healthz" -o "$D/www/healthz"
chmod 0755 "$D/www"
chmod 0644 "$D/www/healthz"
NGINX_PORT=$(free_port)
user_line=''
[[ $(id -u) -eq 0 ]] && user_line='user nobody nogroup;'
cat >"$D/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $D/nginx/nginx.pid;
error_log $D/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log $D/nginx/access.log;
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
    location = /healthz {
      default_type application/json;
      alias $D/www/healthz;
    }
  }
}
EOF
"${pin_server[@]}" "$NGINX" -p "$D/nginx" -c "$D/nginx/nginx.conf" -e "$D/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null --cacert "$D/tls/cert.pem" --resolve "localhost:$NGINX_PORT:127.0.0.1" \
    "https://localhost:$NGINX_PORT/healthz" && break
  sleep 0.05
done
a_body=$(curl -sS --cacert "$D/tls/cert.pem" --resolve "localhost:$AQPD_PORT:127.0.0.1" "https://localhost:$AQPD_PORT/healthz")
n_body=$(curl -sS --cacert "$D/tls/cert.pem" --resolve "localhost:$NGINX_PORT:127.0.0.1" "https://localhost:$NGINX_PORT/healthz") ||
  { cat "$D/nginx/error.log" >&2; say "nginx did not start"; exit 1; }
[[ "$a_body" == "$n_body" ]] || { say "bodies differ: aqpd '$a_body' nginx '$n_body'"; exit 1; }
say "aqpd on :$AQPD_PORT, nginx on :$NGINX_PORT, body $a_body ($(wc -c <"$D/www/healthz") bytes)"

# cpu_ticks PID...: user + system CPU ticks consumed so far by these processes.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$t"
}

# run_wrk PORT DURATION PID...: prints "requests/s cpu_us_per_request" (the servers' own CPU
# time per answered request, which a busy shared machine disturbs far less than req/s);
# reports errors and non-2xx answers on stderr.
run_wrk() {
  local out port=$1 dur=$2 t0 t1 total
  shift 2
  t0=$(cpu_ticks "$@")
  out=$("${pin_client[@]}" wrk -t1 -c"$CONNS" -d"$dur" "https://127.0.0.1:$port/healthz" 2>&1)
  t1=$(cpu_ticks "$@")
  grep -E 'Socket errors|Non-2xx' <<<"$out" | sed 's/^/bench:   /' >&2 || true
  total=$(awk '/requests in/ { print $1 }' <<<"$out")
  awk -v r="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" -v t="$((t1 - t0))" -v n="$total" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%s %.2f\n", r, (n > 0) ? t * 1e6 / hz / n : 0 }'
}

nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
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

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
am=$(median "${a_runs[@]}")
nm=$(median "${n_runs[@]}")
printf 'median: aqpd %.0f req/s, nginx %.0f req/s, ratio aqpd/nginx %.2f\n' "$am" "$nm" \
  "$(awk -v a="$am" -v n="$nm" 'BEGIN { print (n > 0) ? a / n : 0 }')"
acm=$(median "${a_cpu[@]}")
ncm=$(median "${n_cpu[@]}")
printf 'median CPU per request: aqpd %.1f us, nginx %.1f us, ratio nginx/aqpd %.2f (above 1: aqpd does the work with less CPU)\n' \
  "$acm" "$ncm" "$(awk -v a="$acm" -v n="$ncm" 'BEGIN { print (a > 0) ? n / a : 0 }')"
printf '(wrk -t1 -c%s -d%s, keep-alive, TLS, loopback, %s core(s)%s)\n' "$CONNS" "$DURATION" \
  "$(nproc)" "${pin_client:+; servers on CPU 0, wrk on CPU 1}"
