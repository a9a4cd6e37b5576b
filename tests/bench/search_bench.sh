#!/usr/bin/env bash
# Benchmark, not a test: the directory search (issue 5) on the real register and on a scaled
# dataset of 1,000,000 sites.
#
#   1. the real register as qualified providers (tests/lib/bulk_ofsted.sql: 5,415 entries), aqpd
#      answering the issue's query
#        /v1/directory?service_type=independent-fostering&near=LS6&radius_km=50&min_rating=good&limit=20
#      against nginx serving a static file of the same response bytes over TLS (same
#      certificate, protocols, ciphers; one worker), and against pgbench running the search's
#      own SQL (the page, the total and the three facet counts, as PostgreSQL would have to
#      answer them, over a table of the same entries with indexes) at the same concurrency;
#   2. p50 and p99 latency of that query and of a mix of 20 realistic queries across England,
#      at 5,415 entries and at 1,000,000 sites (tests/bench/gen_sites.sql, seeded), and the
#      ratio 1M / 5.4k;
#   3. aqpd's peak RSS (VmHWM) at 1M sites, and how long its full load took.
# Two aqpd serve the same database: one as configured by default, with the answer cache
# (search_cache_ms), and one with the cache off, the search engine alone: target 1 and 2 are
# printed for both, and the latencies (target 3) are the engine's (the mix repeats 20 queries,
# which the cache would answer from memory).
#
# wrk -t1 -c64 -d10s, keep-alive, loopback; servers on CPU 0 and clients on CPU 1 when there are
# 2 cores. Each figure is the median of BENCH_ROUNDS rounds (default 3).
#
# Environment: BENCH_DURATION (10s), BENCH_CONNECTIONS (64), BENCH_ROUNDS (3),
# BENCH_SITES (1000000: the scaled size; 0 skips the scaled part), BENCH_SEED (0.42).
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
ROUNDS=${BENCH_ROUNDS:-3}
SITES=${BENCH_SITES:-1000000}
SEED=${BENCH_SEED:-0.42}
QUERY='/v1/directory?service_type=independent-fostering&near=LS6&radius_km=50&min_rating=good&limit=20'

scripts/deps.sh wrk nginx-light iproute2 util-linux
bench_aqpd
bench_tmpdir aqpd-search-bench
bench_pin

# ---- certificate, database, data ----
bench_cert
say "starting a private PostgreSQL cluster"
bench_cluster_start
psql_() { bench_psql -At "$@"; }
"$AQPD" migrate >/dev/null
"$AQPD" import ofsted data/ofsted/Provider_level_at_31_Mar_2025.csv >/dev/null 2>&1
"$AQPD" import commissioners >/dev/null 2>&1
"$AQPD" import postcodes >/dev/null 2>&1
t0=$(date +%s.%N)
psql_ -f tests/lib/bulk_ofsted.sql >/dev/null
say "bulk path (tests/lib/bulk_ofsted.sql): $(psql_ -c 'SELECT count(*) FROM site') sites in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

# ---- aqpd: as configured by default (the answer cache on), and the engine alone ----
# The second instance runs with search_cache_ms = 0, so every request is parsed, searched in
# the index and rendered: its figures are the search engine's own. The latencies (targets 3)
# are the engine's: the mix repeats 20 queries, which a cache would answer from memory.
bench_aqpd_start AQPD_LOG_LEVEL=warn AQPD_SEARCH_CACHE_MS=0
E_PORT=$AQPD_PORT E_PID=$aqpd_pid
bench_aqpd_start AQPD_LOG_LEVEL=warn
get() { bench_curl "${2:-$AQPD_PORT}" "$1" -sS; }
bench_wait_ready
( AQPD_PORT=$E_PORT; bench_wait_ready )
metric() { get /metrics "${2:-$AQPD_PORT}" | awk -v m="$1" '$1 == m { print $2 }'; }
say "index loaded: $(metric aqpd_search_entries) entries in $(metric aqpd_search_last_full_load_ms) ms"
cmp -s <(get "$QUERY") <(get "$QUERY" "$E_PORT") || { say "the two instances' answers differ"; exit 1; }

# ---- nginx with the same bytes ----
mkdir -p "$D/www"
get "$QUERY" >"$D/www/search.json"
chmod 0755 "$D/www"
chmod 0644 "$D/www/search.json"
bench_nginx_start off /v1/directory "$D/www/search.json"
cmp -s <(get "$QUERY") <(get "$QUERY" "$NGINX_PORT") || { say "aqpd and nginx bodies differ"; exit 1; }
say "aqpd :$AQPD_PORT, nginx :$NGINX_PORT, response $(wc -c <"$D/www/search.json") bytes, $(jq '.items | length' "$D/www/search.json") items of $(jq .total "$D/www/search.json")"

# ---- the 20-query mix (wrk Lua) ----
cat >"$D/mix.lua" <<'EOF'
local paths = {
  "/v1/directory?service_type=independent-fostering&near=LS6&radius_km=50&min_rating=good&limit=20",
  "/v1/directory?service_type=childrens-home&near=M14&radius_km=20&limit=20",
  "/v1/directory?service_type=childrens-home&near=B15%202TT&radius_km=30&has_vacancies=true&limit=20",
  "/v1/directory?near=SW1A&radius_km=10&limit=20",
  "/v1/directory?service_type=supported-accommodation&region=London&limit=20",
  "/v1/directory?service_type=childrens-home&region=E12000002&min_rating=outstanding&sort=rating&limit=20",
  "/v1/directory?q=fostering&near=NE1&radius_km=40&limit=20",
  "/v1/directory?service_type=secure-childrens-home&sort=name&limit=20",
  "/v1/directory?service_type=childrens-home&age=14&near=BS1&radius_km=25&limit=20",
  "/v1/directory?service_type=residential-family-centre&near=50.72,-3.53&radius_km=100&limit=20",
  "/v1/directory?service_type=adoption,adoption-support&sort=name&limit=20",
  "/v1/directory?tier=4&near=NG1&radius_km=30&limit=20",
  "/v1/directory?sector=voluntary&near=L1&radius_km=50&limit=20",
  "/v1/directory?service_type=childrens-home&covers=E08000035&limit=20",
  "/v1/directory?service_type=short-breaks&near=CB2&radius_km=60&limit=20",
  "/v1/directory?q=care%20homes&limit=20",
  "/v1/directory?service_type=childrens-home&near=PL4&radius_km=15&min_rating=good&has_vacancies=true&limit=20",
  "/v1/directory?near=YO1&radius_km=80&sort=distance&limit=50",
  "/v1/directory?service_type=independent-fostering&min_rating=good&sort=rating&limit=20",
  "/v1/directory?service_type=childrens-home&near=ME1&radius_km=25&age=10&limit=20",
}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF

# run_wrk PORT PATH [LUA [PID...]]: prints "req/s p50_ms p99_ms cpu_us_per_request" (the
# servers' CPU per answered request, steadier than req/s on a shared machine).
run_wrk() {
  local port=$1 path=$2 lua=${3:-} args=(-t1 -c"$CONNS" -d"$DURATION" --latency) rps p50 p99 cpu
  shift 2
  (($#)) && shift
  [[ -n "$lua" ]] && args+=(-s "$lua")
  read -r rps p50 p99 cpu < <(bench_wrk "$*" "${args[@]}" "https://127.0.0.1:$port$path")
  printf '%s %s %s %.1f\n' "$rps" "$p50" "$p99" "$cpu"
}

# ---- pgbench: the search's own SQL ----
read -r LAT LON < <(psql_ -F ' ' -c "SELECT lat, lon FROM postcode_district WHERE outcode = 'LS6'")
psql_ <<'EOF'
CREATE TABLE bench_entry AS SELECT * FROM index_entries(ARRAY(SELECT id FROM site));
CREATE INDEX ON bench_entry (service_type, status, lat);
CREATE INDEX ON bench_entry (status, lat);
ANALYZE bench_entry;
EOF
# The same answer PostgreSQL would have to give: the page (distance order, key tie-break), the
# total, and the facets (each ignoring its own filter), by haversine after a bounding box.
cat >"$D/search.sql" <<EOF
SELECT key, d, display_public FROM (SELECT key, display_public, 2 * 6371.0088 * asin(sqrt(sin(radians(lat - $LAT) / 2) ^ 2 + cos(radians($LAT)) * cos(radians(lat)) * sin(radians(lon - $LON) / 2) ^ 2)) AS d FROM bench_entry WHERE service_type = 'independent-fostering' AND status = 'active' AND rating IN ('good', 'outstanding') AND lat BETWEEN $LAT - 0.4497 AND $LAT + 0.4497 AND lon BETWEEN $LON - 0.76 AND $LON + 0.76) x WHERE d <= 50 ORDER BY d, key LIMIT 20;
SELECT service_type, count(*) FROM bench_entry WHERE status = 'active' AND rating IN ('good', 'outstanding') AND lat BETWEEN $LAT - 0.4497 AND $LAT + 0.4497 AND lon BETWEEN $LON - 0.76 AND $LON + 0.76 AND 2 * 6371.0088 * asin(sqrt(sin(radians(lat - $LAT) / 2) ^ 2 + cos(radians($LAT)) * cos(radians(lat)) * sin(radians(lon - $LON) / 2) ^ 2)) <= 50 GROUP BY 1;
SELECT region, count(*) FROM bench_entry WHERE service_type = 'independent-fostering' AND status = 'active' AND rating IN ('good', 'outstanding') AND lat BETWEEN $LAT - 0.4497 AND $LAT + 0.4497 AND lon BETWEEN $LON - 0.76 AND $LON + 0.76 AND 2 * 6371.0088 * asin(sqrt(sin(radians(lat - $LAT) / 2) ^ 2 + cos(radians($LAT)) * cos(radians(lat)) * sin(radians(lon - $LON) / 2) ^ 2)) <= 50 GROUP BY 1;
SELECT rating, count(*) FROM bench_entry WHERE service_type = 'independent-fostering' AND status = 'active' AND lat BETWEEN $LAT - 0.4497 AND $LAT + 0.4497 AND lon BETWEEN $LON - 0.76 AND $LON + 0.76 AND 2 * 6371.0088 * asin(sqrt(sin(radians(lat - $LAT) / 2) ^ 2 + cos(radians($LAT)) * cos(radians(lat)) * sin(radians(lon - $LON) / 2) ^ 2)) <= 50 GROUP BY 1;
EOF
total_sql=$(psql_ -f "$D/search.sql" | wc -l)
(( total_sql > 0 )) || { say "the pgbench script returns nothing"; exit 1; }
run_pgbench() {
  "${pin_client[@]}" "$AQPD_PG_BINDIR/pgbench" -h "$AQPD_PG_HOST" -p "$AQPD_PG_PORT" -U "$AQPD_PG_USER" \
    -n -M prepared -c "$CONNS" -j 1 -T "${DURATION%s}" -f "$D/search.sql" aqpd >"$D/pgbench.out" 2>&1
  grep -iE -m 3 'error|abort' "$D/pgbench.out" | sed 's/^/bench:   pgbench: /' >&2 || true
  awk '/^tps = / { print $3 }' "$D/pgbench.out"
}

# ---- part 1 ----
say "warm-up"
run_wrk "$AQPD_PORT" "$QUERY" >/dev/null
run_wrk "$E_PORT" "$QUERY" >/dev/null
run_wrk "$NGINX_PORT" "$QUERY" >/dev/null
a_rps=() e_rps=() n_rps=() p_tps=() a50=() a99=() m50=() m99=() a_cpu=() e_cpu=() n_cpu=()
for r in $(seq 1 "$ROUNDS"); do
  read -r a _ _ ac < <(run_wrk "$AQPD_PORT" "$QUERY" "" "$aqpd_pid")
  read -r e p50 p99 ec < <(run_wrk "$E_PORT" "$QUERY" "" "$E_PID")
  # shellcheck disable=SC2086
  read -r n _ _ nc < <(run_wrk "$NGINX_PORT" "$QUERY" "" $nginx_workers)
  p=$(run_pgbench)
  read -r _ mp50 mp99 _ < <(run_wrk "$E_PORT" / "$D/mix.lua")
  a_rps+=("$a") e_rps+=("$e") n_rps+=("$n") p_tps+=("$p") a50+=("$p50") a99+=("$p99") m50+=("$mp50") m99+=("$mp99")
  a_cpu+=("$ac") e_cpu+=("$ec") n_cpu+=("$nc")
  printf 'round %d (%s entries): aqpd %8.0f req/s (%.1f us CPU/req)  engine alone %8.0f req/s (%.1f us)  nginx %8.0f req/s (%.1f us)  pgbench %7.0f tps  engine p50 %.2f ms p99 %.2f ms  mix p50 %.2f ms p99 %.2f ms\n' \
    "$r" "$(metric aqpd_search_entries)" "$a" "$ac" "$e" "$ec" "$n" "$nc" "$p" "$p50" "$p99" "$mp50" "$mp99"
done
am=$(bench_median "${a_rps[@]}") em=$(bench_median "${e_rps[@]}") nm=$(bench_median "${n_rps[@]}") pm=$(bench_median "${p_tps[@]}")
acm=$(bench_median "${a_cpu[@]}") ecm=$(bench_median "${e_cpu[@]}") ncm=$(bench_median "${n_cpu[@]}")
small50=$(bench_median "${a50[@]}") small99=$(bench_median "${a99[@]}")
smix50=$(bench_median "${m50[@]}") smix99=$(bench_median "${m99[@]}")
printf 'median at %s entries: aqpd %.0f req/s, engine alone %.0f req/s, nginx %.0f req/s, pgbench %.0f tps\n' "$(metric aqpd_search_entries)" "$am" "$em" "$nm" "$pm"
printf '  1. search req/s / nginx static file req/s = %s (target >= 1.0); CPU per request nginx/aqpd = %s (%s / %s us)\n' \
  "$(bench_ratio "$am" "$nm")" "$(bench_ratio "$ncm" "$acm")" "$ncm" "$acm"
printf '     engine alone (search_cache_ms = 0): %s by req/s; CPU per request nginx/engine = %s (%s / %s us)\n' \
  "$(bench_ratio "$em" "$nm")" "$(bench_ratio "$ncm" "$ecm")" "$ncm" "$ecm"
printf '  2. search req/s / pgbench tps of the search SQL = %s, engine alone %s (target >= 3.0)\n' "$(bench_ratio "$am" "$pm")" "$(bench_ratio "$em" "$pm")"

((SITES > 0)) || exit 0

# ---- part 2: the scaled dataset ----
have=$(psql_ -c 'SELECT count(*) FROM site')
add=$((SITES - have))
say "generating $add more sites (tests/bench/gen_sites.sql, seed $SEED)"
loads0=$(get /metrics | awk '$1 == "aqpd_search_loads_total{kind=\"full\"}" { print $2 }')
t0=$(date +%s.%N)
psql_ -v n="$add" -v seed="$SEED" -f tests/bench/gen_sites.sql >/dev/null
say "generated in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s; both instances reload the whole index (NOTIFY all)"
for port in "$AQPD_PORT" "$E_PORT"; do
  for _ in $(seq 1 3000); do
    l=$(get /metrics "$port" | awk '$1 == "aqpd_search_loads_total{kind=\"full\"}" { print $2 }')
    [[ "$l" -gt "$loads0" ]] && break
    sleep 0.2
  done
done
say "index reloaded: $(metric aqpd_search_entries) entries in $(metric aqpd_search_last_full_load_ms) ms, index $(($(metric aqpd_search_index_bytes) / 1048576)) MiB"
b_rps=() b50=() b99=() bm50=() bm99=()
run_wrk "$E_PORT" "$QUERY" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  read -r a p50 p99 _ < <(run_wrk "$E_PORT" "$QUERY")
  read -r _ mp50 mp99 _ < <(run_wrk "$E_PORT" / "$D/mix.lua")
  b_rps+=("$a") b50+=("$p50") b99+=("$p99") bm50+=("$mp50") bm99+=("$mp99")
  printf 'round %d (%s entries): engine alone %8.0f req/s  p50 %.2f ms p99 %.2f ms  mix p50 %.2f ms p99 %.2f ms\n' \
    "$r" "$(metric aqpd_search_entries "$E_PORT")" "$a" "$p50" "$p99" "$mp50" "$mp99"
done
big50=$(bench_median "${b50[@]}") big99=$(bench_median "${b99[@]}")
bmix50=$(bench_median "${bm50[@]}") bmix99=$(bench_median "${bm99[@]}")
printf 'median at %s entries: engine alone %.0f req/s on the issue query\n' "$(metric aqpd_search_entries "$E_PORT")" "$(bench_median "${b_rps[@]}")"
printf '  3. latency 1M / 5.4k: issue query p50 %s (%.2f / %.2f ms), p99 %s (%.2f / %.2f ms); mix p50 %s, p99 %s (target <= 1.5)\n' \
  "$(bench_ratio "$big50" "$small50")" "$big50" "$small50" "$(bench_ratio "$big99" "$small99")" "$big99" "$small99" \
  "$(bench_ratio "$bmix50" "$smix50")" "$(bench_ratio "$bmix99" "$smix99")"
printf '  4. aqpd peak RSS (VmHWM) at %s entries: %s MiB (VmRSS now %s MiB; the instance with the answer cache)\n' "$(metric aqpd_search_entries)" \
  "$(($(awk '/^VmHWM/ { print $2 }' "/proc/$aqpd_pid/status") / 1024))" \
  "$(($(awk '/^VmRSS/ { print $2 }' "/proc/$aqpd_pid/status") / 1024))"
printf '(wrk -t1 -c%s -d%s --latency, keep-alive, TLS, loopback, %s core(s)%s; medians of %s rounds)\n' \
  "$CONNS" "$DURATION" "$(nproc)" "${pin_client:+; servers on CPU 0, clients on CPU 1}" "$ROUNDS"
