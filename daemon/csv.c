/*
 * csv: strict RFC 4180 records from text in memory. See csv.h.
 */
#include "daemon/csv.h"

#include <stdlib.h>
#include <string.h>

void csv_init(struct csv_reader *r, const char *data, size_t len)
{
    memset(r, 0, sizeof *r);
    r->p = data;
    r->end = data + len;
    r->line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
}

void csv_free(struct csv_reader *r)
{
    free(r->buf);
    free(r->off);
    free(r->len);
    free(r->ptr);
    memset(r, 0, sizeof *r);
}

/* Bytes of the line terminator at p: 2 for CRLF, 1 for LF or a lone CR, 0 for none. */
static size_t eol_len(const char *p, const char *end)
{
    if (p >= end)
        return 0;
    if (*p == '\n')
        return 1;
    if (*p == '\r')
        return (p + 1 < end && p[1] == '\n') ? 2 : 1;
    return 0;
}

static void put(struct csv_reader *r, char c)
{
    if (r->buf_len == r->buf_cap) {
        r->buf_cap = r->buf_cap ? r->buf_cap * 2 : 256;
        r->buf = xrealloc(r->buf, r->buf_cap);
    }
    r->buf[r->buf_len++] = c;
}

/* Ends the field that started at buf offset `start`; false when the record has too many. */
static WUR bool end_field(struct csv_reader *r, size_t *nfields, size_t start)
{
    if (*nfields == CSV_MAX_FIELDS)
        return false;
    if (*nfields == r->off_cap) {
        r->off_cap = r->off_cap ? r->off_cap * 2 : 32;
        r->off = xrealloc(r->off, r->off_cap * sizeof *r->off);
        r->len = xrealloc(r->len, r->off_cap * sizeof *r->len);
        r->ptr = xrealloc(r->ptr, r->off_cap * sizeof *r->ptr);
    }
    r->off[*nfields] = start;
    r->len[*nfields] = r->buf_len - start;
    put(r, '\0');
    (*nfields)++;
    return true;
}

/* After an error: skips the rest of the physical line, and its terminator. */
static void skip_line(struct csv_reader *r)
{
    while (r->p < r->end && eol_len(r->p, r->end) == 0)
        r->p++;
    size_t n = eol_len(r->p, r->end);
    if (n) {
        r->p += n;
        r->line++;
    }
}

enum csv_status csv_next(struct csv_reader *r, struct csv_record *rec)
{
    memset(rec, 0, sizeof *rec);
    size_t n;
    while ((n = eol_len(r->p, r->end)) > 0) { /* empty lines are not records */
        r->p += n;
        r->line++;
    }
    if (r->p >= r->end)
        return CSV_EOF;

    rec->line = r->line;
    r->buf_len = 0;
    size_t nfields = 0;
    for (;;) {
        size_t start = r->buf_len;
        if (r->p < r->end && *r->p == '"') {
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    rec->error = "quoted field not closed before the end of the file";
                    return CSV_BAD;
                }
                if (*r->p == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        put(r, '"');
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                if ((n = eol_len(r->p, r->end)) > 0) {
                    for (size_t i = 0; i < n; i++)
                        put(r, r->p[i]);
                    r->p += n;
                    r->line++;
                    continue;
                }
                put(r, *r->p++);
            }
            if (r->p < r->end && *r->p != ',' && eol_len(r->p, r->end) == 0) {
                rec->error = "text after the closing quote of a quoted field";
                skip_line(r);
                return CSV_BAD;
            }
        } else {
            while (r->p < r->end && *r->p != ',' && eol_len(r->p, r->end) == 0) {
                if (*r->p == '"') {
                    rec->error = "a quote inside an unquoted field (quote the whole field and "
                                 "double the quote)";
                    skip_line(r);
                    return CSV_BAD;
                }
                put(r, *r->p++);
            }
        }
        if (!end_field(r, &nfields, start)) {
            rec->error = "too many fields in one record";
            skip_line(r);
            return CSV_BAD;
        }
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if ((n = eol_len(r->p, r->end)) > 0) {
            r->p += n;
            r->line++;
        }
        break;
    }
    for (size_t i = 0; i < nfields; i++)
        r->ptr[i] = r->buf + r->off[i];
    rec->nfields = nfields;
    rec->field = r->ptr;
    rec->len = r->len;
    return CSV_RECORD;
}
