#!/usr/bin/env bash
# Redaction of the signed publications and the Open Referral UK feed (DESIGN.md §6 and §8): no
# children's home's name, street address or full postcode is in any of them. The data is that
# of search_redaction.sh: the real register as qualified providers (tests/lib/bulk_ofsted.sql),
# over 3,938 children's homes each with a synthetic confidential name, address and postcode
# (search_needles collects them from the database). The board publishes it (aqpd publish), and
# every string is looked for (case-insensitively; postcodes also without their space) in:
#   - /v1/publications/1/directory.json and directory.csv, whole; /v1/publications,
#     /v1/publications/latest, /v1/publications/1 and public-key;
#   - /hsds/, and for services, organizations, service_at_locations, taxonomies and
#     taxonomy_terms: format=ndjson, the whole set in the list form and in full; every page at
#     per_page=500 in the list form and in full (services also minimal); filtered pages (a
#     children's home's taxonomy term, organisation and postcode with proximity; modified_after);
#   - the item of every service at a children's home, of every such service_at_location, of
#     every organisation running one, of every taxonomy and term, and of 20 public
#     service_at_locations;
#   - the other public routes: /, /config.json, /openapi.json, /metrics, /healthz, /readyz,
#     /v1/criteria.
# (/v1/directory, /v1/providers/{id}, /v1/commissioners and /v1/service-types:
# search_redaction.sh.)
# Shapes checked as well: every site of the database that is private is private in
# directory.json and the CSV, without name, address, postcode or town, at its district or
# council; every location of a private site has no address. Searching the feed for the words of
# the secrets finds nothing.
# Not vacuous: directory.json holds every site and the CSV one record each; each ndjson set has
# as many lines as the publication has objects of that kind; the pages add up to total_items;
# one item answer per id. Where a home's secret would be, a public site's name, address and
# postcode are found by the same scan (control strings); a council's /v1/search shows the
# secrets and the scan finds them there.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/search.sh"
t_init
T0=$(now_ms)
search_data
openssl genpkey -algorithm ed25519 -out "$T/board.pem" 2>/dev/null || fail "openssl genpkey"
export AQPD_SIGNING_KEY=$T/board.pem
aqpd_env
aqpd_start
search_wait_ready
export CACERT AQPD_PORT
search_needles "$T/needles"

# ---- a publication of the whole register ----
# (With the CLI; tests/integration/publications.sh publishes through POST /v1/publications.)
aqpd_run publish
assert_eq 0 "$RUN_EXIT" "aqpd publish: $RUN_ERR"
assert_eq "1 false" "$(jq -r '"\(.number) \(.unchanged)"' <<<"$RUN_OUT")" "the first publication"
PUB=$RUN_OUT
N_SITES=$(jq .counts.sites <<<"$PUB")
assert_eq "$(db_query "SELECT count(*) FROM site s WHERE cardinality(pub_site_services(s)) > 0")" "$N_SITES" \
  "sites in the publication: every site that delivers a service"
((N_SITES >= 5000)) || fail "only $N_SITES sites published"
# The children's homes the publication must carry (as private sites).
db_query "SELECT s.id $HOMES AND cardinality(pub_site_services(s)) > 0" | LC_ALL=C sort >"$T/homes"
N_PUB_HOMES=$(wc -l <"$T/homes")
((N_PUB_HOMES >= 3500)) || fail "only $N_PUB_HOMES children's homes in the publication"

# save NAME PATH: GET PATH (200) into $T/NAME.
save() {
  CURL_MAX_TIME=120 https GET "$2"
  expect_status 200 "GET $2"
  mv "$T/body" "$T/$1"
}

# ---- directory.json ----
save directory.json /v1/publications/1/directory.json
assert_eq "$(jq -r .sha256 <<<"$PUB")" "$(sha256sum "$T/directory.json" | cut -d' ' -f1)" "directory.json: the published bytes"
assert_eq "$N_SITES" "$(jq '.sites | length' "$T/directory.json")" "directory.json: sites"
jq -r '.sites[] | select(.private) | .id' "$T/directory.json" | LC_ALL=C sort >"$T/json_private"
assert_eq 0 "$(LC_ALL=C comm -23 "$T/homes" "$T/json_private" | wc -l)" "children's homes that directory.json does not mark private"
assert_eq 0 "$(jq '[.sites[] | select(.private and (has("name") or has("address") or has("postcode")
  or has("town") or (.location_basis | IN("postcode_district", "local_authority") | not)))] | length' "$T/directory.json")" \
  "directory.json: private sites with a name, address, postcode or town, or a point of their own"
N_SAL=$(jq '[.sites[].service_types | length] | add' "$T/directory.json")
N_SAL_PRIVATE=$(jq '[.sites[] | select(.private) | .service_types | length] | add' "$T/directory.json")
# Control strings: the names, addresses and postcodes of public sites (plain ASCII, so written
# alike in JSON and CSV; names that are not also an organisation's), which the outputs do show
# where they would show a home's.
jq -r '[.organisations[].name | ascii_downcase] as $orgs | .sites[] | select(.private | not) |
  (.name | select(ascii_downcase | IN($orgs[]) | not)), .address, .postcode | select(. != null)' "$T/directory.json" |
  grep -E "^[A-Za-z0-9 ,.'-]{6,}$" | sort -u >"$T/control"
(($(wc -l <"$T/control") >= 1000)) || fail "only $(wc -l <"$T/control") control strings"

# ---- directory.csv, read back by PostgreSQL's own CSV parser ----
save directory.csv /v1/publications/1/directory.csv
assert_eq "$((N_SITES + 1))" "$(grep -c $'\r$' "$T/directory.csv")" "directory.csv: a header and a record a site"
fixture_psql -d "$DB_NAME" -c "CREATE TABLE t_csv (site_id uuid PRIMARY KEY, organisation_id uuid,
  organisation_name text, site_name text, address text, postcode text, postcode_district text,
  la_code text, local_authority text, region text, latitude text, longitude text,
  location_basis text, address_private boolean, service_types text, ofsted_urn text,
  ofsted_rating text, places text, vacancies text, vacancies_at text, age_min text, age_max text)" \
  -c "\\copy t_csv FROM '$T/directory.csv' WITH (FORMAT csv, HEADER true)" >/dev/null ||
  fail "directory.csv does not load as CSV"
assert_eq "$N_SITES $(wc -l <"$T/json_private")" \
  "$(db_query "SELECT count(*) || ' ' || count(*) FILTER (WHERE address_private) FROM t_csv")" "directory.csv: records, private"
assert_eq 0 "$(db_query "SELECT count(*) FROM t_csv WHERE address_private
  AND (site_name IS NOT NULL OR address IS NOT NULL OR postcode IS NOT NULL)")" \
  "directory.csv: private records with a site name, address or postcode"
assert_eq 0 "$(db_query "SELECT count(*) $HOMES AND cardinality(pub_site_services(s)) > 0
  AND NOT EXISTS (SELECT 1 FROM t_csv c WHERE c.site_id = s.id AND c.address_private)")" \
  "children's homes that directory.csv does not mark private"

# ---- the Open Referral UK feed: every set whole, as ndjson ----
declare -A WANT=([services]=$(jq .counts.qualifications <<<"$PUB") [organizations]=$(jq .counts.organisations <<<"$PUB")
  [service_at_locations]=$N_SAL [taxonomies]=2 [taxonomy_terms]=$(($(jq '.service_types | length' "$T/directory.json") + 4)))
HSDS_LISTS="services organizations service_at_locations taxonomies taxonomy_terms"
for ep in $HSDS_LISTS; do
  https GET "/hsds/$ep?per_page=1"
  assert_eq "${WANT[$ep]}" "$(jq .total_items <<<"$HTTP_BODY")" "/hsds/$ep: total_items"
  save "$ep.list.ndjson" "/hsds/$ep?format=ndjson"
  save "$ep.full.ndjson" "/hsds/$ep?format=ndjson&full=true"
  for form in list full; do
    assert_eq "${WANT[$ep]}" "$(grep -c . "$T/$ep.$form.ndjson")" "/hsds/$ep ndjson ($form): lines"
  done
done
# Locations of private sites: the generic name, no address. ($p: the private sites' ids.)
PRIV='($ids | split("\n") | map(select(length > 0) | {key: ., value: true}) | from_entries) as $p | '
sal() { jq -nr --rawfile ids "$T/json_private" "$PRIV $1" "$T/service_at_locations.${2:-list}.ndjson"; }
for form in list full; do
  assert_eq "$N_SAL_PRIVATE 0" "$(sal '[inputs | select($p[.location_id])] | "\(length) \(map(select(
    (.location | has("addresses")) or (.location.name | startswith("Children\u0027s home in ") | not))) | length)"' "$form")" \
    "/hsds/service_at_locations ($form): private locations, those with an address or another name"
done
sal 'inputs | select($p[.location_id]) | .id' >"$T/sal_private"
sal 'inputs | select($p[.location_id]) | .service_id' | sort -u >"$T/svc_private"
sal 'inputs | select($p[.location_id]) | .service.organization_id' | sort -u >"$T/org_private"
sal 'limit(20; inputs | select($p[.location_id] | not) | .id)' >"$T/sal_public"
CH_TERM=$(jq -r 'select(.term == "childrens-home") | .id' "$T/taxonomy_terms.list.ndjson")
[[ "$CH_TERM" =~ ^[0-9a-f-]{36}$ ]] || fail "no childrens-home taxonomy term"
HOME_ORG=$(head -n 1 "$T/org_private")
HOME_OUTCODE=$(db_query "SELECT split_part(s.postcode, ' ', 1) $HOMES AND s.postcode IS NOT NULL ORDER BY s.id LIMIT 1")

# ---- searching the feed for the secrets' words finds nothing ----
HOME_NAME=$(db_query "SELECT s.name $HOMES AND s.name LIKE 'Confidential home %' ORDER BY s.id LIMIT 1")
for q in confidential secretby "private lane" "$HOME_NAME"; do
  for ep in services organizations service_at_locations; do
    https GET "/hsds/$ep?search=$(jq -rn --arg q "$q" '$q | @uri')"
    assert_eq 0 "$(jq .total_items <<<"$HTTP_BODY")" "/hsds/$ep?search=$q"
  done
done
PUBLIC_NAME=$(jq -r '[.sites[] | select(.private | not) | .name | select(test("^[A-Za-z ]{8,}$"))][0]' "$T/directory.json")
https GET "/hsds/service_at_locations?search=$(jq -rn --arg q "$PUBLIC_NAME" '$q | @uri')"
assert_le 1 "$(jq .total_items <<<"$HTTP_BODY")" "/hsds/service_at_locations?search= a public site's name (the search works)"

# ---- every answer, scanned ----
{
  for f in directory.json directory.csv; do
    echo "$T/$f - file $f"
  done
  for ep in $HSDS_LISTS; do
    echo "$T/$ep.list.ndjson - file ndjson.$ep"
    echo "$T/$ep.full.ndjson - file ndjson.$ep.full"
    echo "/hsds/$ep?per_page=500 - pages pages.$ep"
    echo "/hsds/$ep?per_page=500&full=true - pages pages.$ep.full"
  done
  echo "/hsds/services?per_page=500&minimal=true - pages pages.services.minimal"
  echo "/hsds/services?taxonomy_term_id=$CH_TERM&full=true&per_page=500 - pages filtered"
  echo "/hsds/service_at_locations?taxonomy_term_id=$CH_TERM&full=true&per_page=500 - pages filtered"
  echo "/hsds/services?organization_id=$HOME_ORG&full=true&per_page=500 - pages filtered"
  echo "/hsds/service_at_locations?postcode=$HOME_OUTCODE&proximity=30000&full=true&per_page=500 - pages filtered"
  echo "/hsds/organizations?modified_after=2000-01-01T00:00:00Z&full=true&per_page=500 - pages filtered"
  sed "s|^|/hsds/service_at_locations/|; s|$| - get items.service_at_locations|" "$T/sal_private"
  sed "s|^|/hsds/services/|; s|$| - get items.services|" "$T/svc_private"
  sed "s|^|/hsds/organizations/|; s|$| - get items.organizations|" "$T/org_private"
  jq -r '"/hsds/taxonomies/\(.id) - get items.taxonomies"' "$T/taxonomies.list.ndjson"
  jq -r '"/hsds/taxonomy_terms/\(.id) - get items.taxonomy_terms"' "$T/taxonomy_terms.list.ndjson"
  sed "s|^|/hsds/service_at_locations/|; s|$| - get items.public|" "$T/sal_public"
  for p in /hsds/ /v1/publications /v1/publications/latest /v1/publications/1 /v1/publications/public-key; do
    echo "$p - get metadata"
  done
  for p in / /config.json /openapi.json /metrics /healthz /readyz /v1/criteria; do
    echo "$p - get other"
  done
} >"$T/public"
T1=$(now_ms)
SCAN_CONTROL=$T/control node "$SEARCH_ORACLE" scan - "$T/needles" "$T/public" >"$T/scan.out" 2>"$T/scan.err" ||
  fail "confidential data in the publication or the feed: $(head -c 4000 "$T/scan.err") $(head -c 2000 "$T/scan.out")"
SCAN=$(<"$T/scan.out")
note "scanned in $(($(now_ms) - T1)) ms: $(jq -c 'del(.groups)' <<<"$SCAN")"
while read -r line; do note "  $line"; done < <(jq -r '.groups | to_entries[] | "\(.key): \(.value | tojson)"' <<<"$SCAN")
assert_eq 0 "$(jq .hits <<<"$SCAN")" "confidential strings in the publication and the feed"

# Not vacuous: what each kind of answer amounted to.
group() { jq -r --arg g "$1" ".groups[\$g].$2" <<<"$SCAN"; }
assert_eq "$(wc -c <"$T/directory.json")" "$(group directory.json bytes)" "directory.json scanned whole"
assert_eq "$((N_SITES + 1))" "$(group directory.csv lines)" "directory.csv lines scanned"
for ep in $HSDS_LISTS; do
  assert_eq "${WANT[$ep]}" "$(group "ndjson.$ep" lines)" "ndjson.$ep lines scanned"
  assert_eq "${WANT[$ep]}" "$(group "ndjson.$ep.full" lines)" "ndjson.$ep.full lines scanned"
  assert_eq "${WANT[$ep]}" "$(group "pages.$ep" items)" "pages.$ep: objects scanned"
  assert_eq "${WANT[$ep]}" "$(group "pages.$ep.full" items)" "pages.$ep.full: objects scanned"
done
assert_eq "${WANT[services]}" "$(group pages.services.minimal items)" "pages.services.minimal: objects scanned"
assert_le "$N_PUB_HOMES" "$(group filtered items)" "filtered pages: objects scanned"
assert_eq "$N_SAL_PRIVATE" "$(group items.service_at_locations bodies)" "service_at_locations of children's homes, one by one"
assert_eq "$(wc -l <"$T/svc_private")" "$(group items.services bodies)" "services at children's homes, one by one"
assert_eq "$(wc -l <"$T/org_private")" "$(group items.organizations bodies)" "organisations running children's homes, one by one"
# The control strings were found wherever a site's name, address or postcode is shown.
for g in directory.json directory.csv ndjson.service_at_locations ndjson.service_at_locations.full \
  ndjson.services.full pages.service_at_locations pages.service_at_locations.full pages.services.full; do
  assert_le 500 "$(group "$g" control_hits)" "$g: public sites' names, addresses and postcodes found (control)"
done
assert_le 10 "$(group items.public control_hits)" "20 public service_at_locations: their names, addresses and postcodes found (control)"

# ---- the scan finds the secrets where they may be shown: a council's /v1/search ----
K_LEEDS=$(skey commissioner --commissioner E08000035)
export K_LEEDS
echo "/v1/search?q=Confidential&service_type=childrens-home&limit=100 K_LEEDS" >"$T/council"
SCAN_EXPECT=hits node "$SEARCH_ORACLE" scan - "$T/needles" "$T/council" >"$T/scan2.out" 2>"$T/scan2.err" ||
  fail "the scanner found nothing in a council's answer: $(head -c 2000 "$T/scan2.err")"
assert_le 200 "$(jq .hits "$T/scan2.out")" "confidential strings found in a page of 100 children's homes (a council's view)"

aqpd_stop
note "publication redaction test took $(($(now_ms) - T0)) ms"
