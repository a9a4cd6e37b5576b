#!/usr/bin/env bash
# Exports in bounded memory: seeds BENCH_N (default 100,000) qualified providers with one site
# each straight into the tables (tests/bench/export_seed.sql, seeded, a third of them children's
# homes), publishes them with `aqpd publish`, starts a fresh `aqpd serve` and streams
# GET /v1/publications/1/directory.csv and GET /hsds/services?format=ndjson BENCH_ROUNDS times
# (default 3) each over TLS with curl, and psql's \copy of the same rows (the CSV's public
# fields; the services' JSON) to /dev/null as often. Prints each figure, the medians, the ratio
# aqpd / psql (target >= 0.5) and aqpd's peak resident memory during the exports, VmHWM from
# /proc after resetting it once aqpd is ready (target <= 64 MB), split into the resting process
# (the search index of schema/0010 is in memory by then) and what the exports added; also the
# peak at start-up. Not a test: it gates nothing.
#
# Environment: BENCH_N, BENCH_ROUNDS, AQPD_BENCH_BUILD (default build; build-asan is not a fair
# figure).
set -euo pipefail
BENCH_TAG=export_vs_psql
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${BENCH_N:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
bench_aqpd "${AQPD_BENCH_BUILD:-build}"
bench_tmpdir aqpd-bench-export
bench_cluster_start
"$AQPD" migrate >/dev/null 2>&1
"$AQPD" import commissioners >/dev/null 2>&1
"$AQPD" import postcodes >/dev/null 2>&1
say "seeding $N providers"
bench_psql -v n="$N" -f tests/bench/export_seed.sql >/dev/null
openssl genpkey -algorithm ed25519 -out "$D/board.pem" 2>/dev/null
export AQPD_SIGNING_KEY=$D/board.pem
t0=$EPOCHREALTIME
"$AQPD" publish >"$D/publish.out" 2>"$D/publish.err"
say "published in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s: $(grep -o '"bytes": [0-9]*' "$D/publish.out")"

bench_cert
bench_aqpd_start AQPD_LOG_LEVEL=warn AQPD_REQUEST_TIMEOUT_MS=60000
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$aqpd_pid/status"; }
# /readyz answers 200 once the search index (schema/0008, loaded at start) is in memory.
bench_wait_ready
HWM0=$(hwm)
say "aqpd pid $aqpd_pid on port $AQPD_PORT; VmHWM once ready (search index loaded) $((HWM0 / 1024)) MB"
# The exports' own peak: reset VmHWM to the resting RSS (Linux >= 4.0: "5" to clear_refs), so
# what the exports hold at once shows even though start-up reached a higher peak.
RSS0=$(awk '/^VmRSS/ { print $2 }' "/proc/$aqpd_pid/status")
RESET=no
if echo 5 >"/proc/$aqpd_pid/clear_refs" 2>/dev/null; then RESET=yes; fi

# curl_secs PATH: seconds and bytes of one download.
curl_secs() {
  bench_curl "$AQPD_PORT" "$1" -s -o /dev/null -w '%{time_total} %{size_download}\n'
}
# psql_secs SQL OPTIONS: seconds and bytes of psql's \copy of the same rows.
psql_secs() {
  local t0=$EPOCHREALTIME bytes
  bytes=$(bench_psql -c "\\copy ($1) TO STDOUT $2" | wc -c)
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
  # shellcheck disable=SC2086 # the rounds' figures, one word each
  ma=$(bench_median ${R[$what.a]})
  # shellcheck disable=SC2086
  mp=$(bench_median ${R[$what.p]})
  echo "$what: median aqpd $ma s ($(awk -v n="$N" -v t="$ma" 'BEGIN { printf "%.0f", n / t }') rows/s), psql \\copy $mp s ($(awk -v n="$N" -v t="$mp" 'BEGIN { printf "%.0f", n / t }') rows/s), throughput ratio aqpd/psql $(bench_ratio "$mp" "$ma") (target >= 0.5)"
done
if [[ $RESET == yes ]]; then
  echo "aqpd peak RSS (VmHWM) during the exports: $(awk -v k="$(hwm)" 'BEGIN { printf "%.1f", k / 1024 }') MB" \
    "(target <= 64), of which the resting process (search index loaded) $(awk -v k="$RSS0" 'BEGIN { printf "%.1f", k / 1024 }') MB" \
    "and the exports $(awk -v k="$(hwm)" -v z="$RSS0" 'BEGIN { printf "%.1f", (k - z) / 1024 }') MB;" \
    "peak at start-up $(awk -v k="$HWM0" 'BEGIN { printf "%.1f", k / 1024 }') MB"
else
  echo "aqpd peak RSS (VmHWM): $(awk -v k="$(hwm)" 'BEGIN { printf "%.1f", k / 1024 }') MB (target <= 64);" \
    "once ready, before any export: $(awk -v k="$HWM0" 'BEGIN { printf "%.1f", k / 1024 }') MB" \
    "(this kernel cannot reset VmHWM, so what the exports add may hide under the start-up peak)"
fi
