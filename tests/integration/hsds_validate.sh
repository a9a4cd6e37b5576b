#!/usr/bin/env bash
# The Open Referral UK 3.0 feed validated offline by the ORUK validator's method: /hsds/, then
# for every list endpoint page 1, a middle page and the last page (per_page=1, so a small
# directory has several pages), the full and minimal forms, ndjson, and one item of each, every
# response checked with Ajv (JSON Schema 2020-12, formats on) against
# ../shared/data/hsds/oruk-3.0/schema (service_capacity against HSDS 3.1) by
# tests/lib/hsds_validate.js. Zero errors is the bar. The same for a directory where nothing is
# qualified. Along the way: a children's home's name, street and full postcode appear in no
# response; filters and parameter errors; paging arithmetic; ETag and CORS.
source "$(dirname "$0")/../lib/common.sh"
t_init
HSDS_DIR=${AQPD_HSDS_DIR:-$AQPD_SOURCE_DIR/../shared/data/hsds}
[[ -d "$HSDS_DIR/oruk-3.0/schema" ]] || fail "no ORUK schemas in $HSDS_DIR (../shared/data/hsds)"
[[ -f "$AQPD_SOURCE_DIR/tests/tools/node_modules/ajv/package.json" ]] ||
  fail "Ajv is not installed in tests/tools (scripts/test.sh runs npm ci there)"

openssl genpkey -algorithm ed25519 -out "$T/board.pem" 2>/dev/null || fail "openssl genpkey"
export AQPD_SIGNING_KEY=$T/board.pem

# setup_directory SUFFIX SEED?: a database with the reference data, optionally seeded, and a
# publication of it.
setup_directory() {
  directory_database "$1" "${2:-}"
  aqpd_run publish
  assert_eq 0 "$RUN_EXIT" "aqpd publish: $RUN_ERR"
  assert_eq false "$(jq -r .unchanged <<<"$RUN_OUT")" "a first publication is new"
}

MANIFEST=$T/manifest
N=0
# fetch SCHEMA PATH: GET PATH (200 expected), keep the body for validation against SCHEMA.
fetch() {
  https GET "$2"
  expect_status 200 "GET $2"
  N=$((N + 1))
  cp "$T/body" "$T/r.$N.json"
  echo "$1 $T/r.$N.json" >>"$MANIFEST"
}

# validate_feed: the validator's walk over the feed of the aqpd started last.
validate_feed() {
  fetch api_details.json /hsds/
  assert_eq HSDS-UK-3.0 "$(jq -r .version <<<"$HTTP_BODY")" "version"
  local ep schema item total pages mid id
  for ep in services organizations service_at_locations taxonomies taxonomy_terms; do
    case $ep in
      services) schema=service_list.json item=service.json ;;
      organizations) schema=organization_list.json item=organization.json ;;
      service_at_locations) schema=service_at_location_list.json item=service_at_location.json ;;
      taxonomies) schema=taxonomy_list.json item=taxonomy.json ;;
      taxonomy_terms) schema=taxonomy_term_list.json item=taxonomy_term.json ;;
    esac
    fetch "$schema" "/hsds/$ep?per_page=1"
    total=$(jq -r .total_items <<<"$HTTP_BODY")
    pages=$(jq -r .total_pages <<<"$HTTP_BODY")
    if ((total == 0)); then
      echo "empy_list_response.json $T/r.$N.json" >>"$MANIFEST"
      assert_eq "1 true true true 0" "$(jq -r '"\(.total_pages) \(.first_page) \(.last_page) \(.empty) \(.size)"' <<<"$HTTP_BODY")" "$ep: an empty page"
      continue
    fi
    assert_eq "$total" "$pages" "$ep: total_pages with per_page=1"
    id=$(jq -r '.contents[0].id' <<<"$HTTP_BODY")
    mid=$(((pages + 1) / 2))
    fetch "$schema" "/hsds/$ep?per_page=1&page=$mid"
    assert_eq "$mid $( ((mid == 1)) && echo true || echo false)" "$(jq -r '"\(.page_number) \(.first_page)"' <<<"$HTTP_BODY")" "$ep: middle page"
    fetch "$schema" "/hsds/$ep?per_page=1&page=$pages"
    assert_eq "true 1 false" "$(jq -r '"\(.last_page) \(.size) \(.empty)"' <<<"$HTTP_BODY")" "$ep: last page"
    fetch "$schema" "/hsds/$ep?full=true"
    assert_eq "$total" "$(jq '.contents | length' <<<"$HTTP_BODY")" "$ep: every item on one page of 50"
    fetch "$item" "/hsds/$ep/$id"
    assert_eq "$id" "$(jq -r .id <<<"$HTTP_BODY")" "$ep: the item"
    fetch "ndjson:$item" "/hsds/$ep?format=ndjson"
    assert_eq "$total" "$(grep -c . "$T/r.$N.json")" "$ep: ndjson lines"
  done
  fetch service_list.json "/hsds/services?minimal=true"
  node "$AQPD_SOURCE_DIR/tests/lib/hsds_validate.js" "$HSDS_DIR" "$MANIFEST" >"$T/ajv.out" 2>&1 ||
    fail "ORUK validation failed: $(tail -n 30 "$T/ajv.out")"
  note "$(tail -n 1 "$T/ajv.out")"
  assert_contains "$(tail -n 1 "$T/ajv.out")" ", 0 errors" "validator summary"
}

# ---- a small directory ----
setup_directory full seed
aqpd_env
aqpd_start
: >"$MANIFEST"
validate_feed
grep -q '"service_capacity"' "$T"/r.*.json || fail "no service_capacity was validated"

# A children's home's name, street and full postcode are in no response.
for secret in 'Secret Lane' 'LS6 2AB' '"Woodside House"' 'Hidden Cottage' 'Quiet Road'; do
  if grep -lF -- "$secret" "$T"/r.*.json >/dev/null; then
    fail "'$secret' (a children's home's private detail) was published in $(grep -lF -- "$secret" "$T"/r.*.json | head -n 1)"
  fi
done
# ...while the public office keeps its address.
https GET /hsds/service_at_locations?search=family%20hub
assert_contains "$HTTP_BODY" '10 Park Row' "a public site's address"
assert_contains "$HTTP_BODY" '"postal_code": "LS1 5AB"' "a public site's postcode"

# Filters.
https GET /hsds/taxonomy_terms?search=children
CH_TERM=$(jq -r '.contents[] | select(.term == "childrens-home") | .id' <<<"$HTTP_BODY")
[[ "$CH_TERM" =~ ^[0-9a-f-]{36}$ ]] || fail "no childrens-home term: $HTTP_BODY"
https GET "/hsds/services?taxonomy_term_id=$CH_TERM"
assert_eq "1 Children's home - Woodside House Care Ltd" "$(jq -r '"\(.total_items) \(.contents[0].name)"' <<<"$HTTP_BODY")" "taxonomy_term_id"
https GET "/hsds/services?organization_id=a0000000-0000-4000-8000-000000000002"
assert_eq 2 "$(jq -r .total_items <<<"$HTTP_BODY")" "organization_id"
https GET "/hsds/services?search=EDGE%20of"
assert_eq 1 "$(jq -r .total_items <<<"$HTTP_BODY")" "search (case-insensitive)"
https GET "/hsds/services?modified_after=2199-01-01T00:00:00Z"
assert_eq 0 "$(jq -r .total_items <<<"$HTTP_BODY")" "modified_after in the future"
https GET "/hsds/services?modified_after=2000-01-01"
assert_eq 3 "$(jq -r .total_items <<<"$HTTP_BODY")" "modified_after in the past"
# LS6's centroid is ~3 km from the Leeds office and ~22 km from the Bradford home (located by
# its council's centroid).
https GET "/hsds/service_at_locations?postcode=ls6%201aa&proximity=5000"
assert_eq "3 Children's home in postcode district LS6" "$(jq -r '"\(.total_items) \(.contents[0].location.name)"' <<<"$HTTP_BODY")" "postcode + proximity, nearest first"
https GET "/hsds/service_at_locations?postcode=LS6"
assert_eq 4 "$(jq -r .total_items <<<"$HTTP_BODY")" "postcode alone sorts, filters nothing"
https GET "/hsds/service_at_locations?postcode=LS6&proximity=5000&format=ndjson"
assert_eq 3 "$(grep -c . "$T/body")" "proximity with ndjson"
assert_contains "$HTTP_CTYPE" application/x-ndjson "ndjson media type"

# Parameter errors name the parameter.
for bad in 'services?page=0:page' 'services?per_page=501:per_page' 'services?taxonomy_term_id=x:taxonomy_term_id' \
  'services?organization_id=1:organization_id' 'services?modified_after=yesterday:modified_after' \
  'services?minimal=maybe:minimal' 'services?format=xml:format' \
  'service_at_locations?postcode=NOTAPOSTCODE:postcode' 'service_at_locations?proximity=100:proximity' \
  'service_at_locations?postcode=LS6&proximity=-1:proximity'; do
  https GET "/hsds/${bad%%:*}"
  expect_problem 400 invalid_parameter "/hsds/${bad%%:*}"
  assert_contains "$(jq -r .detail <<<"$HTTP_BODY")" "${bad##*:}" "the detail names ${bad##*:}"
done
https GET "/hsds/service_at_locations?postcode=ZZ99"
expect_problem 400 unknown_postcode "an unknown postcode district"
https GET /hsds/services/not-a-uuid
expect_problem 404 not_found "a malformed id"
https GET /hsds/services/00000000-0000-4000-8000-000000000000
expect_problem 404 not_found "an unknown id"

# ETag, If-None-Match, CORS.
https GET "/hsds/services?per_page=2"
ETAG=$(header etag)
[[ "$ETAG" =~ ^\"[0-9a-f]{32}-[0-9a-f]{16}\"$ ]] || fail "ETag: '$ETAG'"
assert_eq '*' "$(header access-control-allow-origin)" "CORS"
https GET "/hsds/services?per_page=2" -H "If-None-Match: $ETAG"
expect_status 304 "If-None-Match with the current tag"
assert_eq "" "$HTTP_BODY" "a 304 has no body"
https GET "/hsds/services?per_page=3" -H "If-None-Match: $ETAG"
expect_status 200 "another query has another tag"
aqpd_stop

# ---- a directory where nothing is qualified ----
setup_directory empty
aqpd_start
: >"$MANIFEST"
validate_feed
https GET /hsds/services
assert_eq "0 1 true true true" "$(jq -r '"\(.total_items) \(.total_pages) \(.first_page) \(.last_page) \(.empty)"' <<<"$HTTP_BODY")" "an empty directory's page"
aqpd_stop
