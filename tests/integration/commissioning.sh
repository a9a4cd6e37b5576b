#!/usr/bin/env bash
# Local commissioning (issue 4; DESIGN.md §1 points 3-5), end to end on the real councils and
# the real Ofsted register:
#   - one provider qualifies once and reuses that qualification with Leeds, Bradford and
#     Manchester, each with its own price, unit, specification and local requirements (boolean
#     with a pass answer, choice, text, number, date); only local answers are sent and nothing
#     national is asked again. All three accept; each agreement carries its council's price;
#   - Leeds raises its price: price_at_start stays, price_now moves, the offer's history closes
#     the old price, and the changes feed has an offer.price event;
#   - the board suspends the qualification: the three agreements are suspended with four events
#     in the feed (Leeds sees only its own); reinstatement restores them; walking the feed a
#     page of two at a time gives every event once, in order (checked against audit_event);
#   - scope: Leeds cannot read, decide or change Bradford's applications, offer or agreement, and
#     a provider sees only its own agreements;
#   - refusals with a problem and nothing stored (row counts before and after): bad offers, bad
#     answers, closed offer, suspended qualification, existing agreement, failed automatic
#     requirement, decline without a reason;
#   - a contract review with an outcome indicator, termination, no review after termination;
#   - public transparency: the provider page (no confidential data) and the council page
#     (offers and active agreement counts per service).
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/commissioning.sh"
t_init
new_database
cm_sql_start

aqpd_run import commissioners
assert_eq 0 "$RUN_EXIT" "aqpd import commissioners (stderr: $(tail -n 5 <<<"$RUN_ERR"))"
aqpd_run import ofsted "$CM_OFSTED_CSV"
assert_eq 0 "$RUN_EXIT" "aqpd import ofsted (stderr: $(tail -n 5 <<<"$RUN_ERR"))"

LEEDS=E08000035 BRAD=E08000032 MCR=E08000003 KIRK=E08000034 WAKE=E08000036 CALD=E08000033
cm_sql_v "SELECT string_agg(code || ' ' || name, '|' ORDER BY code) FROM commissioner
  WHERE code IN ('$LEEDS', '$BRAD', '$MCR', '$KIRK', '$WAKE', '$CALD')"
assert_eq "$MCR Manchester|$BRAD Bradford|$CALD Calderdale|$KIRK Kirklees|$LEEDS Leeds|$WAKE Wakefield" \
  "$CM_SQL_OUT" "the councils this test uses"

aqpd_env
aqpd_start
for _ in $(seq 1 100); do
  req GET /readyz -
  [[ "$HTTP_STATUS" == 200 ]] && break
  sleep 0.1
done
expect_status 200 "GET /readyz"

K_LEEDS=$(cm_key commissioner --commissioner "$LEEDS")
K_BRAD=$(cm_key commissioner --commissioner "$BRAD")
K_MCR=$(cm_key commissioner --commissioner "$MCR")
K_KIRK=$(cm_key commissioner --commissioner "$KIRK")
K_WAKE=$(cm_key commissioner --commissioner "$WAKE")
K_BOARD=$(cm_key board)

START_DATE=$(date -u -d '+14 days' +%F)
PERIOD_START=$(date -u -d '-1 year' +%F)
PERIOD_END=$(date -u -d '-1 day' +%F)
END_DATE=$(date -u -d '+30 days' +%F)

# ---- two providers qualify nationally, once each ----
# Provider A: the example children's home, with contacts and a private site address that no
# public page may show.
A_EMAIL=priya.confidential@zen-care.example
A_PHONE='+44 1942 555 0199'
A_CONTACT='Priya Confidential'
A_ADDRESS='17 Hidden Lane, Wigan'
A_POSTCODE='WN1 9ZZ'
ORG_A=$(jq -c --arg e "$A_EMAIL" --arg p "$A_PHONE" --arg n "$A_CONTACT" '.organisation + {
    contacts: {name: $n, email: $e, phone: $p}, description: "Small homes for children in the North West.",
    website: "https://zen-care.example"}' "$CM_EXAMPLES/childrens-home.json")
cm_qualify "$ORG_A" 2775403
A_ORG=$CM_ORG A_KEY=$CM_KEY A_QUAL=$CM_QUAL
req POST "/v1/organisations/$A_ORG/sites" "$A_KEY" \
  "{\"name\": \"Hilltop House\", \"address\": \"$A_ADDRESS\", \"postcode\": \"$A_POSTCODE\",
    \"address_private\": true, \"places\": 4}"
expect_status 201 "provider A adds a site with a private address"

# Provider B: another Active children's home on the real register, graded Good or Outstanding.
URN_B=$(cm_sql "SELECT urn FROM ofsted_setting WHERE provision_type = 'Children''s home'
  AND registration_status = 'Active' AND overall_rating IN ('Good', 'Outstanding')
  AND urn <> '2775403' ORDER BY urn LIMIT 1")
[[ -n "$URN_B" ]] || fail "no second Active, Good children's home in the register"
cm_qualify '{"name": "Brightwater Homes Limited", "kind": "provider", "sector": "private",
  "identifiers": [{"scheme": "GB-COH", "id": "12345678"}]}' "$URN_B"
B_ORG=$CM_ORG B_KEY=$CM_KEY B_QUAL=$CM_QUAL
NATIONAL_A="SELECT (SELECT count(*) FROM application WHERE organisation_id = '$A_ORG') || ' applications, '
  || (SELECT count(*) FROM qualification WHERE organisation_id = '$A_ORG') || ' qualifications'"
assert_eq "1 applications, 1 qualifications" "$(cm_sql "$NATIONAL_A")" "provider A nationally"

# ---- three councils set their own offers ----
LEEDS_SPEC="Leeds children's residential specification 2026, lot 1"
LEEDS_Q='[
  {"id": "LDS-EMERGENCY", "text": "Will you accept an emergency placement within 4 hours of a referral, day or night?",
   "type": "boolean", "required": true, "pass": true},
  {"id": "LDS-MISSING-LEAD", "text": "Who leads on children missing from care, and how do you work with West Yorkshire Police?",
   "type": "text", "required": true}]'
leeds_offer() { # PRICE [SPECIFICATION]
  local spec=${2:-$LEEDS_SPEC}
  jq -cn --argjson q "$LEEDS_Q" --argjson p "$1" --arg s "$spec" \
    '{price_pence: $p, price_unit: "week", specification: $s, local_requirements: $q}'
}
BRAD_Q='[
  {"id": "BRD-AREA", "text": "Which Bradford district would your home serve first?", "type": "choice",
   "choices": ["Keighley", "Shipley", "Bradford East"], "required": true},
  {"id": "BRD-RHI", "text": "When do you hold a return home interview after a child goes missing?", "type": "choice",
   "choices": ["within 72 hours", "within a week", "not offered"], "required": true, "pass": "within 72 hours"},
  {"id": "BRD-BEDS", "text": "How many beds could you offer Bradford children this year?", "type": "number",
   "required": true}]'
BRAD_OFFER=$(jq -cn --argjson q "$BRAD_Q" '{price_pence: 68000, price_unit: "night",
  specification: "https://www.bradford.gov.uk/commissioning/childrens-homes-2026.pdf", local_requirements: $q}')
MCR_Q='[
  {"id": "MCR-START", "text": "Earliest date you can take a Manchester placement", "type": "date", "required": true},
  {"id": "MCR-DIPLOMA", "text": "Do all residential staff hold or work towards the Level 3 Diploma?", "type": "boolean",
   "required": false, "pass": true},
  {"id": "MCR-NOTES", "text": "Anything else Manchester should know", "type": "text"}]'
MCR_OFFER=$(jq -cn --argjson q "$MCR_Q" '{price_pence: 1750000, price_unit: "placement", open: true,
  specification: "Manchester outcomes-based residential care, paid per placement (12 weeks)", local_requirements: $q}')
OFFER_SUMMARY='"\(.commissioner_code) \(.service_type) \(.price_pence) \(.price_unit) \(.open) \(.price_history | length) \(.local_requirements == $q) \(.specification == $s)"'

req PUT "/v1/commissioners/$LEEDS/offers/childrens-home" "$K_LEEDS" "$(leeds_offer 450000)"
expect_status 201 "Leeds sets its offer"
assert_eq "$LEEDS childrens-home 450000 week true 1 true true" \
  "$(jb "$OFFER_SUMMARY" --argjson q "$LEEDS_Q" --arg s "$LEEDS_SPEC")" "Leeds's offer"
req PUT "/v1/commissioners/$BRAD/offers/childrens-home" "$K_BRAD" "$BRAD_OFFER"
expect_status 201 "Bradford sets its offer"
assert_eq "$BRAD childrens-home 68000 night true 1 true true" \
  "$(jb "$OFFER_SUMMARY" --argjson q "$BRAD_Q" --arg s "$(jq -r .specification <<<"$BRAD_OFFER")")" "Bradford's offer"
req PUT "/v1/commissioners/$MCR/offers/childrens-home" "$K_MCR" "$MCR_OFFER"
expect_status 201 "Manchester sets its offer"
assert_eq "$MCR childrens-home 1750000 placement true 1 true true" \
  "$(jb "$OFFER_SUMMARY" --argjson q "$MCR_Q" --arg s "$(jq -r .specification <<<"$MCR_OFFER")")" "Manchester's offer"
# Wakefield asks one automatic question (for the failed-requirement case). The board may set
# any council's offer: it sets Kirklees's.
req PUT "/v1/commissioners/$WAKE/offers/childrens-home" "$K_WAKE" '{"price_pence": 430000, "price_unit": "week",
  "specification": "Wakefield spec", "local_requirements": [{"id": "WKF-GOOD", "type": "boolean", "required": true,
  "text": "Is every home you run rated Good or better?", "pass": true}]}'
expect_status 201 "Wakefield sets its offer"
KIRK_OFFER='{"price_pence": 440000, "price_unit": "week", "specification": "Kirklees spec"}'
req PUT "/v1/commissioners/$KIRK/offers/childrens-home" "$K_BOARD" "$KIRK_OFFER"
expect_status 201 "the board sets Kirklees's offer"

# ---- bad offers: 400 with a problem, nothing stored ----
# Each is sent both as a new offer (family-support) and as a change to Leeds's childrens-home.
bad_offer() { # code what body
  refuse 400 "$1" "$2 (new offer)" PUT "/v1/commissioners/$LEEDS/offers/family-support" "$K_LEEDS" "$3"
  refuse 400 "$1" "$2 (existing offer)" PUT "/v1/commissioners/$LEEDS/offers/childrens-home" "$K_LEEDS" "$3"
}
bad_offer invalid_field "offer with price 0" '{"price_pence": 0, "price_unit": "week", "specification": "x"}'
bad_offer invalid_field "offer with a negative price" '{"price_pence": -450000, "price_unit": "week", "specification": "x"}'
bad_offer invalid_field "offer with a fractional price" '{"price_pence": 4500.5, "price_unit": "week", "specification": "x"}'
bad_offer invalid_field "offer with the price as a string" '{"price_pence": "450000", "price_unit": "week", "specification": "x"}'
bad_offer invalid_field "offer with an unknown unit" '{"price_pence": 450000, "price_unit": "fortnight", "specification": "x"}'
bad_offer missing_field "offer without a unit" '{"price_pence": 450000, "specification": "x"}'
bad_offer missing_field "offer without a price" '{"price_unit": "week", "specification": "x"}'
bad_offer missing_field "offer without a specification" '{"price_pence": 450000, "price_unit": "week"}'
bad_offer unknown_field "offer with a per-provider price" \
  '{"price_pence": 450000, "price_unit": "week", "specification": "x", "provider_prices": {"x": 1}}'
bad_offer invalid_field "offer with an unknown question type" \
  '{"price_pence": 450000, "price_unit": "week", "specification": "x",
    "local_requirements": [{"id": "Q1", "text": "Favourite colour?", "type": "colour"}]}'
for q in '{}' '"Q1"' '[["Q1"]]' '[{"text": "No id", "type": "text"}]' '[{"id": "Q 1", "text": "Bad id", "type": "text"}]' \
  '[{"id": "Q1", "type": "text"}]' '[{"id": "Q1", "text": "No type"}]' \
  '[{"id": "Q1", "text": "t", "type": "text"}, {"id": "Q1", "text": "again", "type": "text"}]' \
  '[{"id": "Q1", "text": "Which?", "type": "choice"}]' '[{"id": "Q1", "text": "Which?", "type": "choice", "choices": []}]' \
  '[{"id": "Q1", "text": "Which?", "type": "choice", "choices": ["a", "b"], "pass": "c"}]' \
  '[{"id": "Q1", "text": "Yes?", "type": "boolean", "pass": "yes"}]' \
  '[{"id": "Q1", "text": "Yes?", "type": "boolean", "required": "true"}]' \
  '[{"id": "Q1", "text": "Yes?", "type": "boolean", "weight": 3}]'; do
  bad_offer invalid_field "offer with malformed questions $q" \
    "{\"price_pence\": 450000, \"price_unit\": \"week\", \"specification\": \"x\", \"local_requirements\": $q}"
done
bad_offer invalid_json "offer that is not JSON" '{"price_pence": 450000,'
refuse 404 not_found "offer for an unknown service type" PUT "/v1/commissioners/$LEEDS/offers/dog-walking" \
  "$K_LEEDS" "$(leeds_offer 450000)"
LEEDS_ROW="SELECT to_jsonb(o) FROM offer o WHERE commissioner_code = '$LEEDS'"
leeds_before=$(cm_sql "$LEEDS_ROW")
cm_refusals "bad offers"
assert_eq "$leeds_before" "$(cm_sql "$LEEDS_ROW")" "Leeds's offer after the refused changes"

# ---- scope: only a council's own keys (or the board) set its offer ----
refuse 403 forbidden "Leeds sets Bradford's offer" PUT "/v1/commissioners/$BRAD/offers/childrens-home" \
  "$K_LEEDS" '{"price_pence": 1, "price_unit": "week", "specification": "undercut"}'
refuse 403 forbidden "Leeds creates an offer for Bradford" PUT "/v1/commissioners/$BRAD/offers/family-support" \
  "$K_LEEDS" '{"price_pence": 1, "price_unit": "week", "specification": "x"}'
refuse 403 forbidden "a provider sets an offer" PUT "/v1/commissioners/$LEEDS/offers/childrens-home" "$A_KEY" \
  "$(leeds_offer 1)"
refuse 401 unauthenticated "an offer without a key" PUT "/v1/commissioners/$LEEDS/offers/childrens-home" - \
  "$(leeds_offer 1)"
cm_refusals "offers of another council"
assert_eq "68000 night $(jq -r .specification <<<"$BRAD_OFFER")" "$(cm_sql "SELECT price_pence || ' ' || price_unit || ' ' ||
  specification FROM offer WHERE commissioner_code = '$BRAD'")" "Bradford's offer after Leeds tried to change it"

# ---- local applications: only the council's own questions ----
LEEDS_ANS='{"LDS-EMERGENCY": true, "LDS-MISSING-LEAD": "Our registered manager leads; we follow the West Yorkshire joint protocol."}'
BRAD_ANS='{"BRD-AREA": "Keighley", "BRD-RHI": "within 72 hours", "BRD-BEDS": 2}'
MCR_ANS="{\"MCR-START\": \"$START_DATE\", \"MCR-DIPLOMA\": true}"
local_body() { # qualification council answers
  printf '{"qualification_id": "%s", "commissioner": "%s", "answers": %s}' "$1" "$2" "$3"
}
bad_local() { # status code what council answers
  refuse "$1" "$2" "$3" POST /v1/local-applications "$A_KEY" "$(local_body "$A_QUAL" "$4" "$5")"
}
# Nothing national is asked again: a national answer is an answer to a question this council
# does not ask, and the national answers cannot be sent with the application at all.
bad_local 400 invalid_answers "Leeds: an answer to a question that does not exist" "$LEEDS" \
  '{"LDS-EMERGENCY": true, "LDS-MISSING-LEAD": "x", "LDS-FAVOURITE-COLOUR": "blue"}'
bad_local 400 invalid_answers "Leeds: a national answer (ofsted_urn) sent as a local one" "$LEEDS" \
  '{"LDS-EMERGENCY": true, "LDS-MISSING-LEAD": "x", "ofsted_urn": "2775403"}'
refuse 400 unknown_field "Leeds: national answers sent with the local application" POST /v1/local-applications \
  "$A_KEY" "{\"qualification_id\": \"$A_QUAL\", \"commissioner\": \"$LEEDS\", \"answers\": $LEEDS_ANS,
             \"national_answers\": $(cm_national_answers 2775403)}"
refuse 400 unknown_field "a local application naming a service type of its own" POST /v1/local-applications \
  "$A_KEY" "{\"qualification_id\": \"$A_QUAL\", \"commissioner\": \"$LEEDS\", \"answers\": $LEEDS_ANS,
             \"service_type\": \"family-support\"}"
bad_local 422 missing_answer "Leeds: the required text answer missing" "$LEEDS" '{"LDS-EMERGENCY": true}'
bad_local 422 missing_answer "Leeds: a required answer null" "$LEEDS" '{"LDS-EMERGENCY": true, "LDS-MISSING-LEAD": null}'
bad_local 422 missing_answer "Leeds: no answers at all" "$LEEDS" '{}'
bad_local 400 invalid_answers "Leeds: a boolean answered with a string" "$LEEDS" \
  '{"LDS-EMERGENCY": "yes", "LDS-MISSING-LEAD": "x"}'
bad_local 400 invalid_answers "Leeds: a text answered with a number" "$LEEDS" '{"LDS-EMERGENCY": true, "LDS-MISSING-LEAD": 7}'
bad_local 400 invalid_answers "Bradford: a choice that is not offered" "$BRAD" \
  '{"BRD-AREA": "Leeds", "BRD-RHI": "within 72 hours", "BRD-BEDS": 2}'
bad_local 400 invalid_answers "Bradford: a number answered with a string" "$BRAD" \
  '{"BRD-AREA": "Keighley", "BRD-RHI": "within 72 hours", "BRD-BEDS": "two"}'
bad_local 400 invalid_answers "Manchester: a date in the wrong format" "$MCR" '{"MCR-START": "31/12/2026"}'
bad_local 400 invalid_answers "Manchester: a date that does not exist" "$MCR" '{"MCR-START": "2026-02-30"}'
bad_local 400 invalid_answers "Manchester: a date answered with a number" "$MCR" '{"MCR-START": 20261231}'
bad_local 400 invalid_field "answers that are not an object" "$LEEDS" '["LDS-EMERGENCY", true]'
refuse 404 not_found "provider B uses provider A's qualification" POST /v1/local-applications "$B_KEY" \
  "$(local_body "$A_QUAL" "$LEEDS" "$LEEDS_ANS")"
bad_local 404 not_found "an unknown council" E99999999 '{}'
bad_local 409 no_offer "a council without an offer" "$CALD" '{}'
refuse 403 forbidden "a commissioner makes a local application" POST /v1/local-applications "$K_LEEDS" \
  "$(local_body "$A_QUAL" "$LEEDS" "$LEEDS_ANS")"
cm_refusals "bad local applications"

# The three applications: the qualification, the council and that council's answers only.
declare -A LA QS ANS OUTCOMES
QS[$LEEDS]=$LEEDS_Q QS[$BRAD]=$BRAD_Q QS[$MCR]=$MCR_Q
ANS[$LEEDS]=$LEEDS_ANS ANS[$BRAD]=$BRAD_ANS ANS[$MCR]=$MCR_ANS
# Automatic questions (with "pass") pass or fail; others are pending for the council to read; an
# optional question left unanswered has nothing to check and passes (qualify/local.c).
OUTCOMES[$LEEDS]=pass,pending OUTCOMES[$BRAD]=pending,pass,pending OUTCOMES[$MCR]=pending,pass,pass
for c in "$LEEDS" "$BRAD" "$MCR"; do
  req POST /v1/local-applications "$A_KEY" "$(local_body "$A_QUAL" "$c" "${ANS[$c]}")"
  expect_status 201 "provider A applies to $c"
  got=$(jb '"\(.id) \(.status) \(.qualification_id) \(.organisation_id) \(.commissioner_code) \(.service_type)
    answers=\(.answers == $a) questions=\([.results[].criterion] == [$q[].id]) \([.results[].outcome] | join(","))"' \
    --argjson a "${ANS[$c]}" --argjson q "${QS[$c]}")
  LA[$c]=${got%% *}
  assert_eq "submitted $A_QUAL $A_ORG $c childrens-home
    answers=true questions=true ${OUTCOMES[$c]}" "${got#* }" \
    "provider A's application to $c: status, parties, the local answers as sent, one result per local question"
done
assert_eq "1 applications, 1 qualifications" "$(cm_sql "$NATIONAL_A")" \
  "provider A after three local applications: still one national application and one qualification"
assert_eq "$LEEDS LDS-EMERGENCY,LDS-MISSING-LEAD|$BRAD BRD-AREA,BRD-RHI,BRD-BEDS|$MCR MCR-START,MCR-DIPLOMA,MCR-NOTES" \
  "$(cm_sql "SELECT string_agg(x, '|' ORDER BY x DESC) FROM (SELECT l.commissioner_code || ' ' ||
      (SELECT string_agg(r ->> 'criterion', ',' ORDER BY n) FROM jsonb_array_elements(l.results) WITH ORDINALITY t(r, n)) x
     FROM local_application l WHERE organisation_id = '$A_ORG') s")" "the results stored: local questions only"

# Wakefield: the automatic requirement fails; the application is stored with the failure.
req POST /v1/local-applications "$A_KEY" "$(local_body "$A_QUAL" "$WAKE" '{"WKF-GOOD": false}')"
expect_status 201 "provider A applies to Wakefield with a failing answer"
read -r LA_WAKE got < <(jb '"\(.id) \(.results[0].outcome)"')
assert_eq fail "$got" "Wakefield application: the automatic requirement fails"

# ---- scope: local applications ----
LIST_SUMMARY='"\(.total) \([.items[].id] | sort | join(",")) \([.items[].commissioner_code] | unique | join(","))"'
req GET /v1/local-applications "$K_LEEDS"
expect_status 200 "Leeds lists local applications"
assert_eq "1 ${LA[$LEEDS]} $LEEDS" "$(jb "$LIST_SUMMARY")" "Leeds lists only Leeds's local application"
req GET /v1/local-applications "$K_BRAD"
expect_status 200 "Bradford lists local applications"
assert_eq "1 ${LA[$BRAD]} $BRAD" "$(jb "$LIST_SUMMARY")" "Bradford lists only Bradford's"
req GET /v1/local-applications "$K_BOARD"
assert_eq "4 $MCR,$BRAD,$LEEDS,$WAKE" "$(jb '"\(.total) \([.items[].commissioner_code] | sort | join(","))"')" \
  "the board lists every local application"
req GET /v1/local-applications "$B_KEY"
expect_status 200 "provider B lists local applications"
assert_eq "0  " "$(jb "$LIST_SUMMARY")" "provider B sees none of provider A's local applications"
refuse 404 not_found "Leeds accepts Bradford's application" POST "/v1/local-applications/${LA[$BRAD]}/decision" \
  "$K_LEEDS" '{"decision": "accept"}'
refuse 404 not_found "Leeds declines Bradford's application" POST "/v1/local-applications/${LA[$BRAD]}/decision" \
  "$K_LEEDS" '{"decision": "decline", "reason": "we prefer our own providers"}'
refuse 403 forbidden "the provider accepts its own application" POST "/v1/local-applications/${LA[$LEEDS]}/decision" \
  "$A_KEY" '{"decision": "accept"}'
refuse 403 forbidden "the board decides a local application" POST "/v1/local-applications/${LA[$LEEDS]}/decision" \
  "$K_BOARD" '{"decision": "accept"}'
refuse 409 conflict "a second application to Leeds while one is waiting" POST /v1/local-applications "$A_KEY" \
  "$(local_body "$A_QUAL" "$LEEDS" "$LEEDS_ANS")"
cm_refusals "decisions on another council's applications"
assert_eq submitted "$(cm_sql "SELECT status FROM local_application WHERE id = '${LA[$BRAD]}'")" \
  "Bradford's application after Leeds tried to decide it"

# ---- decisions: each council accepts, at its own price ----
declare -A AG PRICE KEY_OF
PRICE[$LEEDS]='450000 week' PRICE[$BRAD]='68000 night' PRICE[$MCR]='1750000 placement'
KEY_OF[$LEEDS]=$K_LEEDS KEY_OF[$BRAD]=$K_BRAD KEY_OF[$MCR]=$K_MCR
for c in "$LEEDS" "$BRAD" "$MCR"; do
  req POST "/v1/local-applications/${LA[$c]}/decision" "${KEY_OF[$c]}" '{"decision": "accept"}'
  expect_status 200 "$c accepts provider A"
  got=$(jb '"\(.agreement.id) \(.local_application.status) \(.agreement | "\(.status) \(.qualification_id) \(.organisation_id) \(.commissioner_code) \(.price_at_start.price_pence) \(.price_at_start.price_unit)")"')
  AG[$c]=${got%% *}
  assert_eq "accepted active $A_QUAL $A_ORG $c ${PRICE[$c]}" "${got#* }" "$c's agreement with provider A"
done
refuse 409 invalid_transition "Leeds accepts the same application again" POST "/v1/local-applications/${LA[$LEEDS]}/decision" \
  "$K_LEEDS" '{"decision": "accept"}'
refuse 409 invalid_transition "Leeds declines an accepted application" POST "/v1/local-applications/${LA[$LEEDS]}/decision" \
  "$K_LEEDS" '{"decision": "decline", "reason": "changed our mind"}'
cm_refusals "deciding an accepted application"

AGREEMENTS='[.items[] | "\(.commissioner_code) \(.id) \(.organisation_id) \(.status) \(.price_at_start.price_pence) \(.price_at_start.price_unit) \(.price_now.price_pence) \(.price_now.price_unit)"] | sort | join("|")'
req GET /v1/agreements "$A_KEY"
expect_status 200 "provider A lists its agreements"
assert_eq 3 "$(jb .total)" "provider A's agreements"
assert_eq "$MCR ${AG[$MCR]} $A_ORG active ${PRICE[$MCR]} ${PRICE[$MCR]}|$BRAD ${AG[$BRAD]} $A_ORG active ${PRICE[$BRAD]} ${PRICE[$BRAD]}|$LEEDS ${AG[$LEEDS]} $A_ORG active ${PRICE[$LEEDS]} ${PRICE[$LEEDS]}" \
  "$(jb "$AGREEMENTS")" "provider A's agreements: each at its council's price (price_at_start, price_now)"

# Provider B joins Leeds too, at the same price: there is no per-provider price.
req POST /v1/local-applications "$B_KEY" "$(local_body "$B_QUAL" "$LEEDS" "$LEEDS_ANS")"
expect_status 201 "provider B applies to Leeds"
req POST "/v1/local-applications/$(jb .id)/decision" "$K_LEEDS" '{"decision": "accept"}'
expect_status 200 "Leeds accepts provider B"
read -r AG_B got < <(jb '"\(.agreement.id) \(.agreement.price_at_start.price_pence)"')
assert_eq 450000 "$got" "provider B's Leeds agreement: the same price"

# ---- scope: agreements ----
AG_IDS='"\(.total) \([.items[].id] | sort | join(","))"'
sorted() { printf '%s\n' "$@" | LC_ALL=C sort | paste -sd ,; } # as jq's sort | join(",")
req GET /v1/agreements "$A_KEY"
assert_eq "3 $(sorted "${AG[$LEEDS]}" "${AG[$BRAD]}" "${AG[$MCR]}")" "$(jb "$AG_IDS")" "provider A sees only its own agreements"
req GET /v1/agreements "$B_KEY"
assert_eq "1 $AG_B" "$(jb "$AG_IDS")" "provider B sees only its own agreement"
req GET /v1/agreements "$K_LEEDS"
assert_eq "2 $(sorted "${AG[$LEEDS]}" "$AG_B")" "$(jb "$AG_IDS")" "Leeds sees its two agreements only"
req GET /v1/agreements "$K_BRAD"
assert_eq "1 ${AG[$BRAD]}" "$(jb "$AG_IDS")" "Bradford sees its one agreement only"
req GET /v1/agreements "$K_BOARD"
assert_eq 4 "$(jb .total)" "the board sees every agreement"

# ---- Leeds raises its price ----
cm_feed "$K_BOARD"
C_PRICE=$FEED_CURSOR
req PUT "/v1/commissioners/$LEEDS/offers/childrens-home" "$K_LEEDS" "$(leeds_offer 475000)"
expect_status 200 "Leeds raises its price (an existing offer: 200)"
assert_eq "475000 2 450000/week/closed 475000/week/in-force contiguous" \
  "$(jb '"\(.price_pence) \(.price_history | length) \([.price_history[] | "\(.price_pence)/\(.price_unit)/\(if has("effective_to") then "closed" else "in-force" end)"] | join(" ")) \(if .price_history[0].effective_to == .price_history[1].effective_from then "contiguous" else "gap" end)"')" \
  "Leeds's price history: the first price closed when the second began"
req GET /v1/agreements "$K_LEEDS"
assert_eq "$(sorted "${AG[$LEEDS]} 450000 475000 week" "$AG_B 450000 475000 week" | tr , '|')" \
  "$(jb '[.items[] | "\(.id) \(.price_at_start.price_pence) \(.price_now.price_pence) \(.price_now.price_unit)"] | sort | join("|")')" \
  "Leeds's agreements after the rise: price_at_start unchanged, price_now the new price, for every provider"
req GET /v1/agreements "$K_BRAD"
assert_eq "68000 68000" "$(jb '.items[0] | "\(.price_at_start.price_pence) \(.price_now.price_pence)"')" \
  "Bradford's agreement is not touched by Leeds's price"
cm_feed "$K_LEEDS" "$C_PRICE"
assert_eq "1 offer.price $LEEDS $LEEDS/childrens-home 450000 475000" \
  "$(feedq '"\(length) \(.[0] | "\(.type) \(.commissioner_code) \(.subject_id) \(.before.price_pence) \(.after.price_pence)")"')" \
  "Leeds's changes since the rise: one offer.price event"
cm_feed "$K_BRAD" "$C_PRICE"
assert_eq 0 "$(feedq length)" "Bradford's feed does not show Leeds's price"
# A change of specification alone is no price change.
req PUT "/v1/commissioners/$LEEDS/offers/childrens-home" "$K_LEEDS" "$(leeds_offer 475000 "$LEEDS_SPEC (revised)")"
expect_status 200 "Leeds changes its specification only"
assert_eq "2 $LEEDS_SPEC (revised)" "$(jb '"\(.price_history | length) \(.specification)"')" \
  "Leeds's offer: a new specification, no new price"
cm_feed "$K_BOARD" "$C_PRICE"
assert_eq "offer.price $LEEDS" "$(feedq kinds)" "the board's changes since the rise: no offer.price for the specification"

# ---- propagation: the board suspends the national qualification ----
cm_feed "$K_BOARD"
C0=$FEED_CURSOR
req POST "/v1/qualifications/$A_QUAL/suspend" "$K_BOARD" '{"reason": "safeguarding concern under investigation"}'
expect_status 200 "the board suspends provider A's qualification"
assert_eq suspended "$(jb .status)" "qualification status after suspend"
req GET /v1/agreements "$K_BOARD"
# status_reason: the qualification's state and the board's reason.
assert_eq "$MCR suspended reason=true|$BRAD suspended reason=true|$LEEDS active reason=false|$LEEDS suspended reason=true" \
  "$(jb '[.items[] | "\(.commissioner_code) \(.status) reason=\(.status_reason // "" | test("suspended.*safeguarding concern under investigation"))"] | sort | join("|")')" \
  "agreements after the suspension: provider A's three suspended with the reason; provider B's (Leeds) active"

cm_feed "$K_BOARD" "$C0"
assert_eq "agreement.suspend $MCR|agreement.suspend $BRAD|agreement.suspend $LEEDS|qualification.suspend -" \
  "$(feedq kinds)" "the board's changes since the suspension: exactly one qualification and three agreements"
assert_eq "$A_QUAL $(sorted "${AG[$LEEDS]}" "${AG[$BRAD]}" "${AG[$MCR]}") active>suspended active>suspended" \
  "$(feedq '"\(ids("qualification.suspend")) \(ids("agreement.suspend")) \([.[] | select(.type == "qualification.suspend") | "\(.before.status)>\(.after.status)"] | unique | join(",")) \([.[] | select(.type == "agreement.suspend") | "\(.before.status)>\(.after.status)"] | unique | join(","))"')" \
  "the suspension events name the qualification and its three agreements"
assert_eq "4 1" "$(cm_sql "SELECT count(*) || ' ' || count(DISTINCT xmin::text) FROM audit_event
  WHERE seq IN ($(feedq '[.[].cursor] | join(",")'))")" \
  "the four events were written in one transaction"
cm_feed "$K_LEEDS" "$C0"
assert_eq "agreement.suspend $LEEDS|qualification.suspend - ${AG[$LEEDS]}" \
  "$(feedq '"\(kinds) \(ids("agreement.suspend"))"')" \
  "Leeds's changes since the suspension: the qualification and its own agreement"
cm_feed "$K_BRAD" "$C0"
assert_eq "agreement.suspend $BRAD|qualification.suspend -" "$(feedq kinds)" "Bradford's changes since the suspension"
cm_feed "$K_KIRK" "$C0"
assert_eq 0 "$(feedq length)" "Kirklees (no agreement with provider A) sees nothing"
req GET "/v1/commissioners/$LEEDS" -
assert_eq 1 "$(jb '.active_agreements["childrens-home"]')" "Leeds's page: active agreements during the suspension"

# While suspended: no new local application, and no acceptance.
refuse 409 qualification_not_active "a local application with a suspended qualification" POST /v1/local-applications \
  "$A_KEY" "$(local_body "$A_QUAL" "$KIRK" '{}')"
refuse 409 qualification_not_active "accepting an application while the qualification is suspended" \
  POST "/v1/local-applications/$LA_WAKE/decision" "$K_WAKE" '{"decision": "accept"}'
refuse 409 invalid_transition "suspending a suspended qualification" POST "/v1/qualifications/$A_QUAL/suspend" "$K_BOARD" \
  '{"reason": "again"}'
cm_refusals "while the qualification is suspended"

cm_feed "$K_BOARD"
C1=$FEED_CURSOR
req POST "/v1/qualifications/$A_QUAL/reinstate" "$K_BOARD" '{"reason": "investigation closed, no further action"}'
expect_status 200 "the board reinstates provider A's qualification"
assert_eq active "$(jb .status)" "qualification status after reinstatement"
req GET /v1/agreements "$A_KEY"
assert_eq "active,active,active 0" "$(jb '"\([.items[].status] | join(",")) \([.items[] | select(has("status_reason"))] | length)"')" \
  "provider A's agreements after reinstatement: active, no status_reason"
cm_feed "$K_BOARD" "$C1"
assert_eq "agreement.reinstate $MCR|agreement.reinstate $BRAD|agreement.reinstate $LEEDS|qualification.reinstate - $(sorted "${AG[$LEEDS]}" "${AG[$BRAD]}" "${AG[$MCR]}")" \
  "$(feedq '"\(kinds) \(ids("agreement.reinstate"))"')" \
  "the board's changes since the reinstatement"

# ---- more refusals, nothing stored ----
req PUT "/v1/commissioners/$KIRK/offers/childrens-home" "$K_KIRK" "$(jq -c '.open = false' <<<"$KIRK_OFFER")"
expect_status 200 "Kirklees closes its offer"
assert_eq false "$(jb .open)" "Kirklees's offer: open"
refuse 409 offer_closed "a local application to a closed offer" POST /v1/local-applications "$A_KEY" \
  "$(local_body "$A_QUAL" "$KIRK" '{}')"
refuse 409 agreement_exists "a local application when an agreement exists" POST /v1/local-applications "$A_KEY" \
  "$(local_body "$A_QUAL" "$LEEDS" "$LEEDS_ANS")"
refuse 422 local_requirements_not_met "accepting an application whose automatic requirement failed" \
  POST "/v1/local-applications/$LA_WAKE/decision" "$K_WAKE" '{"decision": "accept"}'
refuse 400 missing_field "declining without a reason" POST "/v1/local-applications/$LA_WAKE/decision" "$K_WAKE" \
  '{"decision": "decline"}'
refuse 400 invalid_field "declining with an empty reason" POST "/v1/local-applications/$LA_WAKE/decision" "$K_WAKE" \
  '{"decision": "decline", "reason": ""}'
refuse 400 invalid_field "an unknown decision" POST "/v1/local-applications/$LA_WAKE/decision" "$K_WAKE" \
  '{"decision": "maybe", "reason": "x"}'
refuse 404 not_found "deciding a local application that does not exist" \
  POST "/v1/local-applications/00000000-0000-4000-8000-000000000000/decision" "$K_WAKE" '{"decision": "accept"}'
cm_refusals "closed offer, existing agreement, failed requirement, decline without a reason"
req POST "/v1/local-applications/$LA_WAKE/decision" "$K_WAKE" \
  '{"decision": "decline", "reason": "Wakefield contracts only with homes rated Good or better"}'
expect_status 200 "Wakefield declines with a reason"
assert_eq "declined Wakefield contracts only with homes rated Good or better" \
  "$(jb '.local_application | "\(.status) \(.decision_reason)"')" "Wakefield's decision"
assert_eq 0 "$(cm_sql "SELECT count(*) FROM agreement WHERE commissioner_code = '$WAKE'")" "no Wakefield agreement"

# ---- the feed, walked a small page at a time, gives every event once, in order ----
cm_feed "$K_BOARD" "" 2
assert_eq "$(cm_sql "SELECT seq || ' ' || action || ' ' || subject_id FROM audit_event
    WHERE action LIKE 'qualification.%' OR action LIKE 'agreement.%' OR action = 'offer.price' ORDER BY seq")" \
  "$(feedq '.[] | "\(.cursor) \(.type) \(.subject_id)"')" "the board's feed walked 2 at a time, against audit_event"
assert_le 10 "$FEED_PAGES" "pages of 2 walked"
assert_eq "$FEED_CURSOR" "$(feedq '.[-1].cursor')" "the walk's last next_cursor is its last event's"
# Leeds's feed, a page of one at a time, is the same as in one page, and holds only events on
# Leeds's offer and agreements or on the qualifications behind them.
cm_feed "$K_LEEDS" "" 100
assert_eq 1 "$FEED_PAGES" "Leeds's feed in one page"
leeds_all=$(feedq '.[] | "\(.cursor) \(.type) \(.subject_id)"')
assert_eq "" "$(feedq '.[] | select(.commissioner_code != $l and (.subject_id | IN($a, $b) | not)) | .cursor' \
  --arg l "$LEEDS" --arg a "$A_QUAL" --arg b "$B_QUAL")" "Leeds's feed: nothing about other councils"
assert_eq "qualification.suspend=1 qualification.reinstate=1 agreement.suspend=1 agreement.reinstate=1" \
  "$(feedq '[.[] | .type] as $t | ["qualification.suspend", "qualification.reinstate", "agreement.suspend", "agreement.reinstate"]
    | map(. as $k | "\($k)=\([$t[] | select(. == $k)] | length)") | join(" ")')" "Leeds's feed: the suspension and reinstatement"
cm_feed "$K_LEEDS" "" 1
assert_eq "$leeds_all" "$(feedq '.[] | "\(.cursor) \(.type) \(.subject_id)"')" "Leeds's feed walked 1 at a time"
req GET "/v1/changes?since=$FEED_CURSOR" "$K_LEEDS"
expect_status 200 "the feed at its end"
assert_eq "0 $FEED_CURSOR false" "$(jb '"\(.items | length) \(.next_cursor) \(.has_more)"')" "the feed at its end"
refuse 400 invalid_parameter "the feed with a bad cursor" GET "/v1/changes?since=abc" "$K_BOARD"
refuse 400 invalid_parameter "the feed with a negative cursor" GET "/v1/changes?since=-1" "$K_BOARD"
refuse 400 invalid_parameter "the feed with limit 0" GET "/v1/changes?limit=0" "$K_BOARD"
refuse 403 forbidden "a provider reads the changes feed" GET /v1/changes "$A_KEY"
refuse 401 unauthenticated "the changes feed without a key" GET /v1/changes -
cm_refusals "bad feed requests"

# ---- contract reviews with outcome indicators; termination ----
REVIEW=$(jq -cn --arg s "$PERIOD_START" --arg e "$PERIOD_END" '{outcome: "good",
  notes: "Quarterly contract meeting: placements stable, education attendance improving.",
  indicators: [{name: "placement stability at 52 weeks", value: 0.92, unit: "proportion of placements",
                period_start: $s, period_end: $e}]}')
review_with() { jq -c "$1" <<<"$REVIEW"; }
refuse 404 not_found "Leeds reviews Bradford's agreement" POST "/v1/agreements/${AG[$BRAD]}/reviews" "$K_LEEDS" "$REVIEW"
refuse 404 not_found "Leeds terminates Bradford's agreement" POST "/v1/agreements/${AG[$BRAD]}/terminate" "$K_LEEDS" \
  "{\"reason\": \"not ours\", \"end_date\": \"$END_DATE\"}"
refuse 403 forbidden "the provider reviews its own agreement" POST "/v1/agreements/${AG[$MCR]}/reviews" "$A_KEY" "$REVIEW"
refuse 400 invalid_field "a review whose period ends before it starts" POST "/v1/agreements/${AG[$MCR]}/reviews" "$K_MCR" \
  "$(review_with '.indicators[0] |= (.period_start = "2026-03-31" | .period_end = "2025-04-01")')"
refuse 400 missing_field "an indicator without a value" POST "/v1/agreements/${AG[$MCR]}/reviews" "$K_MCR" \
  "$(review_with 'del(.indicators[0].value)')"
refuse 400 missing_field "an indicator without a period" POST "/v1/agreements/${AG[$MCR]}/reviews" "$K_MCR" \
  "$(review_with 'del(.indicators[0].period_start)')"
refuse 400 invalid_field "an indicator whose value is not a number" POST "/v1/agreements/${AG[$MCR]}/reviews" "$K_MCR" \
  "$(review_with '.indicators[0].value = "92%"')"
refuse 400 invalid_field "an unknown review outcome" POST "/v1/agreements/${AG[$MCR]}/reviews" "$K_MCR" \
  "$(review_with '.outcome = "excellent"')"
cm_refusals "bad reviews"
req POST "/v1/agreements/${AG[$MCR]}/reviews" "$K_MCR" "$REVIEW"
expect_status 201 "Manchester reviews its agreement"
assert_eq "good true" "$(jb '"\(.outcome) \(.indicators == $i)"' --argjson i "$(jq -c .indicators <<<"$REVIEW")")" "the review as stored"
SHOWN='.items[] | select(.id == $x) | .reviews | "\(length) \(.[0] | "\(.outcome) \(.indicators[0] | "\(.name) \(.value) \(.unit) \(.period_start) \(.period_end)")")"'
req GET /v1/agreements "$K_MCR"
assert_eq "1 good placement stability at 52 weeks 0.92 proportion of placements $PERIOD_START $PERIOD_END" \
  "$(jb "$SHOWN" --arg x "${AG[$MCR]}")" "the review shown on Manchester's agreement"
req GET /v1/agreements "$A_KEY"
assert_eq "1 good placement stability at 52 weeks 0.92 proportion of placements $PERIOD_START $PERIOD_END" \
  "$(jb "$SHOWN" --arg x "${AG[$MCR]}")" "the provider sees the review on its agreement"

refuse 400 missing_field "terminating without a reason" POST "/v1/agreements/${AG[$MCR]}/terminate" "$K_MCR" \
  "{\"end_date\": \"$END_DATE\"}"
refuse 400 missing_field "terminating without an end date" POST "/v1/agreements/${AG[$MCR]}/terminate" "$K_MCR" \
  '{"reason": "service recommissioned"}'
refuse 400 invalid_field "terminating with a malformed end date" POST "/v1/agreements/${AG[$MCR]}/terminate" "$K_MCR" \
  '{"reason": "service recommissioned", "end_date": "next month"}'
refuse 422 constraint_violation "terminating with an end date before the agreement began" \
  POST "/v1/agreements/${AG[$MCR]}/terminate" "$K_MCR" '{"reason": "service recommissioned", "end_date": "2000-01-01"}'
refuse 403 forbidden "the provider terminates its agreement" POST "/v1/agreements/${AG[$MCR]}/terminate" "$A_KEY" \
  "{\"reason\": \"leaving\", \"end_date\": \"$END_DATE\"}"
cm_refusals "bad terminations"
req POST "/v1/agreements/${AG[$MCR]}/terminate" "$K_MCR" "{\"reason\": \"service recommissioned\", \"end_date\": \"$END_DATE\"}"
expect_status 200 "Manchester terminates its agreement"
assert_eq "terminated $END_DATE service recommissioned" "$(jb '"\(.status) \(.end_date) \(.termination_reason)"')" \
  "the terminated agreement"
refuse 409 invalid_transition "reviewing a terminated agreement" POST "/v1/agreements/${AG[$MCR]}/reviews" "$K_MCR" "$REVIEW"
refuse 409 invalid_transition "terminating a terminated agreement" POST "/v1/agreements/${AG[$MCR]}/terminate" "$K_MCR" \
  "{\"reason\": \"again\", \"end_date\": \"$END_DATE\"}"
cm_refusals "a terminated agreement"
cm_feed "$K_MCR" "$C1"
assert_eq "agreement.reinstate,agreement.terminate" "$(feedq '[.[] | select(.commissioner_code != null) | .type] | join(",")')" \
  "Manchester's agreement events since the reinstatement"

# ---- public transparency ----
req GET "/v1/providers/$A_ORG" -
expect_status 200 "provider A's public page without a key"
assert_eq "Zen Care and Education Limited $BRAD,$LEEDS Bradford,Leeds childrens-home" \
  "$(jb '"\(.name) \([.agreements[].commissioner_code] | sort | join(",")) \([.agreements[].commissioner_name] | sort | join(",")) \([.qualifications[].service_type] | join(","))"')" \
  "provider A's public page: councils with active agreements (Manchester's terminated one is not listed)"
assert_eq "2775403 Children's home $(cm_sql "SELECT lower(replace(overall_rating, 'Requires improvement to be good', 'requires_improvement')) FROM ofsted_setting WHERE urn = '2775403'")" \
  "$(jb '[.ofsted[] | "\(.urn) \(.provision_type) \(.rating // "none")"] | join("|")')" \
  "provider A's public page: Ofsted's judgement of the setting it qualified on"
assert_eq "" "$(jb '[paths | .[] | strings | select(test("^(address|address_private|postcode|contacts|email|phone|api_key|key|key_hash|answers|results|price_pence|lat|lon)$"))] | unique | join(",")')" \
  "provider A's public page: no confidential member"
for secret in "$A_EMAIL" "$A_PHONE" "$A_CONTACT" "$A_ADDRESS" "$A_POSTCODE" "Hilltop" "$A_KEY" aqpd_ \
  "West Yorkshire joint protocol" "$A_QUAL"; do
  assert_not_contains "$HTTP_BODY" "$secret" "provider A's public page"
done
req GET "/v1/providers/$B_ORG" -
assert_eq "$LEEDS" "$(jb '[.agreements[].commissioner_code] | join(",")')" "provider B's public page"

COUNCIL='"\([.offers[] | "\(.service_type) \(.price_pence) \(.price_unit) open=\(.open) active=\(.active_agreements)"] | join("|")) \(.active_agreements | tojson)"'
req GET "/v1/commissioners/$LEEDS" -
expect_status 200 "Leeds's page without a key"
assert_eq 'childrens-home 475000 week open=true active=2 {"childrens-home":2}' "$(jb "$COUNCIL")" \
  "Leeds's page: its offer and active agreements per service"
req GET "/v1/commissioners/$BRAD" -
assert_eq 'childrens-home 68000 night open=true active=1 {"childrens-home":1}' "$(jb "$COUNCIL")" "Bradford's page"
req GET "/v1/commissioners/$MCR" -
assert_eq 'childrens-home 1750000 placement open=true active=0 {}' "$(jb "$COUNCIL")" "Manchester's page (terminated)"
req GET "/v1/commissioners/$KIRK" -
assert_eq 'childrens-home 440000 week open=false active=0 {}' "$(jb "$COUNCIL")" "Kirklees's page (closed offer)"
for c in "$LEEDS" "$BRAD"; do
  req GET "/v1/commissioners/$c" -
  for secret in "$A_EMAIL" "$A_ADDRESS" "$A_POSTCODE" "$A_KEY" aqpd_ "West Yorkshire joint protocol"; do
    assert_not_contains "$HTTP_BODY" "$secret" "$c's page"
  done
done

# ---- the audit chain still verifies (the propagation trigger writes into it) ----
aqpd_run audit verify
assert_eq 0 "$RUN_EXIT" "aqpd audit verify (stdout: $RUN_OUT; stderr: $(tail -n 3 <<<"$RUN_ERR"))"

aqpd_stop TERM
if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer' \
  "$AQPD_LOG" "$T/run.err"; then
  fail "sanitizer report: $(grep -E -m 3 -A 12 'ERROR: |runtime error:' "$AQPD_LOG" "$T/run.err")"
fi
if grep -q '"level":"error"' "$AQPD_LOG"; then
  fail "aqpd logged errors: $(grep -m 3 '"level":"error"' "$AQPD_LOG")"
fi
