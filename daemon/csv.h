/*
 * csv: a strict RFC 4180 reader over text held in memory. It owns the tokenising of records
 * (quoted fields, "" inside quotes, commas, CR, LF and CRLF inside quotes, CRLF or LF or a lone
 * CR ending a record, a leading UTF-8 byte order mark) and the physical line number each record
 * starts on. It does no I/O and knows nothing of what the columns mean, so every case is
 * unit-tested (tests/unit/test_csv.c).
 *
 * A record that breaks the format (a quote inside an unquoted field, text after a closing
 * quote, a quoted field still open at the end of the input, too many fields) is reported as
 * CSV_BAD with its line and a reason, and the reader resumes at the next record: one bad record
 * never stops the rest being read. Completely empty lines are skipped (they are not records).
 */
#ifndef AQPD_CSV_H
#define AQPD_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/util.h"

/* Fields in one record. Beyond it the record is CSV_BAD: no real register is that wide, and it
 * bounds the per-record index the reader keeps. */
#define CSV_MAX_FIELDS 1024

enum csv_status {
    CSV_RECORD, /* a record: rec->nfields fields */
    CSV_BAD,    /* a malformed record, skipped: rec->line and rec->error say where and why */
    CSV_EOF,    /* no more input */
};

struct csv_record {
    unsigned long line;  /* 1-based physical line the record starts on */
    unsigned long lines; /* physical lines it spans (more than 1 with newlines inside quotes) */
    size_t nfields;
    const char *const *field; /* field[i]: NUL-terminated, unquoted, "" unescaped */
    const size_t *len;        /* len[i]: bytes in field[i] (a field may hold a NUL byte) */
    const char *error;        /* CSV_BAD only: a static message */
};

struct csv_reader {
    const char *p, *end; /* borrowed input, not NUL-terminated; next byte to read */
    unsigned long line;  /* line of the next byte */
    char *buf;           /* unescaped bytes of the current record's fields, NUL-separated */
    size_t buf_len, buf_cap;
    size_t *off; /* offset of each field in buf */
    size_t *len;
    const char **ptr;
    size_t off_cap;
};

/*
 * Starts reading `len` bytes at `data`, which is borrowed and must outlive the reader. A
 * leading UTF-8 BOM is skipped. Free with csv_free.
 */
void csv_init(struct csv_reader *r, const char *data, size_t len);
void csv_free(struct csv_reader *r);

/*
 * Reads the next record into `rec`. The field pointers in `rec` are owned by the reader and are
 * valid until the next csv_next or csv_free.
 */
enum csv_status csv_next(struct csv_reader *r, struct csv_record *rec);

#endif
