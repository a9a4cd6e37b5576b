#!/usr/bin/env bash
# Signed publications: without a signing key publishing is refused (API 503, CLI exit 2) and
# nothing is stored; with one, POST /v1/publications (board) and `aqpd publish` number
# snapshots 1, 2, 3…; publishing an unchanged directory answers 200 "unchanged" and stores
# nothing; concurrent publishes never share a number; rows cannot be changed; the README's
# verification lines (run exactly as written there) succeed, and fail on a flipped byte; the
# children's home's name, street and postcode are in no output; CSV quoting; a CSV large enough
# to be streamed in several batches arrives whole; ETag/304 and CORS; 400 and 404 problems.
source "$(dirname "$0")/../lib/common.sh"
t_init
directory_database "" seed
aqpd_run key create --role board
BOARD=$RUN_OUT
aqpd_run key create --role assessor
ASSESSOR=$RUN_OUT
pubs() { db_query "SELECT count(*) FROM publication"; }

# ---- no signing key ----
aqpd_run publish
assert_eq 2 "$RUN_EXIT" "aqpd publish without a key"
assert_contains "$RUN_ERR" "signing_key is not set" "its message"
aqpd_env
aqpd_start
https POST /v1/publications -H "Authorization: Bearer $BOARD"
expect_problem 503 signing_key_missing "publishing without a key"
https POST /v1/publications -H "Authorization: Bearer $ASSESSOR"
expect_problem 403 forbidden "an assessor may not publish"
https GET /v1/publications/public-key
expect_problem 404 no_public_key "no key, nothing published"
https GET /v1/publications/latest
expect_problem 404 not_found "latest before the first"
https GET /v1/publications
assert_eq '0 0 null' "$(jq -r '"\(.total) \(.items | length) \(.next_cursor)"' <<<"$HTTP_BODY")" "an empty list"
assert_eq 0 "$(pubs)" "nothing stored"
aqpd_stop

# A key that is not Ed25519 is refused at start, naming the key.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.pem" 2>/dev/null
AQPD_SIGNING_KEY=$T/ec.pem aqpd_run serve
assert_eq 2 "$RUN_EXIT" "serve with an EC signing key"
assert_contains "$RUN_ERR" "signing_key:" "the message names the key"

# ---- publishing ----
openssl genpkey -algorithm ed25519 -out "$T/board.pem" 2>/dev/null || fail "openssl genpkey"
export AQPD_SIGNING_KEY=$T/board.pem
aqpd_start
https POST /v1/publications -H "Authorization: Bearer $BOARD"
expect_status 201 "the first publication"
assert_eq "1 false /v1/publications/1" "$(jq -r '"\(.number) \(.unchanged)"' <<<"$HTTP_BODY") $(header location)" "number 1"
assert_eq '3 3 2 1 1' "$(jq -r '.counts | "\(.sites) \(.qualifications) \(.organisations) \(.agreements) \(.offers)"' <<<"$HTTP_BODY")" "counts"
SHA1=$(jq -r .sha256 <<<"$HTTP_BODY")
https POST /v1/publications -H "Authorization: Bearer $BOARD"
expect_status 200 "publishing again with nothing changed"
assert_eq "1 true $SHA1" "$(jq -r '"\(.number) \(.unchanged) \(.sha256)"' <<<"$HTTP_BODY")" "unchanged: the last publication"
assert_eq 1 "$(pubs)" "unchanged stored nothing"
assert_eq 1 "$(db_query "SELECT count(*) FROM audit_event WHERE action = 'publication.create'")" "one audit event"

# A change (vacancies) makes number 2, through the CLI.
db_query "UPDATE site SET vacancies = 0, vacancies_at = now() WHERE id = 'd0000000-0000-4000-8000-000000000003'" >/dev/null
aqpd_run publish
assert_eq 0 "$RUN_EXIT" "aqpd publish: $RUN_ERR"
assert_eq "2 false" "$(jq -r '"\(.number) \(.unchanged)"' <<<"$RUN_OUT")" "the CLI's publication"
assert_contains "$RUN_ERR" "reading the directory" "progress on stderr"
# The audit head it anchors is the chain's last event before it.
assert_eq "$(db_query "SELECT seq || ' ' || encode(hash, 'hex') FROM audit_event WHERE action = 'publication.create' ORDER BY seq DESC LIMIT 1 OFFSET 0" | awk '{print $1-1}')" \
  "$(jq -r .audit.seq <<<"$RUN_OUT")" "the audit chain head in publication 2"

# Concurrent publishes after a change: one new number, the others unchanged, none shared.
db_query "UPDATE site SET places = 41 WHERE id = 'd0000000-0000-4000-8000-000000000003'" >/dev/null
cc=()
for i in 1 2 3; do
  "$AQPD_BIN" publish >"$T/cc.$i.out" 2>"$T/cc.$i.err" &
  cc+=($!)
done
curl -s --cacert "$CACERT" --resolve "localhost:$AQPD_PORT:127.0.0.1" -X POST \
  -H "Authorization: Bearer $BOARD" "https://localhost:$AQPD_PORT/v1/publications" >"$T/cc.4.out" &
cc+=($!)
wait "${cc[@]}"
assert_eq "3 3 3 3" "$(jq -r .number "$T"/cc.[1-4].out | tr '\n' ' ' | sed 's/ $//')" "every concurrent publish names number 3"
assert_eq 1 "$(jq -r 'select(.unchanged == false) | .number' "$T"/cc.[1-4].out | wc -l)" "exactly one of them stored it"
assert_eq "1 2 3" "$(db_query "SELECT string_agg(number::text, ' ' ORDER BY number) FROM publication")" "numbers"

# Immutable.
for sql in "UPDATE publication SET created_by = 'x'" "DELETE FROM publication" "UPDATE publication_entry SET search = ''" "TRUNCATE publication CASCADE"; do
  if db_query "$sql" >/dev/null 2>&1; then fail "'$sql' was allowed"; fi
done
assert_eq 3 "$(pubs)" "still three"

# ---- reads ----
https GET /v1/publications?limit=2
expect_status 200 "the list"
assert_eq "3 3 2 2" "$(jq -r '"\(.total) \(.items[0].number) \(.items[1].number) \(.next_cursor)"' <<<"$HTTP_BODY")" "newest first, a cursor"
assert_eq '*' "$(header access-control-allow-origin)" "CORS"
https GET "/v1/publications?limit=2&cursor=2"
assert_eq "1 null" "$(jq -r '"\(.items[0].number) \(.next_cursor)"' <<<"$HTTP_BODY")" "the last page"
https GET "/v1/publications?cursor=abc"
expect_problem 400 invalid_parameter "a bad cursor"
https GET /v1/publications/latest
assert_eq 3 "$(jq -r .number <<<"$HTTP_BODY")" "latest"
for bad in abc 0 -1 1.5 99999999999; do
  https GET "/v1/publications/$bad"
  expect_problem 400 invalid_parameter "publication '$bad'"
  assert_contains "$HTTP_BODY" "n (the publication number)" "the detail names n"
  https GET "/v1/publications/$bad/directory.csv"
  expect_problem 400 invalid_parameter "publication '$bad' CSV"
done
https GET /v1/publications/4
expect_problem 404 not_found "publication 4"
https GET /v1/publications/4/directory.json
expect_problem 404 not_found "publication 4's bytes"
https GET /v1/publications/public-key
expect_status 200 "the public key"
expect_ctype application/x-pem-file "its media type"
openssl pkey -pubin -in "$T/body" -noout 2>/dev/null || fail "the public key is not a PEM key: $HTTP_BODY"
assert_eq "$(openssl pkey -in "$T/board.pem" -pubout)" "$HTTP_BODY" "the configured key's public half"

# ETag and If-None-Match.
https GET /v1/publications/1
ETAG=$(header etag)
assert_match "$ETAG" "^\"${SHA1:0:32}-[0-9a-f]{16}\"$" "the ETag carries the sha256"
https GET /v1/publications/1 -H "If-None-Match: $ETAG"
expect_status 304 "not modified"
https GET /v1/publications/1/directory.json -H "If-None-Match: W/$ETAG"
expect_status 200 "another URI, another tag"

# The bytes: hash, canonical form, redaction.
https GET /v1/publications/1/directory.json
expect_status 200 "directory.json"
assert_eq "$SHA1" "$(sha256sum "$T/body" | cut -d' ' -f1)" "the bytes hash to sha256"
assert_eq "$(jq -c . "$T/body")" "$(jq -cS . "$T/body")" "canonical: every object's keys sorted"
assert_eq 0 "$(tr -cd '\n' <"$T/body" | wc -c)" "canonical: no newline"
assert_not_contains "$HTTP_BODY" '": ' "canonical: no space after a colon"
assert_not_contains "$HTTP_BODY" '", "' "canonical: no space after a comma"
assert_eq "aqpd-directory/1 3 13" "$(jq -r '"\(.format) \(.sites | length) \(.service_types | length)"' "$T/body")" "sections"
assert_eq "LS6 postcode_district" "$(jq -r '.sites[] | select(.id == "d0000000-0000-4000-8000-000000000001") | "\(.postcode_district) \(.location_basis)"' "$T/body")" "a home at its district"
assert_contains "$HTTP_BODY" '"lat":53.818500' "coordinates with six decimals"
assert_eq "local_authority E08000032" "$(jq -r '.sites[] | select(.id == "d0000000-0000-4000-8000-000000000002") | "\(.location_basis) \(.la_code)"' "$T/body")" "a home without a postcode at its council"

https GET /v1/publications/3/directory.csv
expect_status 200 "directory.csv"
expect_ctype text/csv "CSV media type"
CSV=$HTTP_BODY
assert_eq 4 "$(printf '%s' "$CSV" | grep -c $'\r$')" "a header and three CRLF records"
assert_contains "$CSV" ',Leeds Family Hub,"10 Park Row, ""Suite 2""",LS1 5AB,LS1,' "RFC 4180 quoting"
assert_contains "$CSV" 'd0000000-0000-4000-8000-000000000001,a0000000-0000-4000-8000-000000000001,Woodside House Care Ltd,,,,LS6,' "the home without name, address or postcode"
for secret in 'Secret Lane' 'LS6 2AB' 'Hidden Cottage' 'Quiet Road' '"Woodside House"' ',Woodside House,'; do
  for n in 1 3; do
    for f in directory.json directory.csv; do
      https GET "/v1/publications/$n/$f"
      assert_not_contains "$HTTP_BODY" "$secret" "publication $n $f: a children's home's private detail"
    done
  done
done

# ---- the README's verification lines, exactly ----
README=$AQPD_SOURCE_DIR/README.md
sed -n '/<!-- verify-publication:begin -->/,/<!-- verify-publication:end -->/p' "$README" |
  grep -v -e '^<!--' -e '^```' >"$T/verify.sh"
(($(wc -l <"$T/verify.sh") >= 5)) || fail "no verification lines between the markers in README.md"
grep -q '^openssl pkeyutl -verify -rawin' "$T/verify.sh" || fail "the README's lines do not verify with openssl pkeyutl"
mkdir -p "$T/verify"
(
  cd "$T/verify"
  AQPD_URL="https://localhost:$AQPD_PORT" AQPD_CACERT=$CACERT \
    bash -e "$T/verify.sh" >"$T/verify.out" 2>&1
) || fail "the README's verification lines failed: $(cat "$T/verify.out")"
assert_eq "Signature Verified Successfully" "$(tail -n 1 "$T/verify.out")" "README verification"
assert_match "$(sed -n '1p' "$T/verify.out")" '^[0-9a-f]{64} \*directory.json$' "the published hash"
assert_eq "$(sed -n '1p' "$T/verify.out")" "$(sed -n '2p' "$T/verify.out")" "the two hashes the README prints agree"
# A flipped byte fails.
printf 'X' | dd of="$T/verify/directory.json" bs=1 seek=100 conv=notrunc status=none
VERIFY=$(grep '^openssl pkeyutl' "$T/verify.sh")
if (cd "$T/verify" && eval "$VERIFY") >"$T/verify2.out" 2>&1; then
  fail "a flipped byte still verified: $(cat "$T/verify2.out")"
fi
assert_contains "$(cat "$T/verify2.out")" "Signature Verification Failure" "a flipped byte fails"
aqpd_stop

# ---- a CSV of several batches (2,000 records each) arrives whole, streamed; 4,000 sites and
# services make the last batch of the CSV and of ndjson (500 objects) empty ----
fixture_psql -d "$DB_NAME" -v n=3997 -f "$AQPD_SOURCE_DIR/tests/bench/export_seed.sql" >/dev/null ||
  fail "seeding 3,997 providers"
aqpd_run publish
assert_eq 0 "$RUN_EXIT" "publish 3,997 more: $RUN_ERR"
aqpd_start
https GET /v1/publications/4/directory.csv
expect_status 200 "a streamed CSV"
assert_eq chunked "$(header transfer-encoding)" "streamed in chunks"
assert_eq 4001 "$(grep -c $'\r$' "$T/body")" "every record once, and the header"
assert_eq 4000 "$(tail -n +2 "$T/body" | cut -d, -f1 | sort -u | wc -l)" "no record twice"
https GET '/hsds/services?format=ndjson'
assert_eq 4000 "$(grep -c . "$T/body")" "ndjson: every service"
https GET /v1/publications/4/directory.json
assert_eq "$(db_query "SELECT sha256 FROM publication WHERE number = 4")" "$(sha256sum "$T/body" | cut -d' ' -f1)" "directory.json in slices, byte for byte"
# A client that leaves mid-stream: the server carries on.
curl -s --cacert "$CACERT" --resolve "localhost:$AQPD_PORT:127.0.0.1" --limit-rate 20k --max-time 1 \
  "https://localhost:$AQPD_PORT/v1/publications/4/directory.json" -o /dev/null || true
https GET /healthz
expect_status 200 "alive after a client left mid-stream"
aqpd_stop

# POST /v1/publications has its own limit, publish_timeout_ms (it reads the whole directory):
# with request_timeout_ms at 50 ms, publishing the 4,000 sites, which takes longer, still works.
db_query "UPDATE site SET vacancies = 1, vacancies_at = now() WHERE id = 'd0000000-0000-4000-8000-000000000003'" >/dev/null
AQPD_REQUEST_TIMEOUT_MS=50 aqpd_start
https POST /v1/publications -H "Authorization: Bearer $BOARD"
expect_status 201 "publishing 4,000 sites with request_timeout_ms at 50 ms"
awk -v t="$HTTP_TIME" 'BEGIN { exit !(t > 0.05) }' ||
  fail "publishing took ${HTTP_TIME} s, less than the 50 ms it must outlast to show anything"
note "publishing 4,000 sites took ${HTTP_TIME} s with request_timeout_ms at 50 ms"
aqpd_stop
