/*
 * ingest: what the import commands share: source files, text checks, rejections, and the
 * staging-table and COPY steps of one load. See ingest.h.
 */
#include "daemon/ingest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

/* Bytes handed to one PQputCopyData: libpq takes an int, and this keeps its buffer small. */
#define INGEST_COPY_CHUNK (1u << 20)

/* ---- byte buffer ---- */

/* Makes room for `n` more bytes and the NUL. */
static void reserve(struct ingest_buf *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    while (b->len + n + 1 > b->cap)
        b->cap = b->cap ? b->cap * 2 : 1024;
    b->p = xrealloc(b->p, b->cap);
}

void ingest_put(struct ingest_buf *b, const char *s, size_t n)
{
    reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ingest_puts(struct ingest_buf *b, const char *s)
{
    ingest_put(b, s, strlen(s));
}

void ingest_printf(struct ingest_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---- source files and their text ---- */

void ingest_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

bool ingest_read_file(const char *path, size_t max_bytes, char **data, size_t *len,
                      char sha256_hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "aqpd import: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 16, used = 0, n;
    char *p = xmalloc(cap);
    while ((n = fread(p + used, 1, cap - used, f)) > 0) {
        used += n;
        if (used > max_bytes)
            break;
        if (used == cap)
            p = xrealloc(p, cap *= 2);
    }
    bool bad = ferror(f);
    int err = errno;
    fclose(f);
    if (bad) {
        fprintf(stderr, "aqpd import: cannot read %s: %s\n", path, strerror(err));
        goto fail;
    }
    if (used > max_bytes) {
        fprintf(stderr, "aqpd import: %s is larger than %zu bytes; refusing it\n", path,
                max_bytes);
        goto fail;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(p, used, md, &mdlen, EVP_sha256(), NULL);
    ingest_hex(md, 32, sha256_hex);
    *data = p;
    *len = used;
    return true;
fail:
    free(p);
    return false;
}

bool ingest_header(struct csv_reader *rd, struct csv_record *rec, const char *data, size_t len,
                   const char *path)
{
    csv_init(rd, data, len);
    enum csv_status st = csv_next(rd, rec);
    if (st == CSV_EOF) {
        fprintf(stderr, "aqpd import: %s is empty: no header line\n", path);
        return false;
    }
    if (st == CSV_BAD) {
        fprintf(stderr, "aqpd import: %s: the header (line %lu) is not valid CSV: %s\n", path,
                rec->line, rec->error);
        return false;
    }
    return true;
}

void ingest_trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

bool ingest_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t k;
        unsigned min;
        if (c == 0)
            return false;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1, min = 0x80, c &= 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2, min = 0x800, c &= 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= k)
            return false;
        for (size_t i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
        p += k + 1;
    }
    return true;
}

bool ingest_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool ingest_valid_ymd(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

bool ingest_in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* ---- rejected lines ---- */

void ingest_reject(struct ingest_rejects *r, unsigned long line, char *reason)
{
    if (r->n == r->cap)
        r->v = xrealloc(r->v, (r->cap = r->cap ? r->cap * 2 : 64) * sizeof *r->v);
    r->v[r->n].line = line;
    r->v[r->n].reason = reason;
    r->n++;
}

static int cmp_reject(const void *a, const void *b)
{
    const struct ingest_reject *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

void ingest_rejects_sort(struct ingest_rejects *r)
{
    if (r->n > 1)
        qsort(r->v, r->n, sizeof *r->v, cmp_reject);
}

void ingest_rejects_free(struct ingest_rejects *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].reason);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* ---- the database ---- */

PGconn *ingest_connect(const char *url)
{
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "aqpd import: cannot connect to the database: %s", PQerrorMessage(pg));
        goto fail;
    }
    if (PQsetClientEncoding(pg, "UTF8") != 0) {
        fprintf(stderr, "aqpd import: client encoding UTF8: %s", PQerrorMessage(pg));
        goto fail;
    }
    if (!ingest_exec(pg, "SET client_min_messages = warning", "set"))
        goto fail;
    return pg;
fail:
    PQfinish(pg);
    return NULL;
}

bool ingest_result_ok(PGconn *pg, const PGresult *res, ExecStatusType want, const char *what)
{
    if (PQresultStatus(res) == want)
        return true;
    fprintf(stderr, "aqpd import: %s: %s", what, PQerrorMessage(pg));
    return false;
}

bool ingest_exec(PGconn *pg, const char *sql, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK ||
              ingest_result_ok(pg, res, PGRES_COMMAND_OK, what);
    PQclear(res);
    return ok;
}

bool ingest_exec_params(PGconn *pg, const char *sql, int n, const char *const *p,
                        const char *what, long long *tuples)
{
    PGresult *res = PQexecParams(pg, sql, n, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK ||
              ingest_result_ok(pg, res, PGRES_COMMAND_OK, what);
    if (ok && tuples)
        *tuples = atoll(PQcmdTuples(res));
    PQclear(res);
    return ok;
}

bool ingest_begin(PGconn *pg, const char *stage_sql, const char *what)
{
    if (!ingest_exec(pg, "BEGIN", "begin") ||
        !ingest_exec(pg, "SELECT pg_advisory_xact_lock(" INGEST_LOCK_KEY ")", "lock"))
        return false;
    PGresult *res = PQexec(pg, stage_sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "aqpd import: creating %s: %s(has `aqpd migrate` run?)\n", what,
                PQerrorMessage(pg));
    PQclear(res);
    return ok;
}

void ingest_copy_field(struct ingest_buf *b, const char *v, bool last)
{
    if (!v) {
        ingest_puts(b, "\\N");
    } else {
        for (const char *p = v; *p; p++) {
            switch (*p) {
            case '\\': ingest_puts(b, "\\\\"); break;
            case '\n': ingest_puts(b, "\\n"); break;
            case '\r': ingest_puts(b, "\\r"); break;
            case '\t': ingest_puts(b, "\\t"); break;
            default: ingest_put(b, p, 1);
            }
        }
    }
    ingest_puts(b, last ? "\n" : "\t");
}

/* Reports a failure to send COPY data or its end. */
static void copy_failed(PGconn *pg, const char *name)
{
    fprintf(stderr, "aqpd import: COPY%s%s: %s", name ? " " : "", name ? name : "",
            PQerrorMessage(pg));
}

bool ingest_copy_start(PGconn *pg, const char *target, const char *what)
{
    struct ingest_buf sql = {0};
    ingest_printf(&sql, "COPY %s FROM STDIN", target);
    PGresult *res = PQexec(pg, sql.p);
    bool ok = ingest_result_ok(pg, res, PGRES_COPY_IN, what);
    PQclear(res);
    free(sql.p);
    return ok;
}

bool ingest_copy_send(PGconn *pg, struct ingest_buf *rows, const char *name)
{
    for (size_t off = 0; off < rows->len;) {
        size_t n = rows->len - off < INGEST_COPY_CHUNK ? rows->len - off : INGEST_COPY_CHUNK;
        if (PQputCopyData(pg, rows->p + off, (int)n) != 1) {
            copy_failed(pg, name);
            PQputCopyEnd(pg, "send failed");
            PGresult *res;
            while ((res = PQgetResult(pg)) != NULL)
                PQclear(res);
            return false;
        }
        off += n;
    }
    rows->len = 0;
    return true;
}

bool ingest_copy_end(PGconn *pg, const char *name, const char *what)
{
    bool ok = true;
    if (PQputCopyEnd(pg, NULL) != 1) {
        copy_failed(pg, name);
        ok = false;
    }
    PGresult *res;
    while ((res = PQgetResult(pg)) != NULL) {
        if (ok)
            ok = ingest_result_ok(pg, res, PGRES_COMMAND_OK, what);
        PQclear(res);
    }
    return ok;
}

bool ingest_copy(PGconn *pg, const char *target, struct ingest_buf *rows)
{
    return ingest_copy_start(pg, target, target) && ingest_copy_send(pg, rows, target) &&
           ingest_copy_end(pg, target, target);
}

bool ingest_commit(PGconn *pg, const char *finish_sql, const char *id, const char *channel,
                   const char *payload)
{
    const char *p1[] = {id};
    const char *p2[] = {channel, payload};
    return ingest_exec_params(pg, finish_sql, 1, p1, "finishing the import record", NULL) &&
           ingest_exec_params(pg, "SELECT pg_notify($1, $2)", 2, p2, "notify", NULL) &&
           ingest_exec(pg, "COMMIT", "commit");
}

void ingest_close(PGconn *pg, bool rollback)
{
    if (rollback)
        PQclear(PQexec(pg, "ROLLBACK"));
    PQfinish(pg);
}
