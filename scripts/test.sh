#!/usr/bin/env bash
# Runs every test: installs what is missing (scripts/deps.sh, and Redocly CLI and playwright-core
# into tests/tools/node_modules with npm ci), builds build/ (normal) and build-asan/ (AddressSanitizer
# + UndefinedBehaviorSanitizer), and runs ctest in each: cmocka unit tests and the integration
# tests against the real aqpd and a private PostgreSQL cluster. Ends with one line
# "N passed, N failed" (totals over both builds; a build that fails counts as one failure) and
# exits non-zero if anything failed.
#
# Environment: AQPD_TEST_JOBS (ctest and build parallelism, default: number of cores, at most 2
# so that timing-sensitive tests keep a core), AQPD_TEST_BUILDS (default "build build-asan").
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

jobs=${AQPD_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}
((jobs > 2)) && jobs=2
builds=${AQPD_TEST_BUILDS:-build build-asan}

passed=0
failed=0

say() { echo "test.sh: $*" >&2; }

# chromium: the browser tests/integration/web.sh drives (headless, through playwright-core).
if ! scripts/deps.sh chromium; then
  say "missing system packages (see above)"
  echo "0 passed, 1 failed"
  exit 1
fi

# ---- npm tools: Redocly CLI (openapi_lint), playwright-core (web, with Debian's chromium), Ajv (hsds_validate) ----
tools=$ROOT/tests/tools
if [[ ! -x "$tools/node_modules/.bin/redocly" || ! -f "$tools/node_modules/playwright-core/package.json" ||
  ! -f "$tools/node_modules/ajv-formats/package.json" ||
  "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]]; then
  say "installing Redocly CLI, playwright-core and Ajv into tests/tools/node_modules (npm ci)"
  if ! (cd "$tools" && timeout 900 npm ci --no-audit --no-fund --loglevel=error >&2); then
    # Not fatal here: openapi_lint, web and hsds_validate fail and are counted.
    say "npm ci failed; the openapi_lint, web and hsds_validate tests will fail"
  fi
fi

# run_build DIR CMAKE-ARGS...: configure, build, ctest; adds to passed/failed.
run_build() {
  local dir=$1
  shift
  say "==== $dir: configure and build ===="
  mkdir -p "$dir"
  if ! cmake -S . -B "$dir" "$@" >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log" >&2
    say "$dir: cmake configure FAILED"
    failed=$((failed + 1))
    return
  fi
  if ! cmake --build "$dir" -j"$jobs" >&2; then
    say "$dir: build FAILED"
    failed=$((failed + 1))
    return
  fi
  say "==== $dir: ctest ===="
  local log=$dir/ctest.log
  (cd "$dir" && ctest --output-on-failure -j"$jobs" 2>&1) | tee "$log" >&2
  # "92% tests passed, 1 tests failed out of 12" / "100% tests passed, 0 tests failed out of 17"
  local line total bad
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -z "$line" ]]; then
    say "$dir: ctest printed no summary (no tests found?)"
    failed=$((failed + 1))
    return
  fi
  bad=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + total - bad))
  failed=$((failed + bad))
  say "$dir: $((total - bad)) passed, $bad failed"
}

t0=$SECONDS
# Read only by sanitizer-instrumented binaries (build-asan/aqpd and its unit tests).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for b in $builds; do
  case "$b" in
    build-asan) run_build build-asan -DAQPD_SANITIZE=ON ;;
    *) run_build "$b" ;;
  esac
done

say "finished in $((SECONDS - t0)) s"
echo "$passed passed, $failed failed"
((failed == 0))
