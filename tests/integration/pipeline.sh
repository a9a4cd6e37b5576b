#!/usr/bin/env bash
# The national qualification pipeline end to end, over TLS with curl, for three real
# organisations on Ofsted's register (data/ofsted, 31 March 2025), named as the register names
# their owners:
#   (a) Woodside House Care Ltd, children's home SC357455 (Active, Outstanding): qualifies
#       automatically;
#   (b) Wholistic Fostering Limited, fostering agency SC476942 (Active, Good): returned because
#       its public liability insurance ended yesterday (INS-1, with the reason), fixes the date
#       with PATCH, resubmits and qualifies;
#   (c) Barnardo's (owner of fostering agency SC043552 and others): family support, which Ofsted
#       does not regulate, so it waits for an assessor (QUA-1, FIN-1); the assessor requests
#       information (a reason is required), Barnardo's edits and resubmits, the assessor rejects
#       with a reason. A second Barnardo's application (advocacy) shows the queue is oldest
#       submission first, and is qualified on scores.
# Then qualifications: suspend, reinstate, revoke and review with reasons, 409 on illegal
# transitions; the daemon's sweep (AQPD_SWEEP_INTERVAL_S=1) lapses one overdue for review and
# one whose insurance expired, and suspends one whose setting a re-imported register shows
# Suspended. Finally the audit log: every event expected, in order, through GET
# /v1/audit-events and in the table, hash-linked; `aqpd audit verify` passes, then fails naming
# the event when one row is edited or one is deleted.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/pipeline.sh"
t_init
new_database
aqpd_run import ofsted "$OFSTED_CSV"
assert_eq 0 "$RUN_EXIT" "import of the register (stderr: $(tail -n 3 <<<"$RUN_ERR"))"

# ---- the three organisations, as the register has them ----
assert_eq "Children's home|Active|Outstanding|Woodside House Care Ltd" \
  "$(db_query "SELECT provision_type, registration_status, overall_rating, owner_name FROM ofsted_setting WHERE urn = 'SC357455'")" \
  "register entry SC357455"
assert_eq "Independent Fostering Agency|Active|Good|Wholistic Fostering Limited" \
  "$(db_query "SELECT provision_type, registration_status, overall_rating, owner_name FROM ofsted_setting WHERE urn = 'SC476942'")" \
  "register entry SC476942"
assert_eq "Independent Fostering Agency|Active|Good|Barnardo's|Voluntary" \
  "$(db_query "SELECT provision_type, registration_status, overall_rating, owner_name, sector FROM ofsted_setting WHERE urn = 'SC043552'")" \
  "register entry SC043552"
NAME_A=$(db_query "SELECT owner_name FROM ofsted_setting WHERE urn = 'SC357455'")
NAME_B=$(db_query "SELECT owner_name FROM ofsted_setting WHERE urn = 'SC476942'")
NAME_C=$(db_query "SELECT owner_name FROM ofsted_setting WHERE urn = 'SC043552'")

# The audit events this test expects, "actor action subject_type subject_id", in order, after
# the N0 events that migrate and import may have written.
N0=$(db_query 'SELECT count(*) FROM audit_event')
EXPECTED=()
expect_event() { EXPECTED+=("$*"); }

BOARD=$(new_key board)
BOARD_ID=$(key_id "$BOARD")
expect_event "cli:key create" api_key.create api_key "$BOARD_ID"
ASSESSOR=$(new_key assessor)
ASSESSOR_ID=$(key_id "$ASSESSOR")
expect_event "cli:key create" api_key.create api_key "$ASSESSOR_ID"

aqpd_env
aqpd_start

# ---- sign-up: each organisation gets its first key once ----
signup "$(jq -nc --arg n "$NAME_A" '{name: $n, sector: "private", identifiers: [{scheme: "GB-COH", id: "06512345"}]}')"
ORG_A=$ORG_ID KEY_A=$ORG_KEY
assert_eq "$NAME_A" "$(jqb .organisation.name)" "(a) organisation name"
assert_eq provider "$(jqb .organisation.kind)" "(a) organisation kind"
expect_event "public:127.0.0.1" organisation.create organisation "$ORG_A"
signup "$(jq -nc --arg n "$NAME_B" '{name: $n, sector: "private", identifiers: [{scheme: "GB-COH", id: "08765432"}]}')"
ORG_B=$ORG_ID KEY_B=$ORG_KEY
expect_event "public:127.0.0.1" organisation.create organisation "$ORG_B"
signup "$(jq -nc --arg n "$NAME_C" '{name: $n, sector: "voluntary", identifiers: [{scheme: "GB-CHC", id: "216250"}], website: "https://www.barnardos.org.uk"}')"
ORG_C=$ORG_ID KEY_C=$ORG_KEY
expect_event "public:127.0.0.1" organisation.create organisation "$ORG_C"
KID_A=$(key_id "$KEY_A") KID_B=$(key_id "$KEY_B") KID_C=$(key_id "$KEY_C")
[[ -n "$KID_A" && -n "$KID_B" && -n "$KID_C" ]] || fail "sign-up keys are not stored as their SHA-256"
assert_eq "provider|$ORG_A" "$(db_query "SELECT role, organisation_id FROM api_key WHERE id = $KID_A")" \
  "(a) key role and organisation"

api GET "/v1/organisations/$ORG_A" "$KEY_A"
expect_status 200 "(a) reads its organisation"
assert_eq "$NAME_A" "$(jqb .name)" "(a) GET organisation name"
assert_eq null "$(jqb .api_key)" "the key is shown at sign-up only"

# Sites with the settings' URNs. A URN belongs to one site only.
api POST "/v1/organisations/$ORG_A/sites" "$KEY_A" \
  '{"name": "Woodside House", "ofsted_urn": "SC357455", "address_private": true, "places": 3}'
expect_status 201 "(a) site"
expect_event "key:$KID_A" site.create site "$(jqb .id)"
api POST "/v1/organisations/$ORG_B/sites" "$KEY_B" \
  '{"name": "Wholistic Fostering, Tipton", "ofsted_urn": "SC476942", "postcode": "DY4 9DD"}'
expect_status 201 "(b) site"
expect_event "key:$KID_B" site.create site "$(jqb .id)"
api POST "/v1/organisations/$ORG_C/sites" "$KEY_C" \
  '{"name": "Barnardo'"'"'s Fostering, Barkingside", "ofsted_urn": "SC043552", "postcode": "IG6 1QG"}'
expect_status 201 "(c) site"
expect_event "key:$KID_C" site.create site "$(jqb .id)"
api POST "/v1/organisations/$ORG_B/sites" "$KEY_B" '{"name": "Not ours", "ofsted_urn": "SC357455"}'
expect_problem 409 conflict "(b) claims (a)'s URN for a site"

# ---- (a) children's home: qualifies automatically ----
ANS_A=$(answers childrens-home '.ofsted_urn = "SC357455" | .legal.companies_house_number = "06512345"')
api POST /v1/applications "$KEY_A" "{\"service_type\": \"childrens-home\", \"answers\": $ANS_A}"
expect_status 201 "(a) create application"
APP_A=$(jqb .id)
assert_eq "draft|$ORG_A|1" "$(jqb '[.status, .organisation_id, .criteria_version] | join("|")')" "(a) new application"
expect_event "key:$KID_A" application.create application "$APP_A"

api POST "/v1/applications/$APP_A/submit" "$KEY_A"
expect_status 200 "(a) submit"
assert_eq qualified "$(jqb .status)" "(a) status after submit"
assert_eq "LEG-1 LEG-2 INS-1 INS-2 INS-3 REG-1 SAF-1 CON-1" "$(jqb '[.results[].criterion] | join(" ")')" \
  "(a) criteria evaluated for childrens-home"
assert_eq "automatic:pass" "$(jqb '[.results[] | .kind + ":" + .outcome] | unique | join(" ")')" \
  "(a) every criterion automatic and passed"
Q_A=$(jqb .qualification.id)
assert_eq "active|childrens-home|SC357455|$VALID_UNTIL|$ORG_A|$APP_A|$NAME_A" \
  "$(jqb '.qualification | [.status, .service_type, .ofsted_urn, .evidence_expires, .organisation_id, .application_id, .organisation_name] | join("|")')" \
  "(a) qualification record"
expect_event "key:$KID_A" application.submit application "$APP_A"
expect_event "key:$KID_A" qualification.grant qualification "$Q_A"

# review_due is 12 months after qualification, and about a year from now.
review_due=$(jqb .qualification.review_due)
assert_eq t "$(db_query "SELECT (qualified_at + interval '12 months')::text = review_due::text FROM qualification WHERE id = '$Q_A'")" \
  "(a) review_due = qualified_at + 12 months"
days=$(( ($(date -d "$review_due" +%s) - $(date +%s)) / 86400 ))
((days >= 364 && days <= 366)) || fail "(a) review_due $review_due is $days days ahead, not about 12 months"

api POST "/v1/applications/$APP_A/submit" "$KEY_A"
expect_problem 409 invalid_transition "(a) submit a qualified application again"
api PATCH "/v1/applications/$APP_A" "$KEY_A" "{\"answers\": $ANS_A}"
expect_problem 409 invalid_transition "(a) edit a qualified application"
api POST /v1/applications "$KEY_A" "{\"service_type\": \"childrens-home\", \"answers\": $ANS_A}"
expect_problem 409 already_qualified "(a) apply again for a service it is qualified for"

# Another organisation cannot qualify on the URN (a) holds (schema/0006_urn_claims.sql): the
# submit is refused whole, the application stays a draft, and is withdrawn.
api POST /v1/applications "$KEY_B" "{\"service_type\": \"childrens-home\", \"answers\": $ANS_A}"
expect_status 201 "(b) applies with (a)'s URN"
APP_BX=$(jqb .id)
expect_event "key:$KID_B" application.create application "$APP_BX"
api POST "/v1/applications/$APP_BX/submit" "$KEY_B"
expect_problem 409 conflict "(b) submits with (a)'s URN"
assert_eq "draft|0" "$(db_query "SELECT status || '|' || (SELECT count(*) FROM qualification WHERE organisation_id = '$ORG_B') FROM application WHERE id = '$APP_BX'")" \
  "(b)'s application after the refused submit"
api POST "/v1/applications/$APP_BX/withdraw" "$KEY_B"
expect_status 200 "(b) withdraws it"
expect_event "key:$KID_B" application.withdraw application "$APP_BX"

# ---- (b) fostering agency: returned for an expired insurance, fixed, qualifies ----
ANS_B_BAD=$(answers independent-fostering \
  ".ofsted_urn = \"SC476942\" | .insurance.public_liability.expires = \"$EXPIRED\"")
api POST /v1/applications "$KEY_B" "{\"service_type\": \"independent-fostering\", \"answers\": $ANS_B_BAD}"
expect_status 201 "(b) create application"
APP_B=$(jqb .id)
expect_event "key:$KID_B" application.create application "$APP_B"
api POST "/v1/applications/$APP_B/submit" "$KEY_B"
expect_status 200 "(b) submit with an expired insurance"
assert_eq returned "$(jqb .status)" "(b) status after submit"
assert_eq null "$(jqb .qualification)" "(b) no qualification while returned"
assert_eq "LEG-1 LEG-2 INS-1 INS-2 INS-3 REG-1 WRK-1 SAF-1 CON-1" "$(jqb '[.results[].criterion] | join(" ")')" \
  "(b) criteria evaluated for independent-fostering"
assert_eq "INS-1:fail" "$(jqb '[.results[] | select(.outcome != "pass") | .criterion + ":" + .outcome] | join(" ")')" \
  "(b) the only failing criterion"
reason=$(jqb '.results[] | select(.criterion == "INS-1") | .reason')
assert_contains "$reason" "at least 30 more days" "(b) INS-1 reason says what is wrong"
assert_contains "$reason" "answers.insurance.public_liability.expires" "(b) INS-1 reason names the answer to fix"
assert_eq 0 "$(db_query "SELECT count(*) FROM qualification WHERE organisation_id = '$ORG_B'")" \
  "(b) qualifications while returned"
expect_event "key:$KID_B" application.submit application "$APP_B"

api GET "/v1/applications/$APP_B" "$KEY_B"
expect_status 200 "(b) reads its returned application"
assert_eq "returned|INS-1" "$(jqb '.status + "|" + ([.results[] | select(.outcome == "fail") | .criterion] | join(","))')" \
  "(b) stored status and results"

ANS_B=$(answers independent-fostering '.ofsted_urn = "SC476942"')
api PATCH "/v1/applications/$APP_B" "$KEY_B" "{\"answers\": $ANS_B}"
expect_status 200 "(b) fix the insurance date"
assert_eq "returned|$VALID_UNTIL" "$(jqb '.status + "|" + .answers.insurance.public_liability.expires')" \
  "(b) after PATCH"
expect_event "key:$KID_B" application.edit application "$APP_B"
api POST "/v1/applications/$APP_B/submit" "$KEY_B"
expect_status 200 "(b) resubmit"
assert_eq qualified "$(jqb .status)" "(b) status after resubmit"
assert_eq "" "$(jqb '[.results[] | select(.outcome != "pass")] | map(.criterion) | join(" ")')" \
  "(b) failing criteria after the fix"
Q_B=$(jqb .qualification.id)
assert_eq "active|independent-fostering|SC476942" \
  "$(jqb '.qualification | [.status, .service_type, .ofsted_urn] | join("|")')" "(b) qualification"
expect_event "key:$KID_B" application.submit application "$APP_B"
expect_event "key:$KID_B" qualification.grant qualification "$Q_B"

# ---- (c) Barnardo's: judgement criteria go to an assessor ----
# Two applications; the one created second is submitted first, so "oldest first" can only mean
# oldest submission.
ANS_C=$(answers family-support '.legal.charity_number = "216250"')
api POST /v1/applications "$KEY_C" "{\"service_type\": \"advocacy\", \"answers\": $ANS_C}"
expect_status 201 "(c) create the advocacy application"
APP_CX=$(jqb .id)
expect_event "key:$KID_C" application.create application "$APP_CX"
api POST /v1/applications "$KEY_C" "{\"service_type\": \"family-support\", \"answers\": $ANS_C}"
expect_status 201 "(c) create the family support application"
APP_C=$(jqb .id)
expect_event "key:$KID_C" application.create application "$APP_C"

api POST "/v1/applications/$APP_C/submit" "$KEY_C"
expect_status 200 "(c) submit family support"
assert_eq in_assessment "$(jqb .status)" "(c) status after submit"
assert_eq "QUA-1:judgement:pending FIN-1:judgement:pending" \
  "$(jqb '[.results[] | select(.outcome != "pass") | .criterion + ":" + .kind + ":" + .outcome] | join(" ")')" \
  "(c) criteria left to the assessor"
assert_eq "LEG-1 LEG-2 INS-1 INS-2 INS-3 SAF-1 CON-1" \
  "$(jqb '[.results[] | select(.outcome == "pass") | .criterion] | join(" ")')" "(c) automatic criteria passed"
expect_event "key:$KID_C" application.submit application "$APP_C"
sleep 0.01
api POST "/v1/applications/$APP_CX/submit" "$KEY_C"
expect_status 200 "(c) submit advocacy"
assert_eq in_assessment "$(jqb .status)" "(c) advocacy status after submit"
expect_event "key:$KID_C" application.submit application "$APP_CX"

queue() { # the assessors' queue as "id id ..." in QUEUE
  api GET /v1/assessments "$ASSESSOR"
  expect_status 200 "GET /v1/assessments"
  QUEUE=$(jqb '[.items[].id] | join(" ")')
}
queue
assert_eq "$APP_C $APP_CX" "$QUEUE" "the queue, oldest submission first"
assert_eq 2 "$(jqb .total)" "queue total"
api GET '/v1/assessments?limit=1' "$BOARD"
expect_status 200 "queue page 1"
assert_eq "$APP_C" "$(jqb '[.items[].id] | join(" ")')" "queue page 1 of 1 item"
cursor=$(jqb .next_cursor)
api GET "/v1/assessments?limit=1&cursor=$cursor" "$BOARD"
expect_status 200 "queue page 2"
assert_eq "$APP_CX|null" "$(jqb '([.items[].id] | join(" ")) + "|" + (.next_cursor | tostring)')" "queue page 2"

# request_info needs a reason.
api POST "/v1/applications/$APP_C/decision" "$ASSESSOR" '{"decision": "request_info"}'
expect_problem 400 missing_field "request_info without a reason"
assert_contains "$(jqb .detail)" "reason is required to request_info" "request_info without a reason: detail"
api POST "/v1/applications/$APP_C/decision" "$ASSESSOR" \
  '{"decision": "request_info", "reason": "Send the latest audited accounts and two commissioner references."}'
expect_status 200 "(c) the assessor requests information"
assert_eq "info_requested|Send the latest audited accounts and two commissioner references." \
  "$(jqb '.status + "|" + .decision_reason')" "(c) after request_info"
expect_event "key:$ASSESSOR_ID" application.decide application "$APP_C"
queue
assert_eq "$APP_CX" "$QUEUE" "the queue without the application waiting for information"

api POST "/v1/applications/$APP_C/decision" "$ASSESSOR" '{"decision": "reject", "reason": "too early"}'
expect_problem 409 invalid_transition "reject while information is requested"

ANS_C2=$(jq -c '.insurance.public_liability.cover_pence = 1000000000' <<<"$ANS_C")
api PATCH "/v1/applications/$APP_C" "$KEY_C" "{\"answers\": $ANS_C2}"
expect_status 200 "(c) edit while information is requested"
assert_eq "info_requested|1000000000" "$(jqb '.status + "|" + (.answers.insurance.public_liability.cover_pence | tostring)')" \
  "(c) after PATCH"
expect_event "key:$KID_C" application.edit application "$APP_C"
api POST "/v1/applications/$APP_C/submit" "$KEY_C"
expect_status 200 "(c) resubmit"
assert_eq in_assessment "$(jqb .status)" "(c) status after resubmit"
expect_event "key:$KID_C" application.submit application "$APP_C"
queue
assert_eq "$APP_CX $APP_C" "$QUEUE" "the queue after the resubmission (now the newest)"

api POST "/v1/applications/$APP_C/decision" "$ASSESSOR" '{"decision": "reject"}'
expect_problem 400 missing_field "reject without a reason"
REJECT_REASON="Financial standing not shown: the accounts sent cover another charity."
api POST "/v1/applications/$APP_C/decision" "$ASSESSOR" "{\"decision\": \"reject\", \"reason\": \"$REJECT_REASON\"}"
expect_status 200 "(c) the assessor rejects"
assert_eq "rejected|$REJECT_REASON" "$(jqb '.status + "|" + .decision_reason')" "(c) after reject"
assert_eq null "$(jqb .qualification)" "(c) no qualification on reject"
expect_event "key:$ASSESSOR_ID" application.decide application "$APP_C"
assert_eq "rejected|$REJECT_REASON|0" \
  "$(db_query "SELECT status, decision_reason, (SELECT count(*) FROM qualification WHERE application_id = '$APP_C') FROM application WHERE id = '$APP_C'")" \
  "(c) stored rejection"
api POST "/v1/applications/$APP_C/submit" "$KEY_C"
expect_problem 409 invalid_transition "submit a rejected application"
queue
assert_eq "$APP_CX" "$QUEUE" "the queue after the rejection"

# The advocacy application: scores below the pass mark cannot qualify; passing scores do.
api POST "/v1/applications/$APP_CX/decision" "$ASSESSOR" '{"decision": "qualify", "scores": {"QUA-1": 4, "FIN-1": 2}}'
expect_problem 422 below_pass_mark "qualify with FIN-1 below the pass mark"
assert_contains "$(jqb .detail)" FIN-1 "below_pass_mark names the criterion"
api POST "/v1/applications/$APP_CX/decision" "$ASSESSOR" '{"decision": "qualify"}'
expect_problem 400 missing_field "qualify without scores"
api POST "/v1/applications/$APP_CX/decision" "$ASSESSOR" '{"decision": "qualify", "scores": {"QUA-1": 4, "FIN-1": 3}}'
expect_status 200 "(c) advocacy qualified on scores"
assert_eq qualified "$(jqb .status)" "(c) advocacy status"
assert_eq "QUA-1:pass:4 FIN-1:pass:3" \
  "$(jqb '[.results[] | select(.kind == "judgement") | .criterion + ":" + .outcome + ":" + (.score | tostring)] | join(" ")')" \
  "(c) judged criteria in the results"
Q_C=$(jqb .qualification.id)
assert_eq "active|advocacy" "$(jqb '.qualification | .status + "|" + .service_type')" "(c) advocacy qualification"
expect_event "key:$ASSESSOR_ID" application.decide application "$APP_CX"
expect_event "key:$ASSESSOR_ID" qualification.grant qualification "$Q_C"
queue
assert_eq "" "$QUEUE" "the queue when everything is decided"

# A draft can be withdrawn, once.
api POST /v1/applications "$KEY_C" "{\"service_type\": \"edge-of-care\", \"answers\": $ANS_C}"
expect_status 201 "(c) create an edge-of-care draft"
APP_CW=$(jqb .id)
expect_event "key:$KID_C" application.create application "$APP_CW"
api POST "/v1/applications/$APP_CW/withdraw" "$KEY_C"
expect_status 200 "(c) withdraw the draft"
assert_eq withdrawn "$(jqb .status)" "(c) status after withdraw"
expect_event "key:$KID_C" application.withdraw application "$APP_CW"
api POST "/v1/applications/$APP_CW/withdraw" "$KEY_C"
expect_problem 409 invalid_transition "withdraw twice"

# ---- qualifications ----
api GET /v1/qualifications "$BOARD"
expect_status 200 "GET /v1/qualifications (board)"
assert_eq "3|$Q_A $Q_B $Q_C" "$(jqb '(.total | tostring) + "|" + ([.items[].id] | join(" "))')" \
  "the directory entries, oldest first"
api GET /v1/qualifications "$KEY_B"
expect_status 200 "GET /v1/qualifications (b)"
assert_eq "1|$Q_B|$NAME_B" "$(jqb '(.total | tostring) + "|" + ([.items[].id] | join(" ")) + "|" + .items[0].organisation_name')" \
  "(b) sees its own qualification only"

api POST "/v1/qualifications/$Q_A/suspend" "$BOARD" '{}'
expect_problem 400 missing_field "suspend without a reason"
api POST "/v1/qualifications/$Q_A/suspend" "$BOARD" '{"reason": "Safeguarding concern under investigation"}'
expect_status 200 "suspend (a)"
assert_eq "suspended|Safeguarding concern under investigation" "$(jqb '.status + "|" + .status_reason')" "(a) suspended"
expect_event "key:$BOARD_ID" qualification.suspend qualification "$Q_A"
api POST "/v1/qualifications/$Q_A/suspend" "$BOARD" '{"reason": "again"}'
expect_problem 409 invalid_transition "suspend a suspended qualification"
api POST "/v1/qualifications/$Q_A/reinstate" "$BOARD" '{"reason": "Investigation closed, no further action"}'
expect_status 200 "reinstate (a)"
assert_eq "active|null" "$(jqb '.status + "|" + (.status_reason | tostring)')" "(a) reinstated"
expect_event "key:$BOARD_ID" qualification.reinstate qualification "$Q_A"
api POST "/v1/qualifications/$Q_A/reinstate" "$BOARD" '{"reason": "again"}'
expect_problem 409 invalid_transition "reinstate an active qualification"
assert_eq "active" "$(db_query "SELECT status FROM qualification WHERE id = '$Q_A'")" "(a) after the refused reinstate"

api POST "/v1/qualifications/$Q_C/reviews" "$ASSESSOR" '{"outcome": "passed", "reason": "Annual assessment: references and accounts in order"}'
expect_status 200 "review (c)"
assert_eq active "$(jqb .status)" "(c) after a passed review"
expect_event "key:$ASSESSOR_ID" qualification.review qualification "$Q_C"
api POST "/v1/qualifications/00000000-0000-4000-8000-000000000000/suspend" "$BOARD" '{"reason": "x"}'
expect_problem 404 not_found "suspend an unknown qualification"

# ---- the sweep: lapses (review overdue, insurance expired), register suspension ----
aqpd_stop TERM
assert_no_sanitizer_report "$AQPD_LOG"
export AQPD_SWEEP_INTERVAL_S=1
aqpd_start
sleep 1.5 # the sweep that runs just after start has passed; what follows is the 1 s timer's
db_query "UPDATE qualification SET review_due = now() - interval '1 day' WHERE id = '$Q_B'" >/dev/null
expired_on=$(db_query "UPDATE qualification SET evidence_expires = current_date - 1 WHERE id = '$Q_C' RETURNING evidence_expires")
wait_for 10 "SELECT status || '|' || status_reason FROM qualification WHERE id = '$Q_B'" \
  "lapsed|annual review overdue" "(b) lapses when its review is overdue"
wait_for 10 "SELECT status || '|' || status_reason FROM qualification WHERE id = '$Q_C'" \
  "lapsed|evidence expired on $expired_on" "(c) lapses when its insurance has expired"
assert_eq active "$(db_query "SELECT status FROM qualification WHERE id = '$Q_A'")" "(a) is not lapsed"
# One event each; the order between the two is the sweep's.
lapse_order=$(db_query "SELECT string_agg(subject_id, ' ' ORDER BY seq) FROM audit_event WHERE action = 'qualification.lapse'")
for q in $lapse_order; do expect_event system:lapse qualification.lapse qualification "$q"; done
assert_eq 2 "$(wc -w <<<"$lapse_order")" "lapse events"

api POST "/v1/qualifications/$Q_B/reviews" "$ASSESSOR" '{"outcome": "passed", "reason": "Review done late; all in order"}'
expect_status 200 "review a lapsed qualification"
assert_eq active "$(jqb .status)" "(b) active again after a passed review"
days=$(( ($(date -d "$(jqb .review_due)" +%s) - $(date +%s)) / 86400 ))
((days >= 364 && days <= 366)) || fail "(b) review_due after the review is $days days ahead"
expect_event "key:$ASSESSOR_ID" qualification.review qualification "$Q_B"

api POST "/v1/qualifications/$Q_C/revoke" "$BOARD" '{"reason": "Insurance not renewed within 28 days of lapse"}'
expect_status 200 "revoke (c)"
assert_eq "revoked|Insurance not renewed within 28 days of lapse" "$(jqb '.status + "|" + .status_reason')" "(c) revoked"
expect_event "key:$BOARD_ID" qualification.revoke qualification "$Q_C"
for action in revoke reinstate suspend; do
  api POST "/v1/qualifications/$Q_C/$action" "$BOARD" '{"reason": "after revocation"}'
  expect_problem 409 invalid_transition "$action a revoked qualification"
done

# A newer register shows (a)'s home suspended: the import notifies aqpd, which suspends it.
M=$T/Provider_level_suspended.csv
sed '/^[^,]*,SC357455,/s/,Active,/,Suspended,/' "$OFSTED_CSV" >"$M"
assert_eq 1 "$(grep -c ',SC357455,.*,Suspended,' "$M")" "the modified register suspends SC357455"
aqpd_run import ofsted "$M"
assert_eq 0 "$RUN_EXIT" "import of the modified register (stderr: $(tail -n 3 <<<"$RUN_ERR"))"
assert_eq 1 "$(sed -n 's/^updated: \([0-9]*\).*/\1/p' <<<"$RUN_OUT")" "settings the modified register updates"
wait_for 10 "SELECT status || '|' || status_reason FROM qualification WHERE id = '$Q_A'" \
  "suspended|Ofsted registration of SC357455 is Suspended" "(a) suspended by the register"
expect_event system:register qualification.suspend qualification "$Q_A"
sleep 1.2 # another sweep: nothing more changes
assert_eq "active|revoked" \
  "$(db_query "SELECT string_agg(status, '|' ORDER BY status) FROM qualification WHERE id IN ('$Q_B', '$Q_C')")" \
  "the others after the register sweep"
api GET "/v1/qualifications?status=suspended" "$BOARD"
expect_status 200 "GET /v1/qualifications?status=suspended"
assert_eq "$Q_A" "$(jqb '[.items[].id] | join(" ")')" "suspended qualifications"

# ---- the audit log ----
cursor=
while :; do
  api GET "/v1/audit-events?limit=100${cursor:+&cursor=$cursor}" "$BOARD"
  expect_status 200 "GET /v1/audit-events"
  jqb '.items[] | [.seq, .at, .actor, .action, .subject_type, .subject_id, .prev_hash, .hash] | @tsv' >>"$T/events.tsv"
  cursor=$(jqb '.next_cursor // empty')
  [[ -n "$cursor" ]] || break
done
total=$(db_query 'SELECT count(*) FROM audit_event')
assert_eq "$total" "$(wc -l <"$T/events.tsv")" "events listed by GET /v1/audit-events"
assert_eq "$(db_query "SELECT string_agg(seq || ' ' || action || ' ' || subject_id || ' ' || encode(hash, 'hex'), ',' ORDER BY seq) FROM audit_event")" \
  "$(awk -F'\t' '{ printf "%s%s %s %s %s", (NR > 1 ? "," : ""), $1, $4, $6, $8 }' "$T/events.tsv")" \
  "GET /v1/audit-events lists the table, in order"
# Each event names the hash of the one before it.
awk -F'\t' 'NR > 1 && $7 != prev { print "event " $1 " prev_hash " $7 " != hash before it " prev; bad = 1 }
  { prev = $8 } END { exit bad }' "$T/events.tsv" >"$T/links" || fail "audit chain links: $(cat "$T/links")"

# The events after the first N0, as "actor action subject_type subject_id". The statement that
# qualifies an application also grants the qualification, in one transaction (the same `at`);
# the order of those two events within it is not part of the contract, so a grant directly
# before the transition that caused it is read after it.
awk -F'\t' -v n0="$N0" 'NR > n0 { print $2 "\t" $3 " " $4 " " $5 " " $6 }' "$T/events.tsv" |
  awk -F'\t' '
    { at[NR] = $1; ev[NR] = $2 }
    END {
      for (i = 1; i <= NR; i++) {
        if (ev[i] ~ / qualification\.grant / && i < NR && at[i] == at[i + 1] &&
            ev[i + 1] ~ / application\.(submit|decide) /) {
          print ev[i + 1]; print ev[i]; i++
        } else print ev[i]
      }
    }' >"$T/events.actual"
printf '%s\n' "${EXPECTED[@]}" >"$T/events.expected"
diff -u "$T/events.expected" "$T/events.actual" >"$T/events.diff" ||
  fail "audit events differ from those expected: $(cat "$T/events.diff")"
# Grants are written in the transaction of the transition that caused them.
assert_eq 0 "$(db_query "SELECT count(*) FROM audit_event g WHERE g.action = 'qualification.grant'
  AND NOT EXISTS (SELECT 1 FROM audit_event t WHERE t.subject_id = g.detail->>'application_id'
                  AND t.action IN ('application.submit', 'application.decide') AND t.at = g.at)")" \
  "grant events without a transition in the same transaction"

# Filtered by object: the whole story of (c)'s family support application.
api GET "/v1/audit-events?subject_type=application&subject_id=$APP_C" "$BOARD"
expect_status 200 "audit events of one application"
assert_eq "application.create application.submit application.decide application.edit application.submit application.decide" \
  "$(jqb '[.items[].action] | join(" ")')" "(c)'s events"
assert_eq "create:>draft submit:draft>in_assessment decide:in_assessment>info_requested edit:> submit:info_requested>in_assessment decide:in_assessment>rejected" \
  "$(jqb '[.items[] | (.action | ltrimstr("application.")) + ":" + (.detail.before.status // "") + ">" + (.detail.after.status // "")] | join(" ")')" \
  "(c)'s transitions as recorded"
assert_eq "$REJECT_REASON" "$(jqb '.items[-1].detail.reason')" "the rejection's reason in the audit event"
assert_eq 9 "$(jqb '.items[1].detail.results | length')" "the submit event records the results"

aqpd_stop TERM
assert_no_sanitizer_report "$T"/aqpd.*.log

# ---- verification, tampering, deletion ----
aqpd_run audit verify
assert_eq 0 "$RUN_EXIT" "aqpd audit verify on an intact log (out: $RUN_OUT $RUN_ERR)"
assert_contains "$RUN_OUT" "audit chain intact: $total events" "aqpd audit verify output"

# The table refuses edits and deletions (a trigger), even to its owner.
if db_query "UPDATE audit_event SET actor = 'x' WHERE seq = 1" >/dev/null 2>&1; then
  fail "UPDATE audit_event succeeded"
fi
if db_query "DELETE FROM audit_event WHERE seq = 1" >/dev/null 2>&1; then
  fail "DELETE FROM audit_event succeeded"
fi

# Edit the rejection's reason behind the trigger's back, as a superuser could.
victim=$(db_query "SELECT max(seq) FROM audit_event WHERE action = 'application.decide' AND subject_id = '$APP_C'")
original=$(db_query "SELECT detail::text FROM audit_event WHERE seq = $victim")
tamper() { # SQL run with the append-only trigger disabled
  fixture_psql -d "$DB_NAME" >/dev/null <<SQL
ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update;
$1
ALTER TABLE audit_event ENABLE TRIGGER audit_event_no_update;
SQL
}
tamper "UPDATE audit_event SET detail = jsonb_set(detail, '{reason}', '\"Approved\"') WHERE seq = $victim;"
aqpd_run audit verify
assert_eq 1 "$RUN_EXIT" "aqpd audit verify after an event was edited"
assert_contains "$RUN_OUT" "audit chain broken at event $victim:" "aqpd audit verify names the edited event"
assert_contains "$RUN_OUT" "edited" "aqpd audit verify says the event was edited"
# Put it back exactly: the chain verifies again (the check is about this row, nothing else).
original_sql=${original//\'/\'\'}
tamper "UPDATE audit_event SET detail = '$original_sql'::jsonb WHERE seq = $victim;"
aqpd_run audit verify
assert_eq 0 "$RUN_EXIT" "aqpd audit verify once the edit is undone (out: $RUN_OUT)"

# Remove an event from the middle: the next one no longer links to its predecessor.
gone=$(db_query "SELECT seq FROM audit_event WHERE action = 'application.edit' AND subject_id = '$APP_B'")
next=$(db_query "SELECT min(seq) FROM audit_event WHERE seq > $gone")
tamper "DELETE FROM audit_event WHERE seq = $gone;"
aqpd_run audit verify
assert_eq 1 "$RUN_EXIT" "aqpd audit verify after an event was deleted"
assert_contains "$RUN_OUT" "audit chain broken at event $next:" "aqpd audit verify names the event after the gap"
assert_contains "$RUN_OUT" "removed" "aqpd audit verify says an event was removed"
assert_no_sanitizer_report "$T/run.err"
