#!/usr/bin/env bash
# Exports in bounded memory: seeds BENCH_N (default 100,000) qualified providers with one site
# each straight into the tables (tests/bench/export_seed.sql, seeded, a third of them children's
# homes), publishes them with `aqpd publish`, starts a fresh `aqpd serve` and streams
# GET /v1/publications/1/directory.csv and GET /hsds/services?format=ndjson BENCH_ROUNDS times
# (default 3) each over TLS with curl, and psql's \copy of the same rows (the CSV's public
# fields; the services' JSON) to /dev/null as often. Prints each figure, the medians, the ratio
# aqpd / psql (target >= 0.5) and aqpd's peak resident memory, VmHWM from /proc (target
# <= 64 MB), also as it was once ready (the search index of schema/0008 is in memory by then)
# and what the exports added to it. Not a test: it gates nothing.
#
# Environment: BENCH_N, BENCH_ROUNDS, AQPD_BENCH_BUILD (default build; build-asan is not a fair
# figure).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
N=${BENCH_N:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
BUILD=${AQPD_BENCH_BUILD:-build}
[[ -x $BUILD/aqpd ]] || { cmake -S . -B "$BUILD" >/dev/null && cmake --build "$BUILD" -j2 >/dev/null; }
AQPD=$ROOT/$BUILD/aqpd

D=$(mktemp -d /tmp/aqpd-bench-export.XXXXXX)
aqpd_pid=''
cleanup() {
  if [[ -n "$aqpd_pid" ]]; then kill "$aqpd_pid" 2>/dev/null && wait "$aqpd_pid" 2>/dev/null || true; fi
  bash tests/lib/cluster.sh destroy "$D/pg" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
say() { echo "export_vs_psql: $*" >&2; }

AQPD_PG_FAST=1 bash tests/lib/cluster.sh start "$D/pg" >/dev/null
# shellcheck disable=SC1091
source "$D/pg/env"
export AQPD_DATABASE_URL=$AQPD_TEST_DATABASE_URL
PSQL=("$AQPD_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$AQPD_DATABASE_URL")
if [[ $(id -u) -eq 0 ]]; then chmod 0755 "$D"; fi

"$AQPD" migrate >/dev/null 2>&1
"$AQPD" import commissioners >/dev/null 2>&1
"$AQPD" import postcodes >/dev/null 2>&1
say "seeding $N providers"
"${PSQL[@]}" -v n="$N" -f tests/bench/export_seed.sql >/dev/null
openssl genpkey -algorithm ed25519 -out "$D/board.pem" 2>/dev/null
export AQPD_SIGNING_KEY=$D/board.pem
t0=$EPOCHREALTIME
"$AQPD" publish >"$D/publish.out" 2>"$D/publish.err"
say "published in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s: $(grep -o '"bytes": [0-9]*' "$D/publish.out")"

mkdir -p "$D/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$D/tls/key.pem" -out "$D/tls/cert.pem" 2>/dev/null
AQPD_LISTEN=127.0.0.1:0 AQPD_PORT_FILE=$D/port AQPD_TLS_CERT=$D/tls/cert.pem AQPD_TLS_KEY=$D/tls/key.pem \
  AQPD_LOG_LEVEL=warn AQPD_REQUEST_TIMEOUT_MS=60000 "$AQPD" serve 2>"$D/aqpd.log" &
aqpd_pid=$!
for _ in $(seq 1 100); do [[ -s $D/port ]] && break; sleep 0.1; done
PORT=$(cat "$D/port")
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$aqpd_pid/status"; }
# /readyz answers 200 once the search index (schema/0008, loaded at start) is in memory.
for _ in $(seq 1 600); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/tls/cert.pem" --resolve "localhost:$PORT:127.0.0.1" \
    "https://localhost:$PORT/readyz") == 200 ]] && break
  sleep 0.2
done
HWM0=$(hwm)
say "aqpd pid $aqpd_pid on port $PORT; VmHWM once ready (search index loaded) $((HWM0 / 1024)) MB"

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# curl_secs PATH: seconds and bytes of one download.
curl_secs() {
  curl -s --cacert "$D/tls/cert.pem" --resolve "localhost:$PORT:127.0.0.1" -o /dev/null \
    -w '%{time_total} %{size_download}\n' "https://localhost:$PORT$1"
}
# psql_secs SQL OPTIONS: seconds and bytes of psql's \copy of the same rows.
psql_secs() {
  local t0=$EPOCHREALTIME bytes
  bytes=$("${PSQL[@]}" -c "\\copy ($1) TO STDOUT $2" | wc -c)
  awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$bytes" 'BEGIN { printf "%.3f %d\n", b - a, n }'
}
# The same rows as aqpd reads them: the stored CSV records, and the services' JSON.
CSV_SQL="SELECT line FROM publication_entry WHERE publication = 1 AND kind = 'site' ORDER BY ord"
ND_SQL="SELECT hsds_variant(body, 'list')::text FROM publication_entry WHERE publication = 1 AND kind = 'service' ORDER BY ord"

declare -A R
for what in csv ndjson; do
  for i in $(seq 1 "$ROUNDS"); do
    if [[ $what == csv ]]; then
      read -r a asize < <(curl_secs /v1/publications/1/directory.csv)
      read -r p psize < <(psql_secs "$CSV_SQL" "")
    else
      read -r a asize < <(curl_secs '/hsds/services?format=ndjson')
      read -r p psize < <(psql_secs "$ND_SQL" "")
    fi
    echo "round $i $what: aqpd $a s ($asize bytes, $(awk -v n="$N" -v t="$a" 'BEGIN { printf "%.0f", n / t }') rows/s), psql \\copy $p s ($psize bytes, $(awk -v n="$N" -v t="$p" 'BEGIN { printf "%.0f", n / t }') rows/s)"
    R[$what.a]+="$a "
    R[$what.p]+="$p "
  done
done
for what in csv ndjson; do
  ma=$(tr ' ' '\n' <<<"${R[$what.a]}" | grep . | median)
  mp=$(tr ' ' '\n' <<<"${R[$what.p]}" | grep . | median)
  echo "$what: median aqpd $ma s ($(awk -v n="$N" -v t="$ma" 'BEGIN { printf "%.0f", n / t }') rows/s), psql \\copy $mp s ($(awk -v n="$N" -v t="$mp" 'BEGIN { printf "%.0f", n / t }') rows/s), throughput ratio aqpd/psql $(awk -v a="$ma" -v b="$mp" 'BEGIN { printf "%.2f", b / a }') (target >= 0.5)"
done
echo "aqpd peak RSS (VmHWM): $(awk -v k="$(hwm)" 'BEGIN { printf "%.1f", k / 1024 }') MB (target <= 64);" \
  "once ready, before any export: $(awk -v k="$HWM0" 'BEGIN { printf "%.1f", k / 1024 }') MB;" \
  "added by the exports: $(awk -v k="$(hwm)" -v z="$HWM0" 'BEGIN { printf "%.1f", (k - z) / 1024 }') MB"
