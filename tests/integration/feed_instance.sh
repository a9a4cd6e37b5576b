#!/usr/bin/env bash
# A publication and feed instance (search_index = false; README "Running a publication and feed
# instance"): on the same database where an indexed instance loads its entries, it loads none
# (metrics: index off, 0 entries, 0 bytes, even after a NOTIFY that would reload an index), logs
# that the index is off, is ready as soon as the database answers, answers /v1/directory and
# /v1/search with the documented 503 search_not_served (no Retry-After), and serves everything
# else: a publication made through the API, its directory.csv, the Open Referral feed as
# ndjson, a provider page, the web page. SIGHUP cannot switch the index on (restart only).
source "$(dirname "$0")/../lib/common.sh"
t_init
directory_database "" seed
aqpd_run key create --role board
BOARD=$RUN_OUT
openssl genpkey -algorithm ed25519 -out "$T/board.pem" 2>/dev/null || fail "openssl genpkey"
export AQPD_SIGNING_KEY=$T/board.pem
aqpd_env

# wait_ready WHAT: /readyz 200 within 10 s.
wait_ready() {
  for _ in $(seq 1 100); do
    https GET /readyz
    [[ "$HTTP_STATUS" == 200 ]] && return 0
    sleep 0.1
  done
  expect_status 200 "$1"
}

# ---- control: an instance with the index (the default) loads this directory's entries ----
aqpd_start
wait_ready "/readyz of the indexed instance"
https GET /v1/directory
expect_status 200 "the indexed instance's directory"
ENTRIES=$(jq -r .total <<<"$HTTP_BODY")
assert_le 1 "$ENTRIES" "entries the indexed instance finds"
https GET /metrics
assert_eq 1 "$(metric_value "$HTTP_BODY" aqpd_search_index_enabled)" "indexed: aqpd_search_index_enabled"
assert_eq "$ENTRIES" "$(metric_value "$HTTP_BODY" aqpd_search_entries)" "indexed: aqpd_search_entries"
assert_le 1 "$(metric_value "$HTTP_BODY" aqpd_search_index_bytes)" "indexed: aqpd_search_index_bytes"
aqpd_stop

# ---- the feed instance: search_index = false in its config file ----
cat >"$T/feed.conf" <<CONF
search_index = false
CONF
aqpd_start -c "$T/feed.conf"
wait_ready "/readyz of the instance without the index"
assert_eq ready "$(jq -r .status <<<"$HTTP_BODY")" "readyz body"
assert_file_contains "$AQPD_LOG" '"search index off \(search_index = false\)' "the start-up log line"

for path in /v1/directory '/v1/directory?service_type=childrens-home&near=LS6&radius_km=50'; do
  https GET "$path"
  expect_problem 503 search_not_served "GET $path without the index"
  assert_contains "$(jq -r .detail <<<"$HTTP_BODY")" "search_index is off" "its detail names the key"
  assert_eq "" "$(header retry-after)" "no Retry-After: waiting does not help"
  assert_eq '*' "$(header access-control-allow-origin)" "CORS on the public route's problem"
done
https GET /v1/search -H "Authorization: Bearer $BOARD"
expect_problem 503 search_not_served "GET /v1/search (board) without the index"
https GET /v1/search
expect_problem 401 unauthenticated "GET /v1/search without a key still needs one"

# A change that would reload an index, then time for any load: still nothing in memory.
db_query "SELECT pg_notify('aqpd_index', 'all:' || txid_current())" >/dev/null
sleep 1
https GET /metrics
expect_status 200 "metrics without the index"
M=$HTTP_BODY
assert_eq 0 "$(metric_value "$M" aqpd_search_index_enabled)" "aqpd_search_index_enabled"
grep -q '^aqpd_search_index_enabled 0$' <<<"$M" || fail "metrics lack 'aqpd_search_index_enabled 0'"
assert_eq 0 "$(metric_value "$M" aqpd_search_entries)" "aqpd_search_entries"
assert_eq 0 "$(metric_value "$M" aqpd_search_index_bytes)" "aqpd_search_index_bytes"
assert_eq 0 "$(metric_value "$M" aqpd_search_loads_total kind=full)" "full index loads"
if grep -q '"search: ' "$AQPD_LOG"; then
  fail "the search loader ran: $(grep '"search: ' "$AQPD_LOG" | head -n 3)"
fi

# Everything else: publish through the API, the CSV, the feed, a provider page, the web page.
https POST /v1/publications -H "Authorization: Bearer $BOARD"
expect_status 201 "publishing from the instance without the index"
assert_eq 1 "$(jq -r .number <<<"$HTTP_BODY")" "publication number"
https GET /v1/publications/1/directory.csv
expect_status 200 "directory.csv"
expect_ctype text/csv "directory.csv media type"
SITES=$(db_query "SELECT count(*) FROM publication_entry WHERE publication = 1 AND kind = 'site'")
assert_le 1 "$SITES" "sites published"
assert_eq $((SITES + 1)) "$(grep -c $'\r$' "$T/body")" "directory.csv: a header and every site"
assert_contains "$HTTP_BODY" ',Leeds Family Hub,' "directory.csv has a site"
https GET '/hsds/services?format=ndjson'
expect_status 200 "/hsds/services?format=ndjson"
assert_eq "$(db_query "SELECT count(*) FROM publication_entry WHERE publication = 1 AND kind = 'service'")" \
  "$(grep -c . "$T/body")" "ndjson: every service"
jq -e -s 'length > 0 and all(.[]; has("id") and has("name"))' "$T/body" >/dev/null ||
  fail "ndjson lines are not services: $(head -c 300 "$T/body")"
https GET /hsds/
expect_status 200 "/hsds/"
https GET /v1/providers/a0000000-0000-4000-8000-000000000002
expect_status 200 "a provider page (SQL)"
assert_eq "Leeds Family Support CIC" "$(jq -r .name <<<"$HTTP_BODY")" "the provider page's name"
https GET /
expect_status 200 "the web page"
expect_ctype text/html "the web page's media type"

# SIGHUP with search_index = true: refused for this key (restart only), the rest reloads.
echo "search_index = true" >"$T/feed.conf"
kill -HUP "$AQPD_PID"
for _ in $(seq 1 50); do
  grep -q '"reloaded configuration' "$AQPD_LOG" && break
  sleep 0.1
done
assert_file_contains "$AQPD_LOG" '"reloaded configuration' "the reload happened"
assert_file_contains "$AQPD_LOG" 'needs a restart.*"search_index"' "the reload names search_index as restart-only"
https GET /v1/directory
expect_problem 503 search_not_served "after SIGHUP with search_index = true"
https GET /readyz
expect_status 200 "readyz after SIGHUP"
aqpd_stop
