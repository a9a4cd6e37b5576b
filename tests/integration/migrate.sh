#!/usr/bin/env bash
# aqpd migrate: applies schema/NNNN_name.sql in order, each in a transaction, recording
# (version, name, sha256, applied_at) in aqpd_schema_migrations; a second run applies nothing; a
# changed applied file is refused (non-zero exit naming the file); a failing file leaves no
# trace and stops the run.
source "$(dirname "$0")/../lib/common.sh"
t_init

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
# The recorded sha256 as hex, whether the column is text or bytea.
# $1: the migration's version (the number its file name starts with).
recorded_sha() { db_query "SELECT sha256::text FROM aqpd_schema_migrations WHERE version = $1" | sed 's/^\\x//'; }

# ---- the repository's own schema/ ----
NO_MIGRATE=1 new_database real
real=$(ls "$AQPD_SOURCE_DIR"/schema/[0-9][0-9][0-9][0-9]_*.sql 2>/dev/null | wc -l)
aqpd_run migrate
assert_eq 0 "$RUN_EXIT" "aqpd migrate on an empty database (stderr: $RUN_ERR)"
assert_eq "$real" "$(db_query 'SELECT count(*) FROM aqpd_schema_migrations')" \
  "rows in aqpd_schema_migrations after migrating the repository's schema/ ($real files)"
before=$(db_query 'SELECT version, name, sha256, applied_at FROM aqpd_schema_migrations ORDER BY version')
aqpd_run migrate
assert_eq 0 "$RUN_EXIT" "second aqpd migrate (stderr: $RUN_ERR)"
assert_eq "$before" "$(db_query 'SELECT version, name, sha256, applied_at FROM aqpd_schema_migrations ORDER BY version')" \
  "a second migrate changes nothing in aqpd_schema_migrations"
for f in "$AQPD_SOURCE_DIR"/schema/[0-9][0-9][0-9][0-9]_*.sql; do
  [[ -e "$f" ]] || continue
  assert_eq "$(sha256_of "$f")" "$(recorded_sha "$((10#$(basename "$f" | cut -c1-4)))")" \
    "recorded sha256 of $(basename "$f")"
done

# ---- mechanics, on a schema directory of our own ----
NO_MIGRATE=1 new_database own
S=$T/schema
mkdir -p "$S"
cp "$AQPD_SOURCE_DIR"/schema/*.sql "$S"/ 2>/dev/null || true
cat >"$S/9001_t_first.sql" <<'SQL'
CREATE TABLE t_order (step int NOT NULL);
INSERT INTO t_order VALUES (1);
SQL
cat >"$S/9002_t_second.sql" <<'SQL'
INSERT INTO t_order VALUES (2);
SQL
# 9010 sorts after 9002 (a numeric sort, not one by length); it depends on both.
cat >"$S/9010_t_third.sql" <<'SQL'
INSERT INTO t_order SELECT max(step) + 1 FROM t_order HAVING count(*) = 2;
SQL
export AQPD_SCHEMA_DIR=$S
aqpd_run migrate
assert_eq 0 "$RUN_EXIT" "migrate our own schema dir (stderr: $RUN_ERR)"
assert_eq "1,2,3" "$(db_query 'SELECT string_agg(step::text, $$,$$ ORDER BY step) FROM t_order')" \
  "files applied in order"
assert_eq "9001 9002 9010" "$(db_query "SELECT string_agg(version::text::bigint::text, ' ' ORDER BY version::text::bigint) FROM aqpd_schema_migrations WHERE version::text::bigint >= 9000")" \
  "versions recorded"
assert_eq "t_first" "$(db_query 'SELECT name FROM aqpd_schema_migrations WHERE version::text::bigint = 9001' | sed 's/^9001_//; s/\.sql$//')" \
  "name recorded for 9001"
assert_eq "$(sha256_of "$S/9002_t_second.sql")" "$(recorded_sha 9002)" "sha256 recorded for 9002"
assert_eq 1 "$(db_query 'SELECT count(*) FROM aqpd_schema_migrations WHERE version::text::bigint = 9010 AND applied_at IS NOT NULL AND applied_at <= now()')" \
  "applied_at recorded"

# Idempotent: nothing runs twice (a second INSERT would add a row).
aqpd_run migrate
assert_eq 0 "$RUN_EXIT" "second migrate of our own schema dir (stderr: $RUN_ERR)"
assert_eq 3 "$(db_query 'SELECT count(*) FROM t_order')" "rows after a second migrate"

# A new file is applied on the next run, and only it.
echo "INSERT INTO t_order VALUES (4);" >"$S/9020_t_fourth.sql"
aqpd_run migrate
assert_eq 0 "$RUN_EXIT" "migrate with one new file (stderr: $RUN_ERR)"
assert_eq 4 "$(db_query 'SELECT count(*) FROM t_order')" "rows after applying one new file"

# ---- an applied file changed: refused, named, nothing applied ----
echo "-- edited after it was applied" >>"$S/9002_t_second.sql"
echo "INSERT INTO t_order VALUES (5);" >"$S/9030_t_fifth.sql"
aqpd_run migrate
assert_ne 0 "$RUN_EXIT" "migrate after an applied file changed: exit status"
assert_contains "$RUN_OUT$RUN_ERR" "9002_t_second" "migrate names the changed file"
assert_eq 4 "$(db_query 'SELECT count(*) FROM t_order')" "nothing applied when an applied file changed"
assert_eq "" "$(db_query 'SELECT version FROM aqpd_schema_migrations WHERE version::text::bigint = 9030')" \
  "the new file is not recorded when an applied file changed"
rm "$S/9030_t_fifth.sql"
# Restore it: migrate works again.
sed -i '/-- edited after it was applied/d' "$S/9002_t_second.sql"
aqpd_run migrate
assert_eq 0 "$RUN_EXIT" "migrate after restoring the changed file (stderr: $RUN_ERR)"

# ---- a failing file: its transaction rolls back, it is not recorded, the run stops ----
cat >"$S/9040_t_broken.sql" <<'SQL'
CREATE TABLE t_half_done (x int);
INSERT INTO t_order VALUES (99);
SELECT 1 / 0;
SQL
echo "INSERT INTO t_order VALUES (6);" >"$S/9050_t_after_broken.sql"
aqpd_run migrate
assert_ne 0 "$RUN_EXIT" "migrate with a failing file: exit status"
assert_contains "$RUN_OUT$RUN_ERR" "9040_t_broken" "migrate names the failing file"
assert_eq "" "$(db_query "SELECT to_regclass('t_half_done')")" "the failing file's CREATE TABLE is rolled back"
assert_eq 0 "$(db_query 'SELECT count(*) FROM t_order WHERE step IN (6, 99)')" \
  "neither the failing file's INSERT nor a later file's is applied"
assert_eq 0 "$(db_query 'SELECT count(*) FROM aqpd_schema_migrations WHERE version::text::bigint >= 9040')" \
  "no record for the failing file or later ones"

# ---- the database is unreachable: runtime failure, exit 1 ----
AQPD_DATABASE_URL="postgresql:///nowhere?host=$T/no-socket-here&port=1" aqpd_run migrate
assert_eq 1 "$RUN_EXIT" "migrate with an unreachable database: exit status (stderr: $RUN_ERR)"
