#!/usr/bin/env bash
# Benchmark, not a test: the search index (api/index) at 5,600 and 1,000,000 entries generated
# from the real register and postcode districts (see index_bench.c). Compiles the benchmark with
# the core library's sources it needs (api/index.c, daemon/util.c, daemon/csv.c) using the
# project's warning flags at -O2, like the RelWithDebInfo build, so it does not depend on the
# state of build/; then runs it and prints p50/p99 per query set at both sizes, the ratios,
# build time, update costs, bytes per entry and peak RSS, and a digest of each mix query's answer
# at ENTRIES (to see that a change to the index left the answers alone). With QUERIES (mix query
# numbers, e.g. 1,17), only those queries at ENTRIES, each MIX_REPS times in a row.
#
#   tests/bench/index_bench.sh [ENTRIES [BENCH_REPS [MIX_REPS [QUERIES]]]]   (defaults 1000000 5000 300)
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_tmpdir aqpd-index-bench
bench_pin

${CC:-cc} -std=c11 -O2 -g -DNDEBUG -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT" \
  -o "$D/index_bench" tests/bench/index_bench.c api/index.c daemon/util.c daemon/csv.c -lm

"${pin_client[@]}" "$D/index_bench" "$ROOT" "${1:-1000000}" "${2:-5000}" "${3:-300}" ${4:+"$4"}
