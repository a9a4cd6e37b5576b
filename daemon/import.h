/*
 * import: `aqpd import KIND FILE`, loading reference registers into the database. It owns the
 * mapping from a publisher's file to the reference tables: reading the file, mapping columns by
 * header name, validating and normalising every row, and loading the result in one transaction.
 * Today KIND is `ofsted`: Ofsted's register of children's social care settings
 * (Provider_level_at_31_Mar_2025.csv; data/SOURCES.md) into ofsted_setting, with a row in
 * ofsted_import per run (schema/0002_ofsted_register.sql).
 *
 * The import is idempotent: rows are upserted by URN and compared by a hash of their facts, so a
 * re-run of the same file reports every row unchanged and a newer file updates what changed.
 * Malformed rows (wrong field count, bad URN, date, number or grade, duplicate URN, text that is
 * not UTF-8) are rejected with their line numbers and reasons; the valid rows still load.
 * Settings absent from the file are kept (counted as "absent"; their import_id stays older).
 *
 * Blocking libpq: this is a command, not the server. Progress goes to stderr, the summary to
 * stdout.
 */
#ifndef AQPD_IMPORT_H
#define AQPD_IMPORT_H

struct cfg;

/*
 * Runs one import of `path` as register `kind` with the database of `c`. Returns the process
 * exit status: 0 when the file was processed (even with rejected rows), 1 when it was not (the
 * file unreadable, its header missing a required column, the database unreachable or refusing
 * the load: then nothing is changed), 2 for an unknown kind. Messages name the file and cause.
 */
int import_main(const struct cfg *c, const char *kind, const char *path);

#endif
