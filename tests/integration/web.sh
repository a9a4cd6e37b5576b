#!/usr/bin/env bash
# The public web page (issue 6), against the real aqpd and the real /v1/directory:
#   - HTTP: GET / and every asset with its Content-Type, the exact bytes of web/, ETag and a 304
#     for If-None-Match (and a 200 for a stale tag), Cache-Control, the Content-Security-Policy
#     (strict; the tile server's origin only when tile_url is set), HEAD, 404 for an unknown
#     asset, /config.json;
#   - data made through the API as a provider, a council and the board would: three fostering
#     agencies (two within 50 km of LS6, one in London) and a children's home in Leeds with a
#     private street address, each qualified nationally on its real Ofsted registration, and
#     agreements with Leeds and Bradford;
#   - the browser (tests/integration/web.js: Playwright driving Debian's Chromium, headless):
#     searches "LS6" for fostering within 50 km and compares the list and the map's markers with
#     the API's answer, opens a provider with the keyboard (services, councils, Ofsted ratings),
#     closes it with Escape (focus returns), checks the children's home is shown at district
#     level with no street address or full postcode anywhere in the DOM, shows the API's
#     problem for an unknown postcode, checks labels, landmarks and colour contrast, that no
#     request left loopback and that the policy blocked nothing; then again with tile_url set,
#     tiles load through the policy. Screenshots are kept in $AQPD_TEST_STATE/screenshots.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/pipeline.sh"
t_init
new_database

CHROMIUM=${AQPD_CHROMIUM:-$(command -v chromium || true)}
[[ -x "$CHROMIUM" ]] || fail "chromium is missing (scripts/deps.sh installs it; or set AQPD_CHROMIUM)"
PLAYWRIGHT=$AQPD_SOURCE_DIR/tests/tools/node_modules/playwright-core
[[ -f "$PLAYWRIGHT/package.json" ]] ||
  fail "playwright-core is missing from tests/tools/node_modules (scripts/test.sh runs npm ci there)"
command -v node >/dev/null || fail "node is missing (scripts/deps.sh installs it)"

for what in "ofsted $OFSTED_CSV" "commissioners $AQPD_SOURCE_DIR/data" "postcodes"; do
  # shellcheck disable=SC2086 # the words are the command's arguments
  aqpd_run import $what
  assert_eq 0 "$RUN_EXIT" "aqpd import $what (stderr: $(tail -n 3 <<<"$RUN_ERR"))"
done

aqpd_env
aqpd_start
wait_for_ready() {
  for _ in $(seq 1 100); do
    https GET /readyz
    [[ "$HTTP_STATUS" == 200 ]] && return
    sleep 0.05
  done
  fail "aqpd not ready"
}
wait_for_ready

# ---- HTTP: the page and its assets ----
CSP_NO_TILES="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
https GET /
expect_status 200 "GET /"
expect_ctype "text/html; charset=utf-8" "GET /"
cmp -s "$T/body" "$AQPD_SOURCE_DIR/web/index.html" || fail "GET / is not web/index.html byte for byte"
assert_eq "$CSP_NO_TILES" "$(header Content-Security-Policy)" "the page's policy without tile_url"
assert_eq "public, no-cache" "$(header Cache-Control)" "Cache-Control of the page"
ETAG=$(header ETag)
assert_match "$ETAG" '^"[0-9a-f]{32}"$' "the page's ETag"
assert_eq "$(sha256sum "$AQPD_SOURCE_DIR/web/index.html" | cut -c1-32)" "$(tr -d '"' <<<"$ETAG")" \
  "the page's ETag is the start of its SHA-256"
assert_eq nosniff "$(header X-Content-Type-Options)" "X-Content-Type-Options of the page"
assert_eq DENY "$(header X-Frame-Options)" "X-Frame-Options of the page"
https GET / -H "If-None-Match: $ETAG"
expect_status 304 "GET / with its own ETag"
assert_eq "" "$HTTP_BODY" "the body of a 304"
assert_eq "$ETAG" "$(header ETag)" "the ETag of a 304"
https GET / -H "If-None-Match: \"0123\", W/$ETAG"
expect_status 304 "GET / with a list holding the weak form of its ETag"
https GET / -H 'If-None-Match: "00000000000000000000000000000000"'
expect_status 200 "GET / with a stale ETag"
https HEAD / -I
expect_status 200 "HEAD /"
assert_eq "$ETAG" "$(header ETag)" "HEAD / ETag"

# path file content-type cache-control
while read -r path file ctype cache; do
  https GET "$path"
  expect_status 200 "GET $path"
  expect_ctype "${ctype//_/ }" "GET $path"
  cmp -s "$T/body" "$AQPD_SOURCE_DIR/web/$file" || fail "GET $path is not web/$file byte for byte"
  assert_eq "${cache//_/ }" "$(header Cache-Control)" "Cache-Control of $path"
  assert_eq "default-src 'none'; frame-ancestors 'none'" "$(header Content-Security-Policy)" "policy of $path"
  tag=$(header ETag)
  https GET "$path" -H "If-None-Match: $tag"
  expect_status 304 "GET $path with its ETag"
done <<'EOF'
/assets/app.js app.js text/javascript;_charset=utf-8 public,_no-cache
/assets/app.css app.css text/css;_charset=utf-8 public,_no-cache
/assets/england-las.geojson england-las.geojson application/geo+json public,_max-age=86400
/assets/leaflet/leaflet.js vendor/leaflet/leaflet.js text/javascript;_charset=utf-8 public,_max-age=86400
/assets/leaflet/leaflet.css vendor/leaflet/leaflet.css text/css;_charset=utf-8 public,_max-age=86400
/assets/leaflet/LICENSE vendor/leaflet/LICENSE text/plain;_charset=utf-8 public,_max-age=86400
/assets/leaflet/images/layers.png vendor/leaflet/images/layers.png image/png public,_max-age=86400
/assets/leaflet/images/layers-2x.png vendor/leaflet/images/layers-2x.png image/png public,_max-age=86400
/assets/leaflet/images/marker-icon.png vendor/leaflet/images/marker-icon.png image/png public,_max-age=86400
/assets/leaflet/images/marker-icon-2x.png vendor/leaflet/images/marker-icon-2x.png image/png public,_max-age=86400
/assets/leaflet/images/marker-shadow.png vendor/leaflet/images/marker-shadow.png image/png public,_max-age=86400
EOF
assert_eq 153 "$(jq '.features | length' "$AQPD_SOURCE_DIR/web/england-las.geojson")" "councils in the outline"
for path in /assets/nope.js /assets/leaflet/leaflet-src.js /assets/leaflet/images/nope.png /assets/index.html \
  /assets/..%2Fapp.js /assets/leaflet/..%2F..%2Fapp.js; do
  https GET "$path"
  expect_problem 404 not_found "GET $path"
done
https POST / -d x
expect_problem 405 method_not_allowed "POST /"
https GET /config.json
expect_status 200 "GET /config.json"
assert_eq '{"tile_url":"","tile_attribution":""}' "$HTTP_BODY" "/config.json without tile_url"

# ---- data: providers qualify nationally, councils agree ----
BOARD=$(new_key board)
LEEDS=E08000035 BRADFORD=E08000032
K_LEEDS=$(new_key commissioner --commissioner "$LEEDS")
K_BRADFORD=$(new_key commissioner --commissioner "$BRADFORD")
export AQPD_SIGNUP_PER_HOUR=1000

# provider NAME SERVICE-TYPE EXAMPLE URN SITE-JSON: signs up, adds the site, qualifies; sets
# P_ORG, P_KEY, P_SITE, P_QUAL.
provider() {
  signup "{\"name\": \"$1\", \"kind\": \"provider\", \"sector\": \"private\",
    \"description\": \"$1 (made by tests/integration/web.sh).\", \"website\": \"https://www.example.org\"}"
  P_ORG=$ORG_ID P_KEY=$ORG_KEY
  api POST "/v1/organisations/$P_ORG/sites" "$P_KEY" "$5"
  expect_status 201 "site of $1"
  P_SITE=$(jqb .id)
  api POST /v1/applications "$P_KEY" "{\"service_type\": \"$2\", \"answers\": $(answers "$3" ".ofsted_urn = \"$4\"")}"
  expect_status 201 "application of $1"
  local app
  app=$(jqb .id)
  api POST "/v1/applications/$app/submit" "$P_KEY"
  expect_status 200 "submit of $1"
  assert_eq qualified "$(jqb .status)" "$1 qualifies automatically ($(printf '%.300s' "$HTTP_BODY"))"
  P_QUAL=$(jqb .qualification.id)
}
# Real agencies and a real home on Ofsted's register (URN, postcode, council, rating).
provider "SWIIS Foster Care Limited" independent-fostering independent-fostering SC358729 \
  '{"name": "SWIIS Leeds office", "ofsted_urn": "SC358729", "address": "Armley Road, Leeds", "postcode": "LS12 6AJ", "address_private": false, "la_code": "E08000035"}'
F1_ORG=$P_ORG F1_KEY=$P_KEY F1_QUAL=$P_QUAL F1_SITE=$P_SITE
provider "Compass Fostering North Limited" independent-fostering independent-fostering SC405567 \
  '{"name": "Compass Bradford office", "ofsted_urn": "SC405567", "address": "Sticker Lane, Bradford", "postcode": "BD5 8HH", "address_private": false, "la_code": "E08000032"}'
F2_ORG=$P_ORG
provider "Thomas Coram Foundation for Children" independent-fostering independent-fostering SC034087 \
  '{"name": "Coram Campus", "ofsted_urn": "SC034087", "address": "Brunswick Square, London", "postcode": "WC1N 2QA", "address_private": false, "la_code": "E09000007"}'
F3_ORG=$P_ORG
# The home's street address, full postcode and name are confidential: no page may show them.
H_ADDRESS="14 Confidential Close, Headingley"
H_POSTCODE="LS6 4QQ"
H_NAME="Hidden Oaks House"
provider "Pebbles Care Limited" childrens-home childrens-home SC066458 \
  "{\"name\": \"$H_NAME\", \"ofsted_urn\": \"SC066458\", \"address\": \"$H_ADDRESS\", \"postcode\": \"$H_POSTCODE\", \"address_private\": true, \"la_code\": \"E08000035\", \"places\": 3}"
H_ORG=$P_ORG

# Leeds and Bradford offer fostering; the first agency agrees with both.
for c in "$LEEDS $K_LEEDS" "$BRADFORD $K_BRADFORD"; do
  read -r code key <<<"$c"
  api PUT "/v1/commissioners/$code/offers/independent-fostering" "$key" \
    '{"price_pence": 95000, "price_unit": "week", "specification": "Fostering placements, standard tier"}'
  expect_status 201 "offer of $code"
  api POST /v1/local-applications "$F1_KEY" "{\"qualification_id\": \"$F1_QUAL\", \"commissioner\": \"$code\", \"answers\": {}}"
  expect_status 201 "local application to $code"
  api POST "/v1/local-applications/$(jqb .id)/decision" "$key" '{"decision": "accept"}'
  expect_status 200 "$code accepts"
done
# The first agency has places free now (the second says nothing: unknown).
api PUT "/v1/sites/$F1_SITE/vacancies" "$F1_KEY" '{"places": 2}'
expect_status 200 "the first agency's vacancies"
api GET "/v1/providers/$F1_ORG" -
expect_status 200 "the first agency's public page"
assert_eq "Bradford,Leeds SC358729:outstanding" \
  "$(jqb '"\([.agreements[].commissioner_name] | sort | join(",")) \([.ofsted[] | "\(.urn):\(.rating)"] | join(","))"')" \
  "the first agency's public page: councils and Ofsted rating"
api GET "/v1/providers/$H_ORG" -
for secret in "$H_ADDRESS" "$H_POSTCODE" "$H_NAME"; do
  assert_not_contains "$HTTP_BODY" "$secret" "the children's home provider's public page"
done

# ---- what the page must show: the API's own answers ----
SEARCH='service_type=independent-fostering&near=LS6&radius_km=50&sort=distance&limit=20'
wait_directory() { # the read model follows the database: allow it a moment
  local path=$1 filter=$2 what=$3
  for _ in $(seq 1 100); do
    api GET "$path" -
    [[ "$HTTP_STATUS" == 200 ]] && jq -e "$filter" >/dev/null 2>&1 <<<"$HTTP_BODY" && return
    sleep 0.1
  done
  fail "$what: GET $path: HTTP $HTTP_STATUS $(printf '%.400s' "$HTTP_BODY")"
}
wait_directory "/v1/directory?$SEARCH" '.total >= 2' "fostering within 50 km of LS6"
printf '%s' "$HTTP_BODY" >"$T/fostering.json"
assert_eq "$(jq -r '[.items[].provider.name] | sort | join("|")' "$T/fostering.json")" \
  "Compass Fostering North Limited|SWIIS Foster Care Limited" "fostering within 50 km of LS6 (the London agency is not)"
wait_directory "/v1/directory?$SEARCH&min_rating=outstanding&has_vacancies=true" '.total == 1' \
  "outstanding fostering with places free within 50 km of LS6"
printf '%s' "$HTTP_BODY" >"$T/filtered.json"
assert_eq "SWIIS Foster Care Limited 2" "$(jqb '.items[0] | "\(.provider.name) \(.vacancies.places)"')" \
  "outstanding fostering with places free"
wait_directory "/v1/directory?service_type=childrens-home&near=LS6&radius_km=50&sort=distance&limit=20" '.total >= 1' \
  "children's homes within 50 km of LS6"
printf '%s' "$HTTP_BODY" >"$T/homes.json"
for secret in "$H_ADDRESS" "$H_POSTCODE" "$H_NAME" "Confidential"; do
  assert_not_contains "$HTTP_BODY" "$secret" "the directory's answer for children's homes"
done
api GET '/v1/directory?near=ZZ99&radius_km=50' -
[[ "$HTTP_STATUS" == 4* ]] || fail "an unknown postcode: expected a 4xx problem, got $HTTP_STATUS"
printf '%s' "$HTTP_BODY" >"$T/unknown.json"
api GET /v1/publications/latest -
PUBLICATION_STATUS=$HTTP_STATUS
printf '%s' "$HTTP_BODY" >"$T/publication.json"

# ---- the browser ----
mkdir -p "$AQPD_TEST_STATE/screenshots"
SHOTS=$AQPD_TEST_STATE/screenshots
rm -f "$SHOTS"/web-*.png
browser() { # MODE: runs web.js; its stdout is the log of what it checked
  WEB_BASE="https://127.0.0.1:$AQPD_PORT" WEB_MODE=$1 WEB_CHROMIUM=$CHROMIUM WEB_PLAYWRIGHT=$PLAYWRIGHT \
    WEB_FOSTERING="$T/fostering.json" WEB_FILTERED="$T/filtered.json" WEB_HOMES="$T/homes.json" WEB_UNKNOWN="$T/unknown.json" \
    WEB_PUBLICATION_STATUS=$PUBLICATION_STATUS WEB_PUBLICATION="$T/publication.json" \
    WEB_SECRETS="$H_ADDRESS|$H_POSTCODE|${H_POSTCODE// /}|$H_NAME|Confidential Close" \
    WEB_SHOTS=$SHOTS WEB_PROVIDER_URN=SC358729 \
    timeout 240 node "$AQPD_SOURCE_DIR/tests/integration/web.js" >"$T/browser.$1.log" 2>&1 || {
    cat "$T/browser.$1.log" >&2
    fail "the browser test ($1) failed"
  }
  sed 's/^/  /' "$T/browser.$1.log" >&2
}
browser search
for shot in web-search.png web-provider.png web-home.png; do
  [[ -s "$SHOTS/$shot" ]] || fail "no screenshot $SHOTS/$shot"
  note "screenshot: $SHOTS/$shot"
done
aqpd_stop TERM

# ---- with tile_url: the policy admits the tile server, the tiles load ----
export AQPD_TILE_URL='https://{s}.tiles.aqpd.test/{z}/{x}/{y}.png'
export AQPD_TILE_ATTRIBUTION='Test tiles <b>© nobody</b>'
aqpd_start
wait_for_ready
https GET /
assert_eq "${CSP_NO_TILES/img-src \'self\'/img-src \'self\' https://*.tiles.aqpd.test}" \
  "$(header Content-Security-Policy)" "the page's policy with tile_url"
https GET /config.json
assert_eq "$AQPD_TILE_URL|$AQPD_TILE_ATTRIBUTION" "$(jqb '"\(.tile_url)|\(.tile_attribution)"')" "/config.json with tile_url"
browser tiles
note "screenshot: $SHOTS/web-tiles.png"
aqpd_stop TERM

# A tile URL that would widen the policy is refused at start-up, naming the key.
AQPD_TILE_URL="https://evil.example.org; script-src 'unsafe-inline'/{z}/{x}/{y}" aqpd_run serve
assert_eq 2 "$RUN_EXIT" "aqpd serve with a tile_url that injects into the policy"
assert_contains "$RUN_ERR" "tile_url" "the refusal names the key"
assert_no_sanitizer_report "$T"/aqpd.*.log "$T/run.err"
