/*
 * ingest: what the `aqpd import` commands share (daemon/import.c for Ofsted's register,
 * daemon/geoimport.c for the geography registers). It owns no register and no table; it owns
 * the parts every import does the same way:
 *   - a source file read whole, refused above a size, with its sha256;
 *   - a growable byte buffer, and the checks every register's text goes through (strict UTF-8,
 *     digits, calendar dates, a value from a fixed list);
 *   - the list of rejected lines with their reasons;
 *   - the shape of one load: a blocking connection (UTF8, warnings only), one transaction under
 *     the import lock that creates the caller's temporary staging tables, rows sent to them by
 *     COPY in text format, and the run's record finished, notified and committed.
 *
 * Blocking libpq: imports are commands, not the server. Every failure is reported on stderr as
 * "aqpd import: ..." before the function returns false; the caller says what was not done.
 */
#ifndef AQPD_INGEST_H
#define AQPD_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "daemon/csv.h"
#include "daemon/util.h"

/* pg_advisory_xact_lock key: two imports never interleave (migrate 7243519001, audit ...002). */
#define INGEST_LOCK_KEY "7243519003"

/* ---- byte buffer ---- */

/* A growable byte string; {0} is empty. Once anything is put, p is NUL-terminated; free(p). */
struct ingest_buf {
    char *p;
    size_t len, cap;
};

void ingest_put(struct ingest_buf *b, const char *s, size_t n);
void ingest_puts(struct ingest_buf *b, const char *s);
void ingest_printf(struct ingest_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- source files and their text ---- */

/* Writes the `n` bytes at `in` as 2n lower-case hex digits and a NUL to `out`. */
void ingest_hex(const unsigned char *in, size_t n, char *out);

/*
 * Reads the file at `path` whole. On success *data (owned by the caller; not NUL-terminated)
 * and *len hold it and sha256_hex its digest. False (message printed, nothing allocated) if it
 * cannot be opened or read, or is larger than `max_bytes`.
 */
bool ingest_read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                      char sha256_hex[65]) WUR;

/*
 * Starts reading a source file: csv_init over `len` bytes at `data`, then its header into
 * `rec`. False (message naming `path` printed) if there is no header or it is not valid CSV;
 * either way, csv_free the reader.
 */
bool ingest_header(struct csv_reader *rd, struct csv_record *rec, const char *data, size_t len,
                   const char *path) WUR;

/* Moves *s and *n past leading spaces and tabs, and drops trailing ones. */
void ingest_trim(const char **s, size_t *n);

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, no NUL. */
bool ingest_utf8_valid(const char *s, size_t n);

/* The `n` digits at `s` as a number; false if any is not a digit (n small: no overflow check). */
bool ingest_digits(const char *s, size_t n, int *out) WUR;

/* A calendar date from 1900 to 2100. */
bool ingest_valid_ymd(int y, int m, int d);

/* Whether `s` is one of `list` (NULL-terminated). */
bool ingest_in_list(const char *s, const char *const *list);

/* ---- rejected lines ---- */

struct ingest_reject {
    unsigned long line;
    char *reason; /* owned */
};

struct ingest_rejects {
    struct ingest_reject *v;
    size_t n, cap;
};

/* Appends a rejection; takes ownership of `reason` (allocated with xmalloc). */
void ingest_reject(struct ingest_rejects *r, unsigned long line, char *reason);
/* Sorts the rejections by line. */
void ingest_rejects_sort(struct ingest_rejects *r);
void ingest_rejects_free(struct ingest_rejects *r);

/* ---- the database ---- */

/*
 * Connects to `url` with client encoding UTF8 and client_min_messages = warning. Returns the
 * connection (PQfinish it, or ingest_close), or NULL (message printed).
 */
PGconn *ingest_connect(const char *url) WUR;

/* Whether `res` has status `want`; if not, prints "aqpd import: WHAT: " and the error. */
bool ingest_result_ok(PGconn *pg, const PGresult *res, ExecStatusType want,
                      const char *what) WUR;

/* Runs `sql` (no parameters, any number of statements); true if it succeeded. */
bool ingest_exec(PGconn *pg, const char *sql, const char *what) WUR;

/* Runs one statement with `n` text parameters `p`; *tuples (if not NULL) gets its row count. */
bool ingest_exec_params(PGconn *pg, const char *sql, int n, const char *const *p,
                        const char *what, long long *tuples) WUR;

/*
 * BEGIN, takes the import lock (held to the end of the transaction), and runs `stage_sql`, which
 * creates the caller's staging tables. `what` names them in the message if they cannot be
 * created ("creating WHAT: ..."; the likely cause is a database `aqpd migrate` has not set up).
 * Once called, the transaction may be open whatever it returns: end it with ingest_close.
 */
bool ingest_begin(PGconn *pg, const char *stage_sql, const char *what) WUR;

/* Appends one value in COPY text format (\N for NULL, backslash escapes), then a tab, or a
 * newline if it is the row's `last`. */
void ingest_copy_field(struct ingest_buf *b, const char *v, bool last);

/*
 * A COPY in three steps, for rows sent in batches: start `COPY TARGET FROM STDIN` (TARGET:
 * "table (columns)", trusted SQL); send the rows in `rows` and empty it, as often as needed;
 * end it and read its result. Messages: a refused or failed COPY names it `what`; a failure to
 * send names it "COPY NAME" (`name` may be NULL: "COPY"). After a failed send the COPY is
 * already aborted: do not end it.
 */
bool ingest_copy_start(PGconn *pg, const char *target, const char *what) WUR;
bool ingest_copy_send(PGconn *pg, struct ingest_buf *rows, const char *name) WUR;
bool ingest_copy_end(PGconn *pg, const char *name, const char *what) WUR;

/* The three steps at once for rows built whole, named `target` in every message; empties
 * `rows`. */
bool ingest_copy(PGconn *pg, const char *target, struct ingest_buf *rows) WUR;

/*
 * Ends the load: runs `finish_sql` with the run's `id` as $1 (it stamps the run's record
 * finished), NOTIFYs `channel` with `payload`, and COMMITs. On failure nothing is committed:
 * closing the connection (ingest_close, no rollback needed) ends the transaction.
 */
bool ingest_commit(PGconn *pg, const char *finish_sql, const char *id, const char *channel,
                   const char *payload) WUR;

/* Rolls back the open transaction if `rollback`, and closes the connection. */
void ingest_close(PGconn *pg, bool rollback);

#endif
