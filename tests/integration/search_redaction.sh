#!/usr/bin/env bash
# Redaction (issue 5; DESIGN.md §6): no public answer carries the name, street address or full
# postcode of a children's home. The data is the real register as qualified providers
# (tests/lib/bulk_ofsted.sql): every children's home has a synthetic confidential name
# ("Confidential home <URN>"), street address ("<n> Private Lane, Secretby") and full postcode
# ("<outcode> <d>ZZ"). Every such string is collected from the database (search_needles:
# site.name, address and postcode where address_private), over 3,938 homes, and searched for
# (case-insensitively; each postcode also without its space) in every public answer:
#   - /v1/directory walked to its end, 100 a page: with no filter, for every service type, with
#     q (confidential, secretby, home, private lane, the name of an organisation running a home)
#     and near (outcodes, lat,lon) with and without a radius; every item of a private site also
#     shows no site.name/address/postcode and is located by district or local authority only;
#   - /v1/providers/{id} for every provider with a children's home (and an active qualification:
#     the others have no public page);
#   - /v1/commissioners and /v1/commissioners/{code} for every council, /v1/service-types;
#   - the signed publications, their exports and the Open Referral UK feed made from them:
#     tests/integration/publication_redaction.sh, on the same data.
# q=Confidential finds no children's home publicly but finds them with a council's key on
# /v1/search, whose answers do carry the strings (so the scanner is shown to find them).
# q=Secretby finds nothing in either view: addresses are not searchable text (api/index.h).
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/search.sh"
t_init
T0=$(now_ms)
search_data
aqpd_env
aqpd_start
search_wait_ready
export CACERT AQPD_PORT

# ---- the confidential strings ----
search_needles "$T/needles"

# ---- every public answer ----
D=/v1/directory
{
  echo "$D?limit=100 - walk"
  db_query "SELECT code FROM service_type ORDER BY code" | while read -r st; do
    echo "$D?service_type=$st&limit=100 - walk"
  done
  for q in confidential Confidential%20home secretby Secretby private%20lane home homes care lane 4zz; do
    echo "$D?q=$q&limit=100 - walk"
  done
  # The organisation names of a few homes' owners (their homes match by organisation name).
  db_query "SELECT DISTINCT o.name FROM organisation o JOIN site s ON s.organisation_id = o.id
    WHERE s.address_private ORDER BY 1 LIMIT 3" | while read -r name; do
    echo "$D?q=$(jq -rn --arg n "$name" '$n | @uri')&limit=100 - walk"
  done
  for near in LS6 M1 B1 SW1A NE1 PL1; do
    echo "$D?near=$near&radius_km=60&limit=100 - walk"
  done
  echo "$D?near=52.5,-1.5&limit=100 - walk"
  echo "$D?near=LS6&service_type=childrens-home&sort=rating&limit=100 - walk"
  echo "$D?service_type=childrens-home&has_vacancies=true&sort=name&limit=100 - walk"
  # (A provider with no active qualification has no public page: 404.)
  db_query "SELECT DISTINCT s.organisation_id FROM site s JOIN qualification q
    ON q.organisation_id = s.organisation_id AND q.status = 'active' WHERE s.address_private ORDER BY 1" |
    sed 's|^|/v1/providers/|; s|$| -|'
  echo "/v1/commissioners -"
  db_query "SELECT code FROM commissioner ORDER BY code" | sed 's|^|/v1/commissioners/|; s|$| -|'
  echo "/v1/service-types -"
} >"$T/public"
N_PROVIDERS=$(grep -c '^/v1/providers/' "$T/public")
((N_PROVIDERS >= 100)) || fail "only $N_PROVIDERS providers with a children's home"
T1=$(now_ms)
node "$SEARCH_ORACLE" scan - "$T/needles" "$T/public" >"$T/scan.out" 2>"$T/scan.err" ||
  fail "confidential data in public answers: $(head -c 4000 "$T/scan.err") $(cat "$T/scan.out")"
SCAN=$(<"$T/scan.out")
note "public answers scanned in $(($(now_ms) - T1)) ms: $SCAN"
assert_eq 0 "$(jq .hits <<<"$SCAN")" "confidential strings in public answers"
# Not vacuous: the walks met (nearly) every active children's home, and many answers were read.
N_ACTIVE_HOMES=$(db_query "SELECT count(DISTINCT s.id) FROM site s JOIN qualification q
  ON q.organisation_id = s.organisation_id AND q.service_type = ANY (s.service_types)
  WHERE s.address_private AND q.status = 'active'")
((N_ACTIVE_HOMES >= 3500)) || fail "only $N_ACTIVE_HOMES active children's homes"
assert_le "$N_ACTIVE_HOMES" "$(jq .private_ids <<<"$SCAN")" "children's homes met in the public walks"
assert_le "$((N_PROVIDERS + 153 + 30))" "$(jq .bodies <<<"$SCAN")" "public answers scanned"

# ---- q finds no home publicly, finds them with a council's key ----
K_LEEDS=$(skey commissioner --commissioner E08000035)
export K_LEEDS
for q in Confidential Confidential%20home Secretby; do
  sreq GET "$D?q=$q&service_type=childrens-home,short-breaks,secure-childrens-home&limit=100" -
  expect_status 200 "public q=$q"
  assert_eq 0 "$(jq .total <<<"$HTTP_BODY")" "public /v1/directory?q=$q: children's homes found"
done
sreq GET "/v1/search?q=Confidential&status=active,suspended,lapsed,revoked&limit=1" "$K_LEEDS"
expect_status 200 "council q=Confidential"
N_FOUND=$(jq .total <<<"$HTTP_BODY")
assert_eq "$(db_query "SELECT count(*) FROM site s JOIN qualification q ON q.organisation_id = s.organisation_id
  AND q.service_type = ANY (s.service_types) JOIN organisation o ON o.id = s.organisation_id
  WHERE concat_ws(' ', s.name, o.name, o.description) ~* '\\mconfidential'")" "$N_FOUND" \
  "/v1/search?q=Confidential (a council): every entry with the word, every children's home among them"
assert_le "$N_HOMES" "$N_FOUND" "/v1/search?q=Confidential (a council): entries found"
sreq GET "/v1/search?q=Secretby&status=active,suspended,lapsed,revoked&limit=1" "$K_LEEDS"
expect_status 200 "council q=Secretby"
assert_eq 0 "$(jq .total <<<"$HTTP_BODY")" "/v1/search?q=Secretby: addresses are not searchable text"
# The scanner finds the strings where they may be shown: a council's answers.
printf '%s\n' "/v1/search?q=Confidential&limit=100 K_LEEDS walk" >"$T/private"
SCAN_EXPECT=hits node "$SEARCH_ORACLE" scan - "$T/needles" "$T/private" >"$T/scan2.out" 2>"$T/scan2.err" ||
  fail "the scanner found nothing in a council's answers: $(head -c 2000 "$T/scan2.err")"
SCAN2=$(<"$T/scan2.out")
note "council answers: $SCAN2"
assert_le 3000 "$(jq .hits <<<"$SCAN2")" "confidential strings the scanner found in a council's answers"

aqpd_stop
note "redaction test took $(($(now_ms) - T0)) ms"
