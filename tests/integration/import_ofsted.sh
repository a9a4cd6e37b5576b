#!/usr/bin/env bash
# aqpd import ofsted: loads the real Ofsted register shipped in data/ofsted/ (every row, counted
# independently of aqpd's parser), re-imports it with nothing inserted or updated, imports a
# modified copy (one rating changed, one malformed row, one new row) with exactly 1 updated,
# 1 inserted and 1 rejected on the right line, spot-checks real URNs with psql, rejects each kind
# of malformed row with its line and reason while loading the good ones, keeps children's home
# postcodes and names out of the database, and refuses an unreadable file or a wrong header
# without changing anything.
source "$(dirname "$0")/../lib/common.sh"
t_init

CSV=$AQPD_SOURCE_DIR/data/ofsted/Provider_level_at_31_Mar_2025.csv
[[ -r "$CSV" ]] || fail "the shipped register $CSV is missing"

# Data records in a CSV file, counted by quote parity (a record may span lines inside quotes),
# minus the header.
csv_records() {
  awk '{ q += gsub(/"/, "\""); if (q % 2 == 0) { n++; q = 0 } } END { print n - 1 }' "$1"
}
# "key: value" from the summary on stdout.
summary() {
  sed -n "s/^$1: \([0-9]*\).*/\1/p" <<<"$RUN_OUT"
}
expect_counts() { # inserted updated unchanged rejected what
  assert_eq "$1" "$(summary inserted)" "$5: inserted"
  assert_eq "$2" "$(summary updated)" "$5: updated"
  assert_eq "$3" "$(summary unchanged)" "$5: unchanged"
  assert_eq "$4" "$(summary rejected)" "$5: rejected"
}
import_ok() { # file what
  aqpd_run import ofsted "$1"
  assert_eq 0 "$RUN_EXIT" "$2: exit status (stderr: $(tail -n 5 <<<"$RUN_ERR"))"
  note "$2: $(grep '^time:' <<<"$RUN_OUT")"
}

# ---- usage ----
aqpd_run import --help
assert_eq 0 "$RUN_EXIT" "aqpd import --help: exit status"
assert_contains "$RUN_OUT" "usage: aqpd import ofsted FILE" "aqpd import --help"
aqpd_run import ofsted
assert_eq 2 "$RUN_EXIT" "aqpd import without a file: exit status"
aqpd_run --help
assert_contains "$RUN_OUT" "import" "aqpd --help lists import"

new_database
aqpd_run migrate
assert_eq 0 "$RUN_EXIT" "migrate (stderr: $RUN_ERR)"
aqpd_run import nosuch "$CSV"
assert_eq 2 "$RUN_EXIT" "an unknown register: exit status"
assert_contains "$RUN_ERR" "unknown register" "an unknown register: message"

# ---- the real file ----
rows=$(csv_records "$CSV")
assert_eq 5600 "$rows" "data records in the shipped file"
import_ok "$CSV" "first import of the real file"
assert_eq "$rows" "$(summary rows)" "rows read"
expect_counts "$rows" 0 0 0 "first import of the real file"
assert_contains "$RUN_ERR" "5000 rows read" "progress on stderr"
assert_eq "$rows" "$(db_query 'SELECT count(*) FROM ofsted_setting')" "rows in ofsted_setting"
assert_eq "1|$rows|$rows|0|0|0|0" \
  "$(db_query 'SELECT count(*), sum(rows_read), sum(inserted), sum(updated), sum(unchanged), sum(rejected), sum(absent) FROM ofsted_import')" \
  "the import recorded in ofsted_import"
assert_eq "$(sha256sum "$CSV" | cut -d' ' -f1)" \
  "$(db_query "SELECT encode(sha256, 'hex') FROM ofsted_import")" "sha256 recorded"
assert_eq "Provider_level_at_31_Mar_2025.csv" "$(db_query 'SELECT file_name FROM ofsted_import')" \
  "file name recorded"
# Totals the 2025 file is known to hold (data/SOURCES.md).
assert_eq 14 "$(db_query "SELECT count(*) FROM ofsted_setting WHERE registration_status = 'Suspended'")" \
  "suspended settings"
assert_eq 54 "$(db_query "SELECT count(*) FROM ofsted_setting WHERE overall_rating = 'Inadequate'")" \
  "settings rated Inadequate overall"
assert_eq 1625 "$(db_query "SELECT count(*) FROM ofsted_setting WHERE urn LIKE 'SC%'")" \
  "URNs kept with their SC prefix"
assert_eq 3946 "$(db_query "SELECT count(*) FROM ofsted_setting WHERE provision_type IN ('Children''s home', 'Children''s Home')")" \
  "children's homes"
# Children's home addresses are confidential: none is stored.
assert_eq 0 "$(db_query "SELECT count(*) FROM ofsted_setting WHERE provision_type ~* 'children.s home' AND (postcode IS NOT NULL OR setting_name IS NOT NULL)")" \
  "children's homes with a postcode or name"
assert_eq 687 "$(db_query 'SELECT count(*) FROM ofsted_setting WHERE postcode IS NOT NULL')" \
  "settings with a (non-redacted) postcode"
assert_eq 0 "$(db_query "SELECT count(*) FROM information_schema.columns WHERE table_name = 'ofsted_setting' AND column_name ~ 'address|street|town'")" \
  "ofsted_setting has no street address column"

# Spot checks against the file: an IFA (line 265, a quoted comma in its address) and a
# children's home (line 903).
assert_eq "Independent Fostering Agency|Active|2016-06-07|Unity Foster Care|Unity Foster Care Limited|Private|Leeds|Yorkshire and The Humber|LS15 8GB||f|Full inspection|2024-03-18|2024-05-17|Requires improvement to be good|Requires improvement to be good" \
  "$(db_query "SELECT provision_type, registration_status, registration_date, setting_name, owner_name, sector, local_authority, region, postcode, places, short_breaks_only, latest_inspection_type, latest_inspection_date, latest_inspection_published, overall_rating, leadership_rating FROM ofsted_setting WHERE urn = '1228523'")" \
  "URN 1228523 as stored"
assert_eq "Children's home|Active|2003-11-03|||Sheffield City Council|Sheffield|4|Good|2024-04-24" \
  "$(db_query "SELECT provision_type, registration_status, registration_date, setting_name, postcode, owner_name, local_authority, places, overall_rating, latest_inspection_date FROM ofsted_setting WHERE urn = 'SC039414'")" \
  "URN SC039414 as stored"
assert_eq "Suspended" "$(db_query "SELECT registration_status FROM ofsted_setting WHERE urn = '2731370'")" \
  "URN 2731370 is suspended"
assert_eq "17–19 Monson Road" "$(grep -o '17–19 Monson Road' "$CSV")" "the file has UTF-8 text"
assert_eq "Imago Community|TN1 1LS" \
  "$(db_query "SELECT setting_name, postcode FROM ofsted_setting WHERE urn = '1229765'")" \
  "URN 1229765 as stored"

# ---- the same file again: nothing changes but the bookkeeping ----
before=$(db_query 'SELECT md5(string_agg(urn || row_hash::text || updated_at::text, $$,$$ ORDER BY urn)) FROM ofsted_setting')
import_ok "$CSV" "re-import of the same file"
expect_counts 0 0 "$rows" 0 "re-import of the same file"
assert_eq "$before" \
  "$(db_query 'SELECT md5(string_agg(urn || row_hash::text || updated_at::text, $$,$$ ORDER BY urn)) FROM ofsted_setting')" \
  "facts and updated_at after a re-import"
assert_eq "$rows" "$(db_query 'SELECT count(*) FROM ofsted_setting WHERE import_id = (SELECT max(id) FROM ofsted_import)')" \
  "every row is held by the latest import"

# The same facts with a byte order mark, CRLF line ends and the columns in another order (the
# first column moved last; the file has no record spanning lines): all unchanged.
{
  printf '\xEF\xBB\xBF'
  sed 's/^\([^,]*\),\(.*\)$/\2,\1\r/' "$CSV"
} >"$T/reordered.csv"
assert_eq "URN,Linked Education URN," "$(head -c 28 "$T/reordered.csv" | tail -c 25)" \
  "the reordered copy starts with URN"
import_ok "$T/reordered.csv" "import with a BOM, CRLF and reordered columns"
expect_counts 0 0 "$rows" 0 "import with a BOM, CRLF and reordered columns"

# ---- a newer file: one rating changed, one malformed row, one new row ----
M=$T/Provider_level_modified.csv
line265=$(sed -n 265p "$CSV")
assert_contains "$line265" ",1228523," "line 265 is URN 1228523"
{
  sed '265s/,10331506,Requires improvement to be good,/,10331506,Good,/' "$CSV"
  # Line 5602: 30 February.
  sed -n 26p "$CSV" | sed 's/,2500324,/,2999998,/; s/,2019-02-22T00:00:00,/,2019-02-30T00:00:00,/'
  # Line 5603: a new setting.
  sed -n 26p "$CSV" | sed 's/,2500324,/,2999999,/'
} >"$M"
assert_contains "$(sed -n 265p "$M")" ",10331506,Good," "line 265 of the modified copy"
assert_eq 5603 "$(wc -l <"$M")" "lines in the modified copy"
old_updated=$(db_query "SELECT updated_at FROM ofsted_setting WHERE urn = '1228523'")
import_ok "$M" "import of the modified copy"
assert_eq 5602 "$(summary rows)" "rows read from the modified copy"
expect_counts 1 1 5599 1 "import of the modified copy"
assert_match "$RUN_OUT" "line 5602: Registration date: not a date[^\"]*\"2019-02-30T00:00:00\"" \
  "the rejected line and its reason"
assert_eq "Good" "$(db_query "SELECT overall_rating FROM ofsted_setting WHERE urn = '1228523'")" \
  "the changed rating is stored"
assert_ne "$old_updated" "$(db_query "SELECT updated_at FROM ofsted_setting WHERE urn = '1228523'")" \
  "updated_at of the changed row"
assert_eq "Young People At Heart|DN4 5HX|Provider_level_modified.csv" \
  "$(db_query "SELECT setting_name, postcode, source_file FROM ofsted_setting WHERE urn = '2999999'")" \
  "the new row is stored"
assert_eq 0 "$(db_query "SELECT count(*) FROM ofsted_setting WHERE urn = '2999998'")" \
  "the malformed row is not stored"
assert_eq "5602|1|1|5599|1|0|5602" \
  "$(db_query "SELECT rows_read, inserted, updated, unchanged, rejected, absent, (rejects->0->>'line') FROM ofsted_import ORDER BY id DESC LIMIT 1")" \
  "the modified import as recorded"
# Going back to the original file: the rating changes back, and the new setting is absent.
import_ok "$CSV" "re-import of the original after the modified copy"
expect_counts 0 1 5599 0 "re-import of the original after the modified copy"
assert_contains "$RUN_OUT" "absent: 1 " "the setting missing from the original is counted absent"
assert_eq 1 "$(db_query "SELECT count(*) FROM ofsted_setting WHERE import_id <> (SELECT max(id) FROM ofsted_import)")" \
  "the absent setting is kept, held by an older import"

# ---- every kind of malformed row, in a file of its own ----
new_database malformed
aqpd_run migrate
assert_eq 0 "$RUN_EXIT" "migrate the second database (stderr: $RUN_ERR)"
B=$T/bad.csv
head -n 1 "$CSV" >"$B"
good=$(sed -n 26p "$CSV") # URN 2500324, an IFA
row() { # sed expression applied to the good row
  sed "$1" <<<"$good" >>"$B"
}
row 's/,2500324,/,1000001,/'                                     # 2: good
row 's/,2500324,/,1000002,/; s/,Private,/,Private,,/'            # 3: 33 fields
row 's/,2500324,/,12345,/'                                       # 4: URN too short
row 's/,2500324,/,1000004,/; s/,Private,,/,Private,two,/'        # 5: places not a number
row 's/,2500324,/,1000005,/; s/,Good,,,Good,Good,$/,Great,,,Good,Good,/' # 6: unknown grade
row 's/,2500324,/,1000001,/'                                     # 7: duplicate of line 2
row 's/,2500324,/,1000007,/; s/,Young People At Heart,/,Young "People",/' # 8: stray quote
printf '%s\n' "$(sed 's/,2500324,/,1000008,/; s/,Young People At Heart,/,Young \xff,/' <<<"$good")" >>"$B" # 9: not UTF-8
row 's/,2500324,/,1000009,/; s/,Active,/,Closed,/'               # 10: unknown status
row 's/,2500324,/,,/'                                            # 11: no URN
row 's/,2500324,/,SC100010,/; s/,Independent Fostering Agency,/,Children'"'"'s home,/' # 12: good, confidential
printf '%s\r\n' "$(sed 's/,2500324,/,1000011,/; s/,Young People At Heart,/,"Young, ""People""\nAt Heart",/' <<<"$good")" >>"$B" # 13-14: good, quoted
row 's/,2500324,/,1000012,/; s/,2023-11-20T00:00:00,/,20\/11\/2023,/; s/,2024-01-11T00:00:00,/,11\/01\/2024,/' # 15: good, UK dates
row 's/,2500324,/,1000013,/; s/,2024-01-11T00:00:00,/,2023-01-11T00:00:00,/' # 16: published before inspected
row 's/,2500324,/,1000014,/; s/,DN4 5HX,/,DN4,/'                 # 17: bad postcode
aqpd_run import ofsted "$B"
assert_eq 0 "$RUN_EXIT" "a file with malformed rows is still processed (stderr: $RUN_ERR)"
expect_counts 4 0 0 11 "the malformed file"
for want in \
  "line 3: 33 fields where the header has 32" \
  "line 4: URN: not an Ofsted URN" \
  "line 5: Places: not a whole number from 0 to 10000: \"two\"" \
  "line 6: Overall experiences and progress of children and young people: not an Ofsted grade" \
  "line 7: URN: 1000001 is already on line 2" \
  "line 8: not valid CSV: a quote inside an unquoted field" \
  "line 9: Name: not valid UTF-8 text" \
  "line 10: Registration status: not a known registration status" \
  "line 11: URN: empty, but required" \
  "line 16: inspection published before it took place" \
  "line 17: Postcode: not a UK postcode: \"DN4\""; do
  assert_contains "$RUN_OUT" "$want" "rejection reason"
done
assert_eq "1000001 1000011 1000012 SC100010" \
  "$(db_query "SELECT string_agg(urn, ' ' ORDER BY urn) FROM ofsted_setting")" "the good rows are stored"
assert_eq "||Young People At Heart Limited" \
  "$(db_query "SELECT postcode, setting_name, owner_name FROM ofsted_setting WHERE urn = 'SC100010'")" \
  "a children's home's postcode and name are not stored even when the file has them"
assert_eq "Young, \"People\"
At Heart" "$(db_query "SELECT setting_name FROM ofsted_setting WHERE urn = '1000011'")" \
  "a quoted name with a comma, quotes and a newline"
assert_eq "2023-11-20|2024-01-11" \
  "$(db_query "SELECT latest_inspection_date, latest_inspection_published FROM ofsted_setting WHERE urn = '1000012'")" \
  "DD/MM/YYYY dates"
assert_eq 11 "$(db_query "SELECT jsonb_array_length(rejects) FROM ofsted_import")" \
  "rejections recorded in ofsted_import"

# ---- a wrong header or an unreadable file: exit 1, clear message, nothing changed ----
n_imports=$(db_query 'SELECT count(*) FROM ofsted_import')
sed '1s/,Registration status,/,Status,/; 1s/,Places,/,Capacity,/' "$B" >"$T/wrong-header.csv"
aqpd_run import ofsted "$T/wrong-header.csv"
assert_eq 1 "$RUN_EXIT" "a header without required columns: exit status"
assert_contains "$RUN_ERR" 'lacks required columns "Registration status", "Places"' \
  "a header without required columns: message"
aqpd_run import ofsted "$T/no-such-file.csv"
assert_eq 1 "$RUN_EXIT" "a missing file: exit status"
assert_contains "$RUN_ERR" "cannot open $T/no-such-file.csv" "a missing file: message"
: >"$T/empty.csv"
aqpd_run import ofsted "$T/empty.csv"
assert_eq 1 "$RUN_EXIT" "an empty file: exit status"
assert_contains "$RUN_ERR" "no header" "an empty file: message"
assert_eq "$n_imports" "$(db_query 'SELECT count(*) FROM ofsted_import')" \
  "nothing recorded for files that were refused"

# A database that is not migrated: exit 1, the register untouched elsewhere.
NO_MIGRATE=1 new_database empty
aqpd_run import ofsted "$CSV"
assert_eq 1 "$RUN_EXIT" "import before migrate: exit status"
assert_contains "$RUN_ERR" "aqpd migrate" "import before migrate: the message says what to do"
