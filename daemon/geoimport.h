/*
 * geoimport: `aqpd import commissioners [DIR]` and `aqpd import postcodes [FILE]`, the
 * geography registers (schema/0004_reference_geography.sql; sources in data/SOURCES.md).
 *
 * commissioners joins three publishers' files, each read with the strict CSV reader
 * (daemon/csv.h) and its columns mapped by header name, from DIR (by default the project's
 * data/ directory, compiled in as AQPD_DEFAULT_DATA_DIR):
 *   local_authorities/ons/Counties_and_Unitary_Authorities_December_2024_..._properties.csv
 *        ONS code, name and centroid (LONG/LAT) of every English upper-tier area;
 *   local_authorities/dfe/las.csv, regions.csv
 *        DfE's live local authorities: region (E12) and old LA number; its terminated rows give
 *        predecessor codes (Barnsley E08000016 -> E08000038: same LA number, same name);
 *   ofsted/la_inspection_outcomes_as_at_31_march_2025/Inspections_as_at_31_March.csv
 *        the latest Ofsted judgement of each LA's children's services.
 * Rows are joined by code (through the predecessor codes), and the names on each side must then
 * agree: equal after geoimport_name_key(), or through the explicit alias table in geoimport.c
 * ("Bristol" is "Bristol, City of"). Anything left over on any side is reported by name as
 * unmatched, never guessed. The result goes into commissioner (primary key: the live code),
 * commissioner_alias (predecessor codes and other spellings) and region.
 *
 * postcodes reads the postcode district centroids file (data/postcodes/postcode_districts.csv
 * by default) into postcode_district; rows without coordinates or with an outward code that is
 * not one are rejected with their line numbers and reasons.
 *
 * Both are idempotent (rows compared column by column; a re-run reports everything unchanged),
 * run in one transaction (staging tables, COPY, upsert, a reference_import record, NOTIFY
 * aqpd_reference_import "KIND:ID"), and keep rows absent from the files (counted "absent").
 * Blocking libpq: these are commands. Progress goes to stderr, the summary to stdout.
 */
#ifndef AQPD_GEOIMPORT_H
#define AQPD_GEOIMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/util.h"

struct cfg;

/* Bytes in a name key, including the NUL: longer names do not match anything. */
#define GEOIMPORT_KEY_MAX 128

/*
 * Runs `aqpd import KIND [PATH]` for KIND "commissioners" (PATH: the data directory) or
 * "postcodes" (PATH: the file); PATH NULL means the shipped data. Returns the process exit
 * status: 0 when the input was processed (even with rejected rows or unmatched names), 1 when
 * it was not (a file unreadable, a required column missing, the database unreachable or
 * refusing the load: then nothing is changed), 2 for an unknown kind.
 */
int geoimport_main(const struct cfg *c, const char *kind, const char *path);

/* True for the kinds geoimport_main handles. */
bool geoimport_handles(const char *kind);

/*
 * Writes the matching key of the `n` bytes at `name` to `out` (`outlen` bytes): ASCII letters
 * folded to lower case, apostrophes (' and U+2019) dropped, "&" read as " and ", every other
 * run of ASCII punctuation, control characters or spaces one space, trimmed; other bytes kept.
 * "St. Helens" and "St Helens" give "st helens"; "Telford & Wrekin" gives "telford and wrekin".
 * Returns false (out then "") if the key would not fit or is empty. Mirrors the SQL function
 * commissioner_name_key() of schema/0004.
 */
bool geoimport_name_key(const char *name, size_t n, char *out, size_t outlen) WUR;

/*
 * The ONS code that the explicit alias table gives for a name whose key differs from the ONS
 * name's key ("Bristol" -> E06000023, "Durham" -> E06000047), or NULL. `key` is a name key.
 */
const char *geoimport_name_alias(const char *key);

/*
 * Validates and normalises an outward code (the part of a postcode before the space, or a whole
 * postcode, whose outward code is taken): upper case, "A9", "A9A", "A99", "AA9", "AA9A" or
 * "AA99". Writes it to out (at least 5 bytes) and returns true, or returns false.
 * "ls6" -> "LS6", "LS6 3QR" -> "LS6", "SW1A" -> "SW1A"; "GIR", "NPT", "LS" are refused.
 */
bool geoimport_outcode(const char *s, size_t n, char out[5]) WUR;

/*
 * Parses a plain decimal number (optional '-', digits, optional '.' and digits; no exponent,
 * no spaces) within [min, max]. Returns false for anything else.
 */
bool geoimport_decimal(const char *s, size_t n, double min, double max, double *out) WUR;

#endif
