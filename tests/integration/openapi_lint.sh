#!/usr/bin/env bash
# api/openapi.json passes `redocly lint` (rules in redocly.yaml). Redocly CLI is installed into
# tests/tools/node_modules by scripts/test.sh (npm ci); missing, this test fails: no skipping.
source "$(dirname "$0")/../lib/common.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/aqpd-$TEST_NAME.XXXXXX")
trap _t_cleanup EXIT

redocly=$AQPD_SOURCE_DIR/tests/tools/node_modules/.bin/redocly
[[ -x "$redocly" ]] ||
  fail "redocly is not installed at $redocly: run scripts/test.sh, or: npm ci --prefix tests/tools"
jq -e . "$AQPD_SOURCE_DIR/api/openapi.json" >/dev/null || fail "api/openapi.json is not JSON"

cd "$AQPD_SOURCE_DIR" || fail "cannot cd to $AQPD_SOURCE_DIR"
rc=0
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1 \
  timeout 120 "$redocly" lint api/openapi.json --format=stylish >"$T/lint.out" 2>&1 || rc=$?
cat "$T/lint.out" >&2
assert_eq 0 "$rc" "redocly lint api/openapi.json exit status"
