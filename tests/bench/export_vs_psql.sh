#!/usr/bin/env bash
# Exports in bounded memory: seeds BENCH_N (default 100,000) qualified providers with one site
# each straight into the tables (tests/bench/export_seed.sql, seeded, a third of them children's
# homes) and publishes them with `aqpd publish`. For comparison it first starts an ordinary
# `aqpd serve` (search_index on), waits until /readyz answers (the search index of schema/0010
# loaded), prints its resident memory (VmRSS) and the index's own size (/metrics), and stops it.
# Then it starts the instance that serves exports in production, a publication and feed
# instance (search_index = false: no index in memory; README "Running a publication and feed
# instance"), and streams GET /v1/publications/1/directory.csv and
# GET /hsds/services?format=ndjson from it BENCH_ROUNDS times (default 3) each over TLS with
# curl, and psql's \copy of the same rows (the CSV's public fields; the services' JSON) to
# /dev/null as often. Prints each figure, the medians, the ratio aqpd / psql (target >= 0.5) and
# the feed instance's peak resident memory during the exports, VmHWM from /proc after resetting
# it once the instance is ready (target <= 64 MB), split into the resting process and what the
# exports added; also its peak at start-up. Not a test: it gates nothing.
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
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$aqpd_pid/status"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$aqpd_pid/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# metric NAME: the value of an unlabelled sample in the running aqpd's /metrics.
metric() { bench_curl "$AQPD_PORT" /metrics -s | awk -v n="$1" '$1 == n { print $2 }'; }

# ---- for comparison: an indexed instance at rest (/readyz 200 once the index is loaded) ----
bench_aqpd_start AQPD_LOG_LEVEL=warn
bench_wait_ready
IDX_RSS=$(rss)
IDX_MB=$(awk -v b="$(metric aqpd_search_index_bytes)" 'BEGIN { printf "%.1f", b / 1048576 }')
IDX_ENTRIES=$(metric aqpd_search_entries)
say "indexed aqpd (search_index on): VmRSS once ready $(mb "$IDX_RSS") MB, its index of $IDX_ENTRIES entries $IDX_MB MB"
kill "$aqpd_pid"
wait "$aqpd_pid" || true
aqpd_pid=''
rm -f "$D/aqpd.port"

# ---- the exports, from a publication and feed instance (search_index = false) ----
bench_aqpd_start AQPD_LOG_LEVEL=warn AQPD_REQUEST_TIMEOUT_MS=60000 AQPD_SEARCH_INDEX=false
bench_wait_ready
[[ $(metric aqpd_search_index_enabled) == 0 ]] || { say "the feed instance has its index on"; exit 1; }
HWM0=$(hwm)
say "feed aqpd (search_index = false) pid $aqpd_pid on port $AQPD_PORT; VmHWM once ready $(mb "$HWM0") MB"
# The exports' own peak: reset VmHWM to the resting RSS (Linux >= 4.0: "5" to clear_refs), so
# what the exports hold at once shows even if start-up reached a higher peak.
RSS0=$(rss)
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
  echo "feed aqpd (search_index = false) peak RSS (VmHWM) during the exports: $(mb "$(hwm)") MB" \
    "(target <= 64), of which the resting process $(mb "$RSS0") MB" \
    "and the exports $(awk -v k="$(hwm)" -v z="$RSS0" 'BEGIN { printf "%.1f", (k - z) / 1024 }') MB;" \
    "peak at start-up $(mb "$HWM0") MB"
else
  echo "feed aqpd (search_index = false) peak RSS (VmHWM): $(mb "$(hwm)") MB (target <= 64);" \
    "once ready, before any export: $(mb "$HWM0") MB" \
    "(this kernel cannot reset VmHWM, so what the exports add may hide under the start-up peak)"
fi
echo "for comparison, an indexed aqpd (search_index on) at rest on the same data: VmRSS" \
  "$(mb "$IDX_RSS") MB, its index of $IDX_ENTRIES entries $IDX_MB MB"
