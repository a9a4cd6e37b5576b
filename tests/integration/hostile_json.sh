#!/usr/bin/env bash
# Malformed and hostile request bodies on the three writes that take free-form JSON from
# outside: POST /v1/organisations (public sign-up), POST /v1/applications and PATCH
# /v1/applications/{id} (a provider's). Wrong types, deep nesting (100,000 '['), strings and
# bodies over the limits, unknown fields (mass assignment of status or organisation), invalid
# UTF-8 as raw bytes, NUL bytes, duplicate keys, trailing garbage, non-object top levels, wrong
# or missing Content-Type, empty bodies, numbers beyond int64 or a double. Each gets a
# 400/413/415 problem with its stable code, nothing is stored (rows of every table a write
# touches counted before and after, the application's row compared), the same requests well
# formed still succeed, the server stays up (/healthz), exits cleanly and, in the sanitizer
# build, logs no sanitizer report.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/pipeline.sh"
t_init
new_database
aqpd_env
export AQPD_SIGNUP_PER_HOUR=1000000 # every hostile sign-up body takes a token first
aqpd_start

signup '{"name": "Barnardo'"'"'s", "sector": "voluntary"}'
KEY=$ORG_KEY
api POST /v1/applications "$KEY" '{"service_type": "family-support", "answers": {"note": "draft"}}'
expect_status 201 "the draft the PATCH cases aim at"
APP=$(jqb .id)

H=$T/hostile
mkdir -p "$H"
N=0
# hostile ENDPOINT STATUS CODE WHAT [CONTENT-TYPE]: sends $H/body (written by the caller) to
# ENDPOINT (org | app | patch) and expects a problem with STATUS and CODE.
hostile() {
  local ep=$1 status=$2 code=$3 what=$4 ctype=${5:-application/json}
  N=$((N + 1))
  case "$ep" in
  org) api_file POST /v1/organisations - "$H/body" "$ctype" ;;
  app) api_file POST /v1/applications "$KEY" "$H/body" "$ctype" ;;
  patch) api_file PATCH "/v1/applications/$APP" "$KEY" "$H/body" "$ctype" ;;
  *) fail "unknown endpoint $ep" ;;
  esac
  expect_problem "$status" "$code" "$ep: $what"
}
# body FORMAT: writes printf FORMAT (so \xHH makes any byte, \x00 a NUL) to $H/body.
# shellcheck disable=SC2059 # the format is the point: \xHH and \x00 escapes
body() { printf -- "$1" >"$H/body"; }
# on_all STATUS CODE WHAT FORMAT-ORG FORMAT-APP FORMAT-PATCH: the same fault in each body.
on_all() {
  body "$4"; hostile org "$1" "$2" "$3"
  body "$5"; hostile app "$1" "$2" "$3"
  body "$6"; hostile patch "$1" "$2" "$3"
}

before=$(counts)
row_before=$(db_query "SELECT a::text FROM application a WHERE id = '$APP'")

# ---- wrong types ----
on_all 400 invalid_field "a number for a string" \
  '{"name": 5, "sector": "private"}' '{"service_type": 7}' '{"answers": 1}'
on_all 400 invalid_field "null for a required member" \
  '{"name": null, "sector": "private"}' '{"service_type": null}' '{"answers": null}'
on_all 400 invalid_field "an array for a string or object" \
  '{"name": "A", "sector": ["private"]}' '{"service_type": "family-support", "answers": []}' '{"answers": []}'
on_all 400 invalid_field "an object for a string" \
  '{"name": {"first": "A"}, "sector": "private"}' '{"service_type": {"code": "family-support"}}' '{"answers": "yes"}'
body '{"name": true, "sector": "private"}'; hostile org 400 invalid_field "a boolean for a string"
body '{"name": "A", "sector": "private", "identifiers": "GB-COH 01234567"}'; hostile org 400 invalid_field "a string for an array"
body '{"name": "A", "sector": "private", "identifiers": [5]}'; hostile org 400 invalid_field "a number in an array of objects"
body '{"name": "A", "sector": "private", "identifiers": [{"scheme": "GB-COH", "id": 1234567}]}'; hostile org 400 invalid_field "a number for a nested string"
body '{"name": "A", "sector": "private", "contacts": []}'; hostile org 400 invalid_field "an array for an object"
body '{"name": "A", "sector": "pirate"}'; hostile org 400 invalid_field "a value outside the enumeration"
body '{"name": "", "sector": "private"}'; hostile org 400 invalid_field "an empty required string"
body '{"name": "A", "sector": "private", "kind": "consortium"}'; hostile org 400 missing_field "a consortium without members"
body '{"sector": "private"}'; hostile org 400 missing_field "no name"
body '{"answers": {}}'; hostile app 400 missing_field "no service type"
body '{}'; hostile patch 400 missing_field "no answers"

# ---- unknown fields, including attempts to set what the server decides ----
on_all 400 unknown_field "an unknown top-level member" \
  '{"name": "A", "sector": "private", "admin": true}' \
  '{"service_type": "family-support", "answers": {}, "status": "qualified"}' \
  '{"answers": {}, "status": "qualified"}'
body '{"name": "A", "sector": "private", "api_key": "aqpd_0000000000000000000000000000000000000000000"}'; hostile org 400 unknown_field "a chosen API key"
body '{"name": "A", "sector": "private", "id": "00000000-0000-4000-8000-000000000001"}'; hostile org 400 unknown_field "a chosen id"
body '{"name": "A", "sector": "private", "contacts": {"email": "a@example.org", "fax": "0"}}'; hostile org 400 unknown_field "an unknown nested member"
body '{"name": "A", "sector": "private", "identifiers": [{"scheme": "GB-COH", "id": "01234567", "verified": true}]}'; hostile org 400 unknown_field "an unknown member in an array element"
body '{"organisation_id": "00000000-0000-4000-8000-000000000001", "service_type": "family-support"}'; hostile app 400 unknown_field "another organisation"
body '{"answers": {}, "results": [], "scores": {"QUA-1": 5}}'; hostile patch 400 unknown_field "results and scores"

# ---- nesting ----
head -c 100000 /dev/zero | tr '\0' '[' >"$H/body"
hostile org 400 invalid_json "100,000 ["
hostile app 400 invalid_json "100,000 ["
hostile patch 400 invalid_json "100,000 ["
{ printf '{"service_type": "family-support", "answers": {"a": '; head -c 100000 /dev/zero | tr '\0' '['; } >"$H/body"
hostile app 400 invalid_json "100,000 [ inside answers"
{ printf '{"answers": '; for _ in $(seq 1 20000); do printf '{"a":'; done; } >"$H/body"
hostile patch 400 invalid_json "20,000 nested objects, unterminated"
{ printf '{"answers": '; for _ in $(seq 1 100); do printf '['; done; for _ in $(seq 1 100); do printf ']'; done; printf '}'; } >"$H/body"
hostile patch 400 invalid_json "100 levels, well formed"

# ---- sizes ----
name=$(head -c 301 /dev/zero | tr '\0' 'a')
body "{\"name\": \"$name\", \"sector\": \"private\"}"; hostile org 400 invalid_field "a 301-byte name"
long=$(head -c 70000 /dev/zero | tr '\0' 'a')
on_all 400 invalid_json "a 70,000-byte string" \
  "{\"name\": \"$long\", \"sector\": \"private\"}" \
  "{\"service_type\": \"family-support\", \"answers\": {\"note\": \"$long\"}}" \
  "{\"answers\": {\"$long\": 1}}"
{ printf '{"answers": {"a": ['; for _ in $(seq 1 10000); do printf '0,'; done; printf '0]}}'; } >"$H/body"
hostile patch 400 invalid_json "an array of 10,001 elements"
{ printf '{"name": "A", "sector": "private", "description": "'; head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a'; printf '"}'; } >"$H/body"
hostile org 413 body_too_large "a 2 MiB body"
api GET /healthz -
expect_status 200 "/healthz after a 413"
{ printf '{"answers": {"n": '; head -c 100 /dev/zero | tr '\0' '9'; printf '}}'; } >"$H/body"
hostile patch 400 invalid_json "a 100-digit integer"

# ---- numbers beyond int64 or a double ----
on_all 400 invalid_json "2^63" \
  '{"name": "A", "sector": "private", "contacts": {"phone": 9223372036854775808}}' \
  '{"service_type": "family-support", "answers": {"insurance": {"public_liability": {"cover_pence": 9223372036854775808}}}}' \
  '{"answers": {"insurance": {"public_liability": {"cover_pence": 9223372036854775808}}}}'
body '{"answers": {"n": -9223372036854775809}}'; hostile patch 400 invalid_json "-2^63 - 1"
body '{"answers": {"n": 1e400}}'; hostile patch 400 invalid_json "1e400"
body '{"answers": {"n": -1e400}}'; hostile patch 400 invalid_json "-1e400"
body '{"answers": {"n": NaN}}'; hostile patch 400 invalid_json "NaN"
body '{"answers": {"n": Infinity}}'; hostile patch 400 invalid_json "Infinity"
body '{"answers": {"n": 012}}'; hostile patch 400 invalid_json "a leading zero"
body '{"answers": {"n": +1}}'; hostile patch 400 invalid_json "a plus sign"

# ---- invalid UTF-8, as raw bytes ----
on_all 400 invalid_json "byte 0xFF" \
  '{"name": "A\xff", "sector": "private"}' \
  '{"service_type": "family-support", "answers": {"note": "\xff"}}' \
  '{"answers": {"note": "\xfe\xff"}}'
body '{"name": "\xc0\xaf", "sector": "private"}'; hostile org 400 invalid_json "an overlong encoding of /"
body '{"name": "\xed\xa0\x80", "sector": "private"}'; hostile org 400 invalid_json "an encoded surrogate"
body '{"name": "\xf4\x90\x80\x80", "sector": "private"}'; hostile org 400 invalid_json "a code point above U+10FFFF"
body '{"name": "\xe2\x82", "sector": "private"}'; hostile org 400 invalid_json "a truncated sequence"
body '{"name": "A\x80", "sector": "private"}'; hostile org 400 invalid_json "a lone continuation byte"
body '{"answers": {"k\xff": 1}}'; hostile patch 400 invalid_json "invalid UTF-8 in a key"
body '{"name": "\\ud800", "sector": "private"}'; hostile org 400 invalid_json "an unpaired surrogate escape"
body '{"answers": {"note": "\\udc00\\ud800"}}'; hostile patch 400 invalid_json "reversed surrogate escapes"
body '\xef\xbb\xbf{"name": "A", "sector": "private"}'; hostile org 400 invalid_json "a byte order mark"

# ---- NUL bytes ----
on_all 400 invalid_json "a NUL inside a string" \
  '{"name": "A\x00B", "sector": "private"}' \
  '{"service_type": "family-\x00support"}' \
  '{"answers": {"note": "a\x00b"}}'
on_all 400 invalid_json "an escaped NUL" \
  '{"name": "A\\u0000B", "sector": "private"}' \
  '{"service_type": "family-support\\u0000"}' \
  '{"answers": {"k\\u0000": 1}}'
body '{"name": "A", "sector": "private"}\x00'; hostile org 400 invalid_json "a NUL after the object"
body '\x00{"name": "A", "sector": "private"}'; hostile org 400 invalid_json "a NUL before the object"
body '{"answers": {"note": "a\x01b"}}'; hostile patch 400 invalid_json "a raw control character in a string"

# ---- duplicate keys ----
on_all 400 invalid_json "a duplicate key" \
  '{"name": "A", "name": "B", "sector": "private"}' \
  '{"service_type": "family-support", "service_type": "advocacy"}' \
  '{"answers": {"a": 1, "a": 2}}'
body '{"answers": {}, "answers": {"note": "second"}}'; hostile patch 400 invalid_json "a duplicate member that is valid alone"
body '{"name": "A", "sector": "private", "contacts": {"email": "a@example.org", "email": "b@example.org"}}'; hostile org 400 invalid_json "a duplicate nested key"

# ---- trailing garbage and bad syntax ----
on_all 400 invalid_json "garbage after the object" \
  '{"name": "A", "sector": "private"}x' \
  '{"service_type": "family-support"} {"service_type": "advocacy"}' \
  '{"answers": {}}]'
body '{"name": "A", "sector": "private"} // comment'; hostile org 400 invalid_json "a comment"
body '{"name": "A", "sector": "private",}'; hostile org 400 invalid_json "a trailing comma"
body "{'name': 'A', 'sector': 'private'}"; hostile org 400 invalid_json "single quotes"
body '{name: "A", sector: "private"}'; hostile org 400 invalid_json "unquoted keys"
body '{"name": "A", "sector": "private"'; hostile org 400 invalid_json "an unterminated object"
body '{"answers": {"note": "unterminated}}'; hostile patch 400 invalid_json "an unterminated string"
body '{"answers": {"note": "\\q"}}'; hostile patch 400 invalid_json "an invalid escape"

# ---- not an object ----
for top in '[]' '[{"name": "A", "sector": "private"}]' '"A"' '1' 'null' 'true'; do
  on_all 400 invalid_json "top level $top" "$top" "$top" "$top"
done

# ---- empty bodies and Content-Type ----
: >"$H/body"
hostile org 400 invalid_json "an empty body"
hostile app 400 invalid_json "an empty body"
hostile patch 400 invalid_json "an empty body"
body ' \n\t '; hostile org 400 invalid_json "whitespace only"
body '{"name": "A", "sector": "private"}'
for ct in text/plain application/x-www-form-urlencoded application/jsonp multipart/form-data \
  'text/json' 'application/json-patch+json' -; do
  hostile org 415 unsupported_media_type "Content-Type: $ct" "$ct"
done
body '{"service_type": "family-support", "answers": {}}'
hostile app 415 unsupported_media_type "no Content-Type" -
body '{"answers": {}}'
hostile patch 415 unsupported_media_type "Content-Type: text/plain" text/plain
note "$N hostile bodies sent"

# ---- nothing stored ----
assert_eq "$before" "$(counts)" "rows after $N refused bodies"
assert_eq "$row_before" "$(db_query "SELECT a::text FROM application a WHERE id = '$APP'")" \
  "the application after refused PATCHes"

# ---- the same requests, well formed, succeed (so the refusals above are about the bodies) ----
api POST /v1/organisations - '{"name": "Action For Children services LTD", "sector": "voluntary"}' 'application/json; charset=utf-8'
expect_status 201 "a well-formed sign-up with a charset parameter"
api PATCH "/v1/applications/$APP" "$KEY" \
  '{"answers": {"n": 9223372036854775807, "m": -9223372036854775808, "x": 1.5e300, "s": "caf\u00e9 \ud83d\ude00 \u00e9", "raw": "café", "deep": [[[[[[[[[[1]]]]]]]]]]}}'
expect_status 200 "a PATCH with the largest integers, a big double, escapes and UTF-8"
assert_eq "9223372036854775807|-9223372036854775808|café 😀 é|café" \
  "$(db_query "SELECT answers->>'n' || '|' || (answers->>'m') || '|' || (answers->>'s') || '|' || (answers->>'raw') FROM application WHERE id = '$APP'")" \
  "the stored answers"
api POST /v1/applications "$KEY" '{"service_type": "advocacy", "answers": {}}'
expect_status 201 "a well-formed application"

https GET /healthz
expect_status 200 "/healthz at the end"
aqpd_stop TERM
assert_no_sanitizer_report "$T"/aqpd.*.log
