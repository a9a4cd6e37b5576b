#!/usr/bin/env bash
# aqpd import commissioners / postcodes: loads the shipped geography (data/local_authorities,
# data/ofsted/la_inspection_outcomes_as_at_31_march_2025, data/postcodes) into a migrated
# database and checks it against the files themselves, read here with awk independently of
# aqpd's parser: 153 commissioners all matched, each centroid the ONS point, each region DfE's,
# the Ofsted judgements, Barnsley and Sheffield by either code, every Ofsted spelling of an
# English LA resolving, the SQL name key agreeing with the C one; a re-import changes nothing;
# a modified copy changes exactly what was modified and names what no longer matches; postcode
# districts load every row but the 20 the file cannot locate, LS6 lands in Leeds, and malformed
# rows, wrong headers, missing files and an unmigrated database are refused as they should be.
source "$(dirname "$0")/../lib/common.sh"
t_init

DATA=$AQPD_SOURCE_DIR/data
ONS=$DATA/local_authorities/ons/Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC_-7342248301948489151.properties.csv
LAS=$DATA/local_authorities/dfe/las.csv
OFS=$DATA/ofsted/la_inspection_outcomes_as_at_31_march_2025/Inspections_as_at_31_March.csv
PC=$DATA/postcodes/postcode_districts.csv
for f in "$ONS" "$LAS" "$DATA/local_authorities/dfe/regions.csv" "$OFS" "$PC"; do
  [[ -r "$f" ]] || fail "the shipped file $f is missing"
done

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
import_ok() { # what args...
  local what=$1
  shift
  aqpd_run "$@"
  assert_eq 0 "$RUN_EXIT" "$what: exit status (stderr: $(tail -n 5 <<<"$RUN_ERR"))"
  note "$what: $(grep '^time:' <<<"$RUN_OUT")"
}

# ---- usage ----
aqpd_run import --help
assert_contains "$RUN_OUT" "aqpd import commissioners [DIR]" "aqpd import --help: commissioners"
assert_contains "$RUN_OUT" "aqpd import postcodes [FILE]" "aqpd import --help: postcodes"
aqpd_run --help
assert_contains "$RUN_OUT" "aqpd import commissioners [DIR]" "aqpd --help: commissioners"
aqpd_run import commissioners a b
assert_eq 2 "$RUN_EXIT" "two paths: exit status"

new_database

# ---- commissioners: the shipped files ----
import_ok "first import of the commissioners" import commissioners
assert_eq 153 "$(summary matched)" "matched"
assert_eq 0 "$(summary unmatched)" "unmatched (stdout: $RUN_OUT)"
assert_eq 153 "$(summary rows)" "rows"
expect_counts 153 0 0 0 "first import of the commissioners"
assert_contains "$RUN_OUT" "aliases: 7 codes, 4 names (11 inserted, 0 updated, 0 removed)" "aliases"
assert_contains "$RUN_OUT" "regions: 9 (0 changed)" "regions as seeded by the migration"
# Each name that differs is reported with how it was matched.
for want in \
  'name "Bristol" (Ofsted LA outcomes) is "Bristol, City of" (E06000023) through the alias table' \
  'name "Durham" (Ofsted LA outcomes) is "County Durham" (E06000047) through the alias table' \
  'name "St Helens" (Ofsted LA outcomes) is "St. Helens" (E08000013) once normalised' \
  'name "Telford & Wrekin" (Ofsted LA outcomes) is "Telford and Wrekin" (E06000020) once normalised' \
  'code E08000016 (ONS CTYUA Dec 2024) is E08000038 Barnsley, its successor' \
  'code E08000019 (Ofsted LA outcomes) is E08000039 Sheffield, its successor'; do
  assert_contains "$RUN_OUT" "$want" "a reported match"
done
assert_eq 153 "$(db_query 'SELECT count(*) FROM commissioner')" "commissioners"
# (../shared/data/SOURCES.md says 65, 36, 34, 21: those count las.csv's combined reporting rows
# "E06000061 / E06000062", "E06000063 / E06000064" and "E09000021 / E09000027" by prefix too.)
assert_eq "63|36|33|21" \
  "$(db_query "SELECT count(*) FILTER (WHERE code LIKE 'E06%'), count(*) FILTER (WHERE code LIKE 'E08%'), count(*) FILTER (WHERE code LIKE 'E09%'), count(*) FILTER (WHERE code LIKE 'E10%') FROM commissioner")" \
  "unitaries, metropolitan districts, London boroughs, counties"

# Spot checks (data/SOURCES.md).
assert_eq "Leeds|E12000003|Yorkshire and The Humber|383|53.82273|-1.50736|Outstanding|2022-02-21|2022-05-09|https://reports.ofsted.gov.uk/provider/44/383" \
  "$(db_query "SELECT c.name, c.region_code, r.name, la_number, lat, lon, ofsted_judgement, ofsted_inspected, ofsted_published, ofsted_report_url FROM commissioner c JOIN region r ON r.code = c.region_code WHERE c.code = 'E08000035'")" \
  "Leeds E08000035"
assert_eq "Kent|South East|886|51.19296|0.72137" \
  "$(db_query "SELECT c.name, r.name, la_number, lat, lon FROM commissioner c JOIN region r ON r.code = c.region_code WHERE c.code = 'E10000016'")" \
  "Kent E10000016"

# Barnsley and Sheffield: stored under the live codes, found by either.
assert_eq "Barnsley|370" "$(db_query "SELECT name, la_number FROM commissioner WHERE code = 'E08000038'")" \
  "Barnsley under its live code"
assert_eq 0 "$(db_query "SELECT count(*) FROM commissioner WHERE code IN ('E08000016', 'E08000019')")" \
  "the old codes are not commissioners of their own"
for pair in E08000016:E08000038 E08000038:E08000038 Barnsley:E08000038 \
  E08000019:E08000039 E08000039:E08000039 " sheffield ":E08000039 e08000035:E08000035; do
  assert_eq "${pair##*:}" "$(db_query "SELECT commissioner_resolve('${pair%:*}')")" \
    "commissioner_resolve('${pair%:*}')"
done
assert_eq "" "$(db_query "SELECT commissioner_resolve('Atlantis')")" "an unknown name resolves to nothing"

# Every commissioner has a region and an Ofsted judgement; the judgements as published.
assert_eq 0 "$(db_query 'SELECT count(*) FROM commissioner WHERE region_code IS NULL OR ofsted_judgement IS NULL OR ofsted_inspected IS NULL')" \
  "commissioners without a region or a judgement"
assert_eq "Good:67 Inadequate:19 Outstanding:36 Requires improvement to be good:31" \
  "$(db_query "SELECT string_agg(ofsted_judgement || ':' || n, ' ' ORDER BY ofsted_judgement) FROM (SELECT ofsted_judgement, count(*) n FROM commissioner GROUP BY 1) x")" \
  "judgements (data/SOURCES.md)"

# Every centroid is the ONS point, and every region and LA number DfE's, row by row. The ONS
# file's names may hold quoted commas, so LONG and LAT are taken from the end of the line;
# Barnsley and Sheffield are read under their live codes.
want=$(awk -F, 'NR > 1 && $2 ~ /^E/ { print $2 "|" $(NF-1) "|" $(NF-2) }' "$ONS" |
  sed 's/^E08000016|/E08000038|/; s/^E08000019|/E08000039|/' | LC_ALL=C sort)
assert_eq 153 "$(wc -l <<<"$want")" "English rows in the ONS file"
assert_eq "$want" "$(db_query 'SELECT code || $$|$$ || lat || $$|$$ || lon FROM commissioner ORDER BY code COLLATE "C"')" \
  "every centroid is the ONS LONG/LAT"
# las.csv quotes names with commas ("Bristol, City of"): the other fields are taken from the end.
want=$(awk -F, 'NR > 1 && $(NF-1) == "live" && $1 ~ /^E(06|08|09|10)[0-9][0-9][0-9][0-9][0-9][0-9]$/ { print $1 "|" $(NF-4) "|" $NF }' "$LAS" |
  LC_ALL=C sort)
assert_eq 153 "$(wc -l <<<"$want")" "live local authorities in the DfE file"
assert_eq "$want" "$(db_query 'SELECT code || $$|$$ || region_code || $$|$$ || la_number FROM commissioner ORDER BY code COLLATE "C"')" \
  "every region and LA number is DfE's"
assert_eq "North East:12 North West:24 Yorkshire and The Humber:15 East Midlands:10 West Midlands:14 East of England:11 London:33 South East:19 South West:15" \
  "$(db_query "SELECT string_agg(r.name || ':' || (SELECT count(*) FROM commissioner c WHERE c.region_code = r.code), ' ' ORDER BY r.code) FROM region r")" \
  "commissioners per region"
# Derbyshire and Lincolnshire are in the East Midlands (mySociety's regions are not used).
assert_eq "East Midlands|East Midlands" \
  "$(db_query "SELECT string_agg(r.name, '|' ORDER BY c.name) FROM commissioner c JOIN region r ON r.code = c.region_code WHERE c.name IN ('Derbyshire', 'Lincolnshire')")" \
  "Derbyshire and Lincolnshire"

# The name key: the SQL function gives what the importer stored, and Ofsted's spellings resolve.
assert_eq 0 "$(db_query 'SELECT count(*) FROM commissioner WHERE commissioner_name_key(name) <> name_key')" \
  "commissioner_name_key(name) = name_key"
assert_eq "st helens|telford and wrekin|kings lynn|kings lynn|southend on sea|bristol city of" \
  "$(db_query "SELECT concat_ws('|', commissioner_name_key('St. Helens'), commissioner_name_key('Telford & Wrekin'), commissioner_name_key('King''s Lynn'), commissioner_name_key(U&'King\\2019s Lynn'), commissioner_name_key(' Southend-on-Sea '), commissioner_name_key('BRISTOL, City of'))")" \
  "commissioner_name_key examples (as tests/unit/test_geoimport.c)"
for pair in "Bristol:E06000023" "Durham:E06000047" "Herefordshire:E06000019" \
  "Kingston upon Hull:E06000010" "St Helens:E08000013" "Telford & Wrekin:E06000020" \
  "Hammersmith & Fulham:E09000013" "Bournemouth, Christchurch & Poole:E06000058" \
  "Southend on Sea:E06000033"; do
  assert_eq "${pair##*:}" "$(db_query "SELECT commissioner_resolve('${pair%:*}')")" \
    "commissioner_resolve('${pair%:*}')"
done
# The provider register names LAs, not codes: all its English LAs resolve; the four Welsh do not.
aqpd_run import ofsted "$DATA/ofsted/Provider_level_at_31_Mar_2025.csv"
assert_eq 0 "$RUN_EXIT" "import ofsted (stderr: $(tail -n 3 <<<"$RUN_ERR"))"
assert_eq "Cardiff Conwy Newport Wrexham" \
  "$(db_query "SELECT string_agg(DISTINCT local_authority, ' ') FROM ofsted_setting WHERE commissioner_resolve(local_authority) IS NULL")" \
  "Ofsted provider LA names that resolve to no commissioner"
assert_eq 153 "$(db_query "SELECT count(DISTINCT commissioner_resolve(local_authority)) FROM ofsted_setting")" \
  "commissioners with a setting in the provider register"

# The run as recorded.
assert_eq "commissioners|153|153|0|0|0|0|0|4" \
  "$(db_query "SELECT kind, rows_read, inserted, updated, unchanged, rejected, absent, jsonb_array_length(unmatched), jsonb_array_length(files) FROM reference_import")" \
  "the import recorded in reference_import"
assert_eq "$(sha256sum "$LAS" | cut -d' ' -f1)" \
  "$(db_query "SELECT f->>'sha256' FROM reference_import, jsonb_array_elements(files) f WHERE f->>'file' = 'local_authorities/dfe/las.csv'")" \
  "sha256 of las.csv recorded"

# ---- the same files again: nothing changes ----
facts='SELECT md5(string_agg(c::text, $$,$$ ORDER BY code)) FROM (SELECT code, name, region_code, la_number, lat, lon, ofsted_judgement, ofsted_inspected, ofsted_published, ofsted_report_url, updated_at FROM commissioner) c'
before=$(db_query "$facts")
aliases_before=$(db_query 'SELECT md5(string_agg(a::text, $$,$$ ORDER BY kind, alias)) FROM commissioner_alias a')
import_ok "re-import of the commissioners" import commissioners "$DATA"
expect_counts 0 0 153 0 "re-import of the commissioners"
assert_eq 153 "$(summary matched)" "re-import: matched"
assert_contains "$RUN_OUT" "(0 inserted, 0 updated, 0 removed)" "re-import: aliases unchanged"
assert_contains "$RUN_OUT" "regions: 9 (0 changed)" "re-import: regions unchanged"
assert_eq "$before" "$(db_query "$facts")" "facts and updated_at after a re-import"
assert_eq "$aliases_before" "$(db_query 'SELECT md5(string_agg(a::text, $$,$$ ORDER BY kind, alias)) FROM commissioner_alias a')" \
  "aliases after a re-import"

# ---- a modified copy: Leeds re-judged, Kent renamed by Ofsted ----
M=$T/data
mkdir -p "$M"
cp -r "$DATA/local_authorities" "$DATA/ofsted" "$M/"
MOFS=$M/ofsted/la_inspection_outcomes_as_at_31_march_2025/Inspections_as_at_31_March.csv
kent_line=$(grep -n ',E10000016,Kent,' "$OFS" | cut -d: -f1)
[[ -n "$kent_line" ]] || fail "no Kent row in $OFS"
sed -i 's/,E08000035,Leeds,\(.*\),2022-02-21T00:00:00,2022-05-09T00:00:00,Outstanding,/,E08000035,Leeds,\1,2025-01-20T00:00:00,2025-03-01T00:00:00,Good,/; s/,E10000016,Kent,/,E10000016,Kent County Council,/' "$MOFS"
assert_contains "$(grep ',E08000035,' "$MOFS")" "2025-01-20T00:00:00,2025-03-01T00:00:00,Good," "the modified Leeds row"
import_ok "import of the modified copy" import commissioners "$M"
expect_counts 0 2 151 0 "import of the modified copy"
assert_eq 152 "$(summary matched)" "modified copy: matched"
assert_eq 2 "$(summary unmatched)" "modified copy: unmatched"
assert_contains "$RUN_OUT" "Ofsted LA outcomes line $kent_line: E10000016 \"Kent County Council\": that code is \"Kent\"; the names do not agree" \
  "modified copy: the renamed row is named with its line"
assert_contains "$RUN_OUT" "E10000016 Kent: no judgement in Ofsted LA outcomes (loaded without one)" \
  "modified copy: Kent is loaded without a judgement"
assert_eq "Good|2025-01-20" "$(db_query "SELECT ofsted_judgement, ofsted_inspected FROM commissioner WHERE code = 'E08000035'")" \
  "Leeds' new judgement"
assert_eq "|" "$(db_query "SELECT ofsted_judgement, ofsted_inspected FROM commissioner WHERE code = 'E10000016'")" \
  "Kent without a judgement"
assert_eq "$M" "$(db_query 'SELECT source FROM reference_import ORDER BY id DESC LIMIT 1')" "the directory recorded"
import_ok "re-import of the shipped files" import commissioners
expect_counts 0 2 151 0 "re-import of the shipped files"
assert_eq "Outstanding" "$(db_query "SELECT ofsted_judgement FROM commissioner WHERE code = 'E08000035'")" \
  "Leeds' judgement restored"

# A directory without one of the files: exit 1, nothing recorded.
n_imports=$(db_query 'SELECT count(*) FROM reference_import')
rm "$M/local_authorities/dfe/regions.csv"
aqpd_run import commissioners "$M"
assert_eq 1 "$RUN_EXIT" "a directory without regions.csv: exit status"
assert_contains "$RUN_ERR" "cannot open $M/local_authorities/dfe/regions.csv" "a missing file: message"
# A file without a column it needs: exit 1, the file and the column named.
cp "$DATA/local_authorities/dfe/regions.csv" "$M/local_authorities/dfe/"
sed -i '1s/,LAT,/,LATITUDE,/' "$M/local_authorities/ons/"*.properties.csv
aqpd_run import commissioners "$M"
assert_eq 1 "$RUN_EXIT" "an ONS file without LAT: exit status"
assert_contains "$RUN_ERR" 'lacks required column "LAT"' "an ONS file without LAT: message"
assert_eq "$n_imports" "$(db_query 'SELECT count(*) FROM reference_import')" \
  "nothing recorded for refused imports"

# ---- postcode districts ----
rows=$(awk 'END { print NR - 1 }' "$PC")
assert_eq 3115 "$rows" "data rows in the postcode file (no field spans lines)"
# The rows the file cannot locate: no latitude, or a "postcode" that is no outward code (GIR,
# the old Newport NPT). The first three fields are never quoted.
unlocatable=$(awk -F, 'NR > 1 && ($2 == "" || $1 !~ /^[A-Z][A-Z]?[0-9][A-Z0-9]?$/)' "$PC" | wc -l)
assert_eq 20 "$unlocatable" "rows without coordinates or an outward code"
import_ok "first import of the postcode districts" import postcodes
assert_eq "$rows" "$(summary rows)" "postcodes: rows"
expect_counts $((rows - 20)) 0 0 20 "first import of the postcode districts"
assert_contains "$RUN_OUT" 'line 1050: Postcode: "GIR" is not an outward code' "GIR rejected"
assert_contains "$RUN_OUT" 'line 1916: Postcode: "NPT" is not an outward code' "NPT rejected"
assert_contains "$RUN_OUT" "line 2924: W1E: no coordinates (a non-geographic district: Non-geographic)" \
  "W1E rejected"
assert_eq 18 "$(grep -c ': no coordinates' <<<"$RUN_OUT")" "districts without coordinates listed"
assert_eq $((rows - 20)) "$(db_query 'SELECT count(*) FROM postcode_district')" "postcode districts"
assert_eq "postcodes|$rows|$((rows - 20))|20|20" \
  "$(db_query "SELECT kind, rows_read, inserted, rejected, jsonb_array_length(rejects) FROM reference_import ORDER BY id DESC LIMIT 1")" \
  "the postcode import as recorded"
# Spot checks (data/SOURCES.md).
assert_eq "53.8185|-1.56625|Leeds|Leeds|Yorkshire and The Humber|E12000003|885" \
  "$(db_query "SELECT lat, lon, district, post_town, uk_region, region_code, active_postcodes FROM postcode_district WHERE outcode = 'LS6'")" \
  "LS6"
assert_eq "51.502|-0.133827|E12000007" "$(db_query "SELECT lat, lon, region_code FROM postcode_district WHERE outcode = 'SW1A'")" "SW1A"
assert_eq "53.4777|-2.23677" "$(db_query "SELECT lat, lon FROM postcode_district WHERE outcode = 'M1'")" "M1"
assert_eq "Scotland|" "$(db_query "SELECT uk_region, region_code FROM postcode_district WHERE outcode = 'AB10'")" \
  "a Scottish district: no English region"
assert_eq 2306 "$(db_query 'SELECT count(*) FROM postcode_district WHERE region_code IS NOT NULL')" \
  "districts in an English region"
# LS6 lands in Leeds: its nearest commissioner centroid is Leeds', under 10 km away (haversine).
near="SELECT c.code || '|' || round((2 * 6371 * asin(sqrt(sin(radians(c.lat - p.lat) / 2) ^ 2 + cos(radians(p.lat)) * cos(radians(c.lat)) * sin(radians(c.lon - p.lon) / 2) ^ 2)))::numeric, 1) FROM postcode_district p, commissioner c WHERE p.outcode = 'LS6' ORDER BY (c.lat - p.lat) ^ 2 + ((c.lon - p.lon) * cos(radians(p.lat))) ^ 2 LIMIT 1"
got=$(db_query "$near")
assert_eq "E08000035" "${got%%|*}" "the commissioner nearest LS6"
assert_le "${got##*|}" 10 "km from LS6 to Leeds' centroid"
assert_eq "E08000035" "$(db_query "SELECT commissioner_resolve(district) FROM postcode_district WHERE outcode = 'LS6'")" \
  "LS6's district name resolves to Leeds"

# The same file again: nothing changes.
before=$(db_query 'SELECT md5(string_agg(p::text, $$,$$ ORDER BY outcode)) FROM (SELECT outcode, lat, lon, town, district, post_town, uk_region, region_code, postcodes, active_postcodes, population, households, updated_at FROM postcode_district) p')
import_ok "re-import of the postcode districts" import postcodes "$PC"
expect_counts 0 0 $((rows - 20)) 20 "re-import of the postcode districts"
assert_contains "$RUN_OUT" "absent: 0 " "re-import: nothing absent"
assert_eq "$before" \
  "$(db_query 'SELECT md5(string_agg(p::text, $$,$$ ORDER BY outcode)) FROM (SELECT outcode, lat, lon, town, district, post_town, uk_region, region_code, postcodes, active_postcodes, population, households, updated_at FROM postcode_district) p')" \
  "postcode districts after a re-import"

# Malformed rows in a file of their own: each rejected with its line and reason, the rest load.
B=$T/districts.csv
{
  head -n 1 "$PC"
  grep '^LS6,' "$PC" | sed 's/^LS6,53.8185,/ls6,53.8186,/'               # 2: lower case, moved
  grep '^LS6,' "$PC"                                                      # 3: a duplicate
  grep '^LS7,' "$PC" | sed 's/^LS7,/LS7 3QR,/'                            # 4: a full postcode
  grep '^LS8,' "$PC" | sed 's/^LS8,[^,]*,[^,]*,/LS8,0,0,/'                # 5: off the map
  grep '^LS9,' "$PC" | sed 's/^LS9,[^,]*,/LS9,53.8e0,/'                   # 6: not a decimal
  grep '^M1,' "$PC" | sed 's/,North West,/,Middle Earth,/'                # 7: unknown region
  grep '^M2,' "$PC" | sed 's/,Manchester,688,/,Manchester,twelve,/'      # 8: not a number
  grep '^M3,' "$PC" | sed 's/^M3,/M3,extra,/'                             # 9: a field too many
  grep '^M4,' "$PC"                                                       # 10: good
} >"$B"
assert_eq 10 "$(wc -l <"$B")" "lines in the malformed file"
import_ok "a file with malformed rows" import postcodes "$B"
expect_counts 0 1 1 7 "a file with malformed rows"
for want in \
  'line 3: Postcode: LS6 is already on line 2' \
  'line 4: Postcode: "LS7 3QR" is not an outward code' \
  'line 5: Latitude/Longitude: "0", "0" is not a point in the UK' \
  'line 6: Latitude/Longitude: "53.8e0"' \
  'line 7: UK region: "Middle Earth" is not a nation or English region' \
  'line 8: Postcodes: "twelve" is not a whole number' \
  'line 9: 16 fields where the header has 15'; do
  assert_contains "$RUN_OUT" "$want" "rejection reason"
done
assert_contains "$RUN_OUT" "absent: $((rows - 22)) " "districts not in the small file are absent, and kept"
assert_eq "53.8186" "$(db_query "SELECT lat FROM postcode_district WHERE outcode = 'LS6'")" \
  "a lower-case outward code is stored upper case, its new latitude with it"
assert_eq $((rows - 20)) "$(db_query 'SELECT count(*) FROM postcode_district')" "nothing deleted"

# A header without a column it needs, a missing file: exit 1, nothing recorded.
n_imports=$(db_query 'SELECT count(*) FROM reference_import')
sed '1s/,Latitude,/,Lat,/' "$B" >"$T/wrong-header.csv"
aqpd_run import postcodes "$T/wrong-header.csv"
assert_eq 1 "$RUN_EXIT" "a postcode file without Latitude: exit status"
assert_contains "$RUN_ERR" 'lacks required column "Latitude"' "a postcode file without Latitude: message"
aqpd_run import postcodes "$T/no-such-file.csv"
assert_eq 1 "$RUN_EXIT" "a missing postcode file: exit status"
assert_contains "$RUN_ERR" "cannot open $T/no-such-file.csv" "a missing postcode file: message"
assert_eq "$n_imports" "$(db_query 'SELECT count(*) FROM reference_import')" \
  "nothing recorded for refused postcode imports"

# ---- a database that is not migrated: exit 1, with what to do ----
NO_MIGRATE=1 new_database empty
aqpd_run import commissioners
assert_eq 1 "$RUN_EXIT" "commissioners before migrate: exit status"
assert_contains "$RUN_ERR" "aqpd migrate" "commissioners before migrate: the message says what to do"
aqpd_run import postcodes
assert_eq 1 "$RUN_EXIT" "postcodes before migrate: exit status"
assert_contains "$RUN_ERR" "aqpd migrate" "postcodes before migrate: the message says what to do"
