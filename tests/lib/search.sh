# shellcheck shell=bash disable=SC2034 # variables set here are read by the tests that source this
# Sourced after tests/lib/common.sh by the search tests (search.sh, search_redaction.sh,
# search_freshness.sh, publication_redaction.sh): a database holding the real register as
# qualified providers (tests/lib/bulk_ofsted.sql), its children's homes' confidential strings,
# aqpd started and waited for until its index is loaded, requests with a key, API keys from the
# CLI, the ground truth exported with the tests' own SQL, and millisecond clocks.

SEARCH_OFSTED_CSV=$AQPD_SOURCE_DIR/data/ofsted/Provider_level_at_31_Mar_2025.csv
SEARCH_ORACLE=$AQPD_SOURCE_DIR/tests/lib/search_oracle.js

command -v node >/dev/null || { echo "node is missing (scripts/deps.sh installs it)" >&2; exit 1; }

# search_data: a new database with the councils, the postcode districts, the register and the
# register as qualified providers (bulk path). Checks the counts the tests rely on.
search_data() {
  new_database "$@"
  aqpd_run import commissioners "$AQPD_SOURCE_DIR/data"
  assert_eq 0 "$RUN_EXIT" "aqpd import commissioners (stderr: $(tail -n 3 <<<"$RUN_ERR"))"
  aqpd_run import postcodes "$AQPD_SOURCE_DIR/data/postcodes/postcode_districts.csv"
  assert_eq 0 "$RUN_EXIT" "aqpd import postcodes (stderr: $(tail -n 3 <<<"$RUN_ERR"))"
  aqpd_run import ofsted "$SEARCH_OFSTED_CSV"
  assert_eq 0 "$RUN_EXIT" "aqpd import ofsted (stderr: $(tail -n 3 <<<"$RUN_ERR"))"
  fixture_psql -d "$DB_NAME" -f "$AQPD_SOURCE_DIR/tests/lib/bulk_ofsted.sql" >"$T/bulk.out" 2>&1 ||
    fail "tests/lib/bulk_ofsted.sql failed: $(tail -n 5 "$T/bulk.out")"
  local homes
  homes=$(db_query "SELECT count(*) FROM site WHERE address_private")
  ((homes >= 3938)) || fail "the bulk load made $homes private (children's home) sites, expected >= 3938"
}

# search_needles FILE: writes to FILE, one a line, every confidential string of the children's
# homes of search_data (tests/lib/bulk_ofsted.sql): the name, street address and full postcode of
# every address_private site. A private site whose name is its organisation's (the 14 secure
# children's homes run by councils, which the register names after the council) has no
# confidential name: the provider's name is public. Checks that there are at least 3,938 homes,
# each with its synthetic name, address and postcode. Sets HOMES (SQL: FROM ... WHERE over the
# private sites, as s, and their organisations, as o), N_HOMES and N_NEEDLES.
search_needles() {
  HOMES="FROM site s JOIN organisation o ON o.id = s.organisation_id WHERE s.address_private"
  db_query "SELECT s.name $HOMES AND s.name <> o.name UNION ALL
            SELECT s.address $HOMES AND s.address IS NOT NULL UNION ALL
            SELECT s.postcode $HOMES AND s.postcode IS NOT NULL" >"$1"
  N_HOMES=$(db_query "SELECT count(*) $HOMES AND s.name <> o.name")
  local full postcodes addresses
  full=$(db_query "SELECT count(*) $HOMES AND s.name LIKE 'Confidential home %'
    AND s.address LIKE '% Private Lane, Secretby' AND (s.postcode IS NULL OR s.postcode ~ '^[A-Z0-9]{2,4} [0-9]ZZ$')")
  postcodes=$(db_query "SELECT count(*) $HOMES AND s.postcode IS NOT NULL")
  addresses=$(db_query "SELECT count(*) $HOMES AND s.address IS NOT NULL")
  ((postcodes >= 3938)) || fail "only $postcodes children's homes with a full postcode"
  N_NEEDLES=$((N_HOMES + addresses + postcodes))
  ((N_HOMES >= 3938)) || fail "only $N_HOMES children's homes to check, expected >= 3938"
  assert_eq "$N_HOMES" "$full" "children's homes with a confidential name, address and postcode"
  assert_eq "$N_NEEDLES" "$(wc -l <"$1")" "confidential strings collected"
  note "$N_HOMES children's homes, $N_NEEDLES confidential strings"
}

# search_wait_ready [what]: polls /readyz of the aqpd started last until 200 (the index loaded).
search_wait_ready() {
  local i
  for i in $(seq 1 300); do
    sreq GET /readyz -
    [[ "$HTTP_STATUS" == 200 ]] && return 0
    sleep 0.1
  done
  fail "${1:-aqpd}: /readyz did not answer 200 within 30 s (last: $HTTP_STATUS $HTTP_BODY)"
}

# sreq METHOD PATH KEY [BODY]: one request to the aqpd started last (or to port $SREQ_PORT);
# KEY "-" sends no Authorization. Sets HTTP_STATUS ("000" if none), HTTP_BODY, HTTP_CTYPE.
sreq() {
  local method=$1 path=$2 key=$3 w port=${SREQ_PORT:-$AQPD_PORT}
  local args=(-sS -o "$T/body" --max-time "${CURL_MAX_TIME:-10}" --cacert "$CACERT"
    --resolve "localhost:$port:127.0.0.1" -X "$method" -w '%{http_code} %{content_type}')
  [[ "$key" != - ]] && args+=(-H "Authorization: Bearer $key")
  if (($# >= 4)); then
    printf '%s' "$4" >"$T/req.body"
    args+=(--data-binary "@$T/req.body" -H 'Content-Type: application/json')
  fi
  : >"$T/body"
  HTTP_CURL_EXIT=0
  w=$(curl "${args[@]}" "https://localhost:$port$path" 2>"$T/curl.err") || HTTP_CURL_EXIT=$?
  HTTP_STATUS=${w%% *}
  HTTP_CTYPE=${w#* }
  [[ "$HTTP_STATUS" =~ ^[0-9]{3}$ ]] || HTTP_STATUS=000
  HTTP_BODY=$(<"$T/body")
}

# skey ROLE [options]: prints a new API key made with `aqpd key create`.
skey() {
  local role=$1
  shift
  aqpd_run key create --role "$role" "$@"
  [[ "$RUN_EXIT" == 0 ]] || fail "aqpd key create --role $role $*: exit $RUN_EXIT: $RUN_ERR"
  [[ "$RUN_OUT" =~ ^aqpd_[A-Za-z0-9_-]{43}$ ]] || fail "aqpd key create printed '$RUN_OUT'"
  printf '%s' "$RUN_OUT"
}

# now_ms: the wall clock in milliseconds.
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  echo $((t / 1000))
}

# search_truth FILE: exports every directory entry and the reference tables to FILE as JSON,
# computed here from the tables (site, organisation, qualification, service_type, agreement,
# ofsted_setting, postcode_district, commissioner, region) and NOT from index_entries(): an
# entry is a site and a qualification of its organisation for a service type the site names
# (or any, when it names none). Points, as documented in schema/0008_search.sql: the precise
# point is the site's own coordinates, else its postcode district's centroid, else its LA's;
# the public point of a private site is its district, else its LA; of a public site its precise
# point. Entries without any point are left out.
search_truth() {
  fixture_psql -d "$DB_NAME" -At >"$1" <<'SQL' || fail "exporting the ground truth failed"
WITH s AS (
  SELECT s.*, upper(btrim(regexp_replace(upper(s.postcode), '\s*[0-9][A-Z]{2}$', ''))) AS oc
  FROM site s),
e AS (
  SELECT s.id::text || ':' || q.service_type AS key, s.id::text AS site, o.id::text AS org,
         o.name AS org_name, s.name AS site_name, q.service_type AS st,
         st.tiers::int[] AS tiers, q.status, o.sector,
         coalesce(c.region_code, pd.region_code) AS region, s.la_code AS la,
         s.address_private AS priv, s.lat AS s_lat, s.lon AS s_lon,
         pd.lat AS d_lat, pd.lon AS d_lon, c.lat AS c_lat, c.lon AS c_lon,
         CASE os.overall_rating WHEN 'Outstanding' THEN 4 WHEN 'Good' THEN 3
              WHEN 'Requires improvement to be good' THEN 2 WHEN 'Inadequate' THEN 1 ELSE 0 END AS rating,
         s.age_min, s.age_max, s.vacancies,
         extract(epoch FROM s.vacancies_at) AS vac_at,
         o.description AS descr,
         coalesce((SELECT array_agg(a.commissioner_code ORDER BY a.commissioner_code) FROM agreement a
                   WHERE a.qualification_id = q.id AND a.status = 'active'), '{}') AS agreements
  FROM s
  JOIN organisation o ON o.id = s.organisation_id
  JOIN qualification q ON q.organisation_id = s.organisation_id
       AND (cardinality(s.service_types) = 0 OR q.service_type = ANY (s.service_types))
  JOIN service_type st ON st.code = q.service_type
  LEFT JOIN postcode_district pd ON pd.outcode = s.oc
  LEFT JOIN commissioner c ON c.code = s.la_code
  LEFT JOIN ofsted_setting os ON os.urn = s.ofsted_urn)
SELECT json_build_object(
  'entries', (SELECT json_agg(json_build_object(
      'key', key, 'site', site, 'org', org, 'org_name', org_name, 'site_name', site_name,
      'st', st, 'tiers', tiers, 'status', status, 'sector', sector, 'region', region, 'la', la,
      'priv', priv,
      'plat', coalesce(s_lat, d_lat, c_lat), 'plon', coalesce(s_lon, d_lon, c_lon),
      'ulat', CASE WHEN priv THEN coalesce(d_lat, c_lat) ELSE coalesce(s_lat, d_lat, c_lat) END,
      'ulon', CASE WHEN priv THEN coalesce(d_lon, c_lon) ELSE coalesce(s_lon, d_lon, c_lon) END,
      'rating', rating, 'age_min', age_min, 'age_max', age_max, 'vac', vacancies,
      'vac_at', vac_at, 'descr', descr, 'agreements', agreements) ORDER BY key)
    FROM e WHERE coalesce(s_lat, d_lat, c_lat) IS NOT NULL),
  'districts', (SELECT json_object_agg(outcode, json_build_array(lat, lon)) FROM postcode_district),
  'councils', (SELECT json_object_agg(code, json_build_object('lat', lat, 'lon', lon, 'name', name,
                                                              'region', region_code))
               FROM commissioner),
  'regions', (SELECT json_object_agg(code, name) FROM region),
  'service_types', (SELECT json_agg(code ORDER BY code) FROM service_type))
SQL
  [[ -s "$1" ]] || fail "the ground truth export is empty"
}
