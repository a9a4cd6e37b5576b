/*
 * import: reference registers into the database (today Ofsted's). See import.h.
 *
 * One run: read the whole file (and its sha256), map the header's columns by name, validate and
 * normalise each record into the values ofsted_setting stores (or a rejection with its line
 * and reason), drop later duplicates of a URN, then in one transaction: COPY the valid rows
 * into a temporary staging table, count inserted / updated / unchanged / absent against the
 * register by URN and row hash, record the run in ofsted_import, upsert the register from the
 * staging table, and NOTIFY aqpd_ofsted_import with the run's id so a running daemon can
 * re-check qualifications against the new facts. The steps every import shares (reading the
 * file, text checks, the transaction, staging table and COPY) are daemon/ingest's.
 */
#include "daemon/import.h"
#include "daemon/cfg.h"
#include "daemon/csv.h"
#include "daemon/ingest.h"
#include "daemon/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libpq-fe.h>
#include <openssl/evp.h>

/* A file larger than this is refused before it is parsed: the 2025 register is 1.8 MB. */
#define IMPORT_MAX_FILE_BYTES (256UL * 1024 * 1024)
/* Bytes in one stored text value; mirrors the length CHECKs of schema/0002. */
#define IMPORT_MAX_TEXT 300
/* Places at one setting; mirrors the CHECK (the largest in 2025 is 760). */
#define IMPORT_MAX_PLACES 10000
/* Progress lines on stderr: one per this many rows read, and per this many rows copied. */
#define IMPORT_PROGRESS_EVERY 1000
/* Rejected lines listed in the summary on stdout, and kept in ofsted_import.rejects. */
#define IMPORT_LIST_REJECTS 20
#define IMPORT_STORE_REJECTS 1000
/* Bytes of an offending value quoted in a rejection reason. */
#define IMPORT_QUOTE_BYTES 60
#define IMPORT_NOTIFY_CHANNEL "aqpd_ofsted_import"

#define STR_(x) #x
#define STR(x) STR_(x)

/* How one stored value is checked and normalised. */
enum vkind {
    V_URN,         /* required; "SC" and 6-7 digits, or 6-7 digits */
    V_TEXT,        /* required text */
    V_TEXT_OPT,    /* text; empty is NULL */
    V_REDACTABLE,  /* text; empty or "REDACTED" is NULL */
    V_POSTCODE,    /* UK postcode; empty or "REDACTED" is NULL */
    V_DATE,        /* required date: YYYY-MM-DD[THH:MM:SS] or DD/MM/YYYY */
    V_DATE_OPT,    /* date; empty is NULL */
    V_COUNT_OPT,   /* integer 0..IMPORT_MAX_PLACES; empty is NULL */
    V_STATUS,      /* required; one of statuses[] */
    V_GRADE_OPT,   /* one of grades[]; empty is NULL */
    V_SA_OPT,      /* one of sa_outcomes[]; empty is NULL */
    V_FLAG,        /* empty is false; "Short breaks only", "Y" or "Yes" is true */
};

struct ocol {
    const char *column;     /* ofsted_setting column */
    enum vkind kind;
    const char *headers[3]; /* accepted header names (any case); the 2025 file's first */
};

/* The stored columns, in the order of ocols[], the staging table and the row hash. */
enum col {
    C_URN,
    C_PROVISION,
    C_STATUS,
    C_REG_DATE,
    C_NAME,
    C_OWNER,
    C_SECTOR,
    C_LA,
    C_REGION,
    C_OFSTED_REGION,
    C_POSTCODE,
    C_PLACES,
    C_SHORT_BREAKS,
    C_INSP_TYPE,
    C_INSP_DATE,
    C_INSP_PUBLISHED,
    C_OVERALL,
    C_PROTECTION,
    C_LEADERSHIP,
    C_SA,
    NCOLS
};

static const struct ocol ocols[NCOLS] = {
    [C_URN] = {"urn", V_URN, {"URN"}},
    [C_PROVISION] = {"provision_type", V_TEXT, {"Provision type"}},
    [C_STATUS] = {"registration_status", V_STATUS, {"Registration status"}},
    [C_REG_DATE] = {"registration_date", V_DATE, {"Registration date"}},
    [C_NAME] = {"setting_name", V_REDACTABLE, {"Name", "Provider name"}},
    [C_OWNER] = {"owner_name", V_TEXT_OPT,
                 {"Organisation which owns the provider", "Organisation name"}},
    [C_SECTOR] = {"sector", V_TEXT, {"Sector"}},
    [C_LA] = {"local_authority", V_TEXT, {"Local authority"}},
    [C_REGION] = {"region", V_TEXT, {"Government Office Region"}},
    [C_OFSTED_REGION] = {"ofsted_region", V_TEXT, {"Ofsted Region"}},
    [C_POSTCODE] = {"postcode", V_POSTCODE, {"Postcode"}},
    [C_PLACES] = {"places", V_COUNT_OPT, {"Places"}},
    [C_SHORT_BREAKS] = {"short_breaks_only", V_FLAG, {"Short-break-only children's home"}},
    [C_INSP_TYPE] = {"latest_inspection_type", V_TEXT_OPT, {"Latest full inspection event type"}},
    [C_INSP_DATE] = {"latest_inspection_date", V_DATE_OPT, {"Latest full inspection date"}},
    [C_INSP_PUBLISHED] = {"latest_inspection_published", V_DATE_OPT,
                          {"Latest full inspection publication date"}},
    [C_OVERALL] = {"overall_rating", V_GRADE_OPT,
                   {"Overall experiences and progress of children and young people",
                    "Overall effectiveness"}},
    [C_PROTECTION] = {"protection_rating", V_GRADE_OPT,
                      {"How well children and young people are helped and protected"}},
    [C_LEADERSHIP] = {"leadership_rating", V_GRADE_OPT,
                      {"The effectiveness of leaders and managers"}},
    [C_SA] = {"sa_outcome", V_SA_OPT, {"Supported Accommodation outcome"}},
};

/* Mirrors the CHECKs of schema/0002: a new value needs a new migration and a line here. */
static const char *const statuses[] = {"Active", "Suspended", "Resigned", "Cancelled", NULL};
static const char *const grades[] = {"Outstanding", "Good", "Requires improvement to be good",
                                     "Inadequate", NULL};
static const char *const sa_outcomes[] = {"Consistently strong service delivery",
                                          "Inconsistent quality of service delivery",
                                          "Serious or widespread weaknesses", NULL};

struct orow {
    unsigned long line;
    char *v[NCOLS]; /* normalised values, owned; NULL is SQL NULL */
    unsigned char hash[32];
};

/* One import run: everything it read and decided, owned here. */
struct run {
    const char *path;
    const char *file_name; /* borrowed from path: its last component */
    char *data;            /* the whole file */
    size_t len;
    char sha256_hex[65];
    int map[NCOLS]; /* field index of each column in the file */
    size_t header_fields;
    unsigned long records; /* data records read, valid or not */
    struct orow *rows;
    size_t nrows, rows_cap;
    struct ingest_rejects rej;
};

/* What the database said. */
struct outcome {
    long long import_id, inserted, updated, unchanged, absent;
};

/* ---- small helpers ---- */

/* The value for a rejection reason: quoted, control characters as '?', cut at a character
 * boundary after IMPORT_QUOTE_BYTES. Only called on valid UTF-8. */
static void quote(struct ingest_buf *b, const char *s, size_t n)
{
    ingest_puts(b, "\"");
    size_t i = 0;
    for (; i < n && i < IMPORT_QUOTE_BYTES; i++)
        ingest_put(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? "?" : &s[i], 1);
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) /* finish the character */
        ingest_put(b, &s[i++], 1);
    ingest_puts(b, i < n ? "...\"" : "\"");
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* "HH:MM" or "HH:MM:SS" or "HH:MM:SS.fff…", each part in range. */
static bool valid_time(const char *s, size_t n)
{
    int h, mi, sec = 0;
    if (n < 5 || !ingest_digits(s, 2, &h) || s[2] != ':' || !ingest_digits(s + 3, 2, &mi) ||
        h > 23 || mi > 59)
        return false;
    if (n == 5)
        return true;
    if (n < 8 || s[5] != ':' || !ingest_digits(s + 6, 2, &sec) || sec > 59)
        return false;
    if (n == 8)
        return true;
    int frac;
    return s[8] == '.' && n > 9 && n <= 15 && ingest_digits(s + 9, n - 9, &frac);
}

/* ISO 8601 date (with an optional time, which is dropped) or DD/MM/YYYY into "YYYY-MM-DD". */
static WUR bool parse_date(const char *s, size_t n, char out[11])
{
    int y, m, d;
    if (n >= 10 && s[4] == '-' && s[7] == '-') {
        if (!ingest_digits(s, 4, &y) || !ingest_digits(s + 5, 2, &m) ||
            !ingest_digits(s + 8, 2, &d))
            return false;
        if (n > 10 && ((s[10] != 'T' && s[10] != ' ') || !valid_time(s + 11, n - 11)))
            return false;
    } else {
        const char *s1 = memchr(s, '/', n);
        const char *s2 = s1 ? memchr(s1 + 1, '/', n - (size_t)(s1 + 1 - s)) : NULL;
        if (!s2 || s1 - s < 1 || s1 - s > 2 || s2 - s1 - 1 < 1 || s2 - s1 - 1 > 2 ||
            s + n - s2 - 1 != 4 || !ingest_digits(s, (size_t)(s1 - s), &d) ||
            !ingest_digits(s1 + 1, (size_t)(s2 - s1 - 1), &m) || !ingest_digits(s2 + 1, 4, &y))
            return false;
    }
    if (!ingest_valid_ymd(y, m, d))
        return false;
    /* ingest_valid_ymd bounds every part, so this fills exactly 10 characters. */
    out[0] = (char)('0' + y / 1000), out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10), out[3] = (char)('0' + y % 10), out[4] = '-';
    out[5] = (char)('0' + m / 10), out[6] = (char)('0' + m % 10), out[7] = '-';
    out[8] = (char)('0' + d / 10), out[9] = (char)('0' + d % 10), out[10] = '\0';
    return true;
}

/* "SC" and 6 or 7 digits, or 6 or 7 digits (schema: '^(SC)?[0-9]{6,7}$'). */
static bool valid_urn(const char *s, size_t n)
{
    int v;
    if (n >= 2 && s[0] == 'S' && s[1] == 'C')
        s += 2, n -= 2;
    return (n == 6 || n == 7) && ingest_digits(s, n, &v);
}

/* Normalises a postcode (upper case, one space before the inward code) into a new string, or
 * NULL if it is not one (schema: '^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$'). */
static WUR char *norm_postcode(const char *s, size_t n)
{
    char c[16];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space(s[i]))
            continue;
        if (k == 7)
            return NULL;
        c[k++] = (s[i] >= 'a' && s[i] <= 'z') ? (char)(s[i] - 'a' + 'A') : s[i];
    }
    if (k < 5)
        return NULL;
    size_t out_len = k - 3; /* outward code */
    if (!is_digit(c[out_len]) || !is_upper(c[out_len + 1]) || !is_upper(c[out_len + 2]))
        return NULL;
    size_t j = 0;
    if (!is_upper(c[j++]))
        return NULL;
    if (is_upper(c[j]))
        j++;
    if (j >= out_len || !is_digit(c[j++]))
        return NULL;
    if (j < out_len && (is_upper(c[j]) || is_digit(c[j])))
        j++;
    if (j != out_len)
        return NULL;
    char *r = xmalloc(k + 2);
    memcpy(r, c, out_len);
    r[out_len] = ' ';
    memcpy(r + out_len + 1, c + out_len, 3);
    r[k + 1] = '\0';
    return r;
}

/* Whether a provision type is a children's home of any kind (schema: !~* 'children.s home',
 * where '.' is any one character, so "Children’s home" with a curly apostrophe counts too). */
static bool is_childrens_home(const char *s)
{
    for (const char *p = s; (p = strcasestr(p, "children")) != NULL; p++) {
        const unsigned char *q = (const unsigned char *)p + 8;
        if (!*q)
            return false;
        q++;
        while ((*q & 0xC0) == 0x80)
            q++;
        if (strncasecmp((const char *)q, "s home", 6) == 0)
            return true;
    }
    return false;
}

/* ---- reading and validating ---- */

static WUR bool read_whole(struct run *r)
{
    return ingest_read_file(r->path, IMPORT_MAX_FILE_BYTES, &r->data, &r->len, r->sha256_hex);
}

static void reject(struct run *r, unsigned long line, const char *reason)
{
    ingest_reject(&r->rej, line, xstrdup(reason));
}

/* Maps every column by header name; false (message printed) if any is missing or doubled. */
static WUR bool map_header(struct run *r, const struct csv_record *h)
{
    struct ingest_buf missing = {0};
    bool ok = true;
    r->header_fields = h->nfields;
    for (size_t c = 0; c < NCOLS; c++) {
        r->map[c] = -1;
        for (size_t i = 0; i < h->nfields; i++) {
            const char *f = h->field[i];
            size_t n = h->len[i];
            ingest_trim(&f, &n);
            for (size_t a = 0; a < 3 && ocols[c].headers[a]; a++) {
                if (strlen(ocols[c].headers[a]) != n || strncasecmp(f, ocols[c].headers[a], n))
                    continue;
                if (r->map[c] >= 0) {
                    fprintf(stderr,
                            "aqpd import: %s: the header has column \"%s\" twice (fields %d "
                            "and %zu)\n",
                            r->path, ocols[c].headers[0], r->map[c] + 1, i + 1);
                    ok = false;
                }
                r->map[c] = (int)i;
            }
        }
        if (r->map[c] < 0) {
            ingest_puts(&missing, missing.len ? ", \"" : "\"");
            ingest_puts(&missing, ocols[c].headers[0]);
            ingest_puts(&missing, "\"");
        }
    }
    if (missing.len) {
        fprintf(stderr,
                "aqpd import: %s: the header (line 1) lacks required column%s %s; is this "
                "Ofsted's provider-level file (Provider_level_at_31_Mar_2025.csv)?\n",
                r->path, strchr(missing.p, ',') ? "s" : "", missing.p);
        ok = false;
    }
    free(missing.p);
    return ok;
}

/*
 * Checks and normalises one field. On success *out is the stored value (owned) or NULL; on
 * failure the reason is appended to `why`.
 */
static WUR bool check_value(const struct ocol *oc, const char *s, size_t n, char **out,
                        struct ingest_buf *why)
{
    const char *err = NULL;
    char *v = NULL;
    *out = NULL;
    ingest_trim(&s, &n);
    if (!ingest_utf8_valid(s, n)) {
        ingest_printf(why, "%s: not valid UTF-8 text", oc->headers[0]);
        return false;
    }
    if (n == 0) {
        switch (oc->kind) {
        case V_URN:
        case V_TEXT:
        case V_DATE:
        case V_STATUS:
            ingest_printf(why, "%s: empty, but required", oc->headers[0]);
            return false;
        case V_FLAG:
            *out = xstrdup("f");
            return true;
        default:
            return true;
        }
    }
    if (n > IMPORT_MAX_TEXT) {
        ingest_printf(why, "%s: longer than %d bytes", oc->headers[0], IMPORT_MAX_TEXT);
        return false;
    }
    v = xstrndup(s, n);
    char date[11];
    uint64_t count;
    switch (oc->kind) {
    case V_URN:
        if (!valid_urn(v, n))
            err = "not an Ofsted URN (6 or 7 digits, or SC and 6 or 7 digits)";
        break;
    case V_TEXT:
    case V_TEXT_OPT:
        break;
    case V_REDACTABLE:
        if (strcasecmp(v, "REDACTED") == 0) {
            free(v);
            v = NULL;
        }
        break;
    case V_POSTCODE:
        if (strcasecmp(v, "REDACTED") == 0) {
            free(v);
            v = NULL;
        } else {
            char *p = norm_postcode(v, n);
            if (!p) {
                err = "not a UK postcode";
                break;
            }
            free(v);
            v = p;
        }
        break;
    case V_DATE:
    case V_DATE_OPT:
        if (!parse_date(v, n, date)) {
            err = "not a date (YYYY-MM-DD or DD/MM/YYYY, 1900 to 2100)";
            break;
        }
        free(v);
        v = xstrdup(date);
        break;
    case V_COUNT_OPT:
        if (!util_parse_u64(v, 0, IMPORT_MAX_PLACES, &count)) {
            err = "not a whole number from 0 to " STR(IMPORT_MAX_PLACES);
            break;
        }
        snprintf(v, n + 1, "%u", (unsigned)count); /* never longer than the input */
        break;
    case V_STATUS:
        if (!ingest_in_list(v, statuses))
            err = "not a known registration status (Active, Suspended, Resigned, Cancelled)";
        break;
    case V_GRADE_OPT:
        if (!ingest_in_list(v, grades))
            err = "not an Ofsted grade (Outstanding, Good, Requires improvement to be good, "
                  "Inadequate)";
        break;
    case V_SA_OPT:
        if (!ingest_in_list(v, sa_outcomes))
            err = "not a supported accommodation outcome";
        break;
    case V_FLAG:
        if (strcasecmp(v, "Short breaks only") != 0 && strcasecmp(v, "Y") != 0 &&
            strcasecmp(v, "Yes") != 0) {
            err = "expected empty or \"Short breaks only\"";
            break;
        }
        v[0] = 't'; /* v held a non-empty flag text: room for "t" */
        v[1] = '\0';
        break;
    }
    if (err) {
        ingest_printf(why, "%s: %s: ", oc->headers[0], err);
        quote(why, s, n);
        free(v);
        return false;
    }
    *out = v;
    return true;
}

static void row_free(struct orow *o)
{
    for (size_t c = 0; c < NCOLS; c++)
        free(o->v[c]);
}

/* The row hash: sha256 over every stored value, each as a NULL flag, its length and bytes. */
static void row_hash(struct orow *o)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        fprintf(stderr, "aqpd import: sha256 unavailable\n");
        abort();
    }
    for (size_t c = 0; c < NCOLS; c++) {
        unsigned char head[5] = {o->v[c] ? 1 : 0, 0, 0, 0, 0};
        size_t n = o->v[c] ? strlen(o->v[c]) : 0;
        for (int i = 0; i < 4; i++)
            head[1 + i] = (unsigned char)(n >> (8 * (3 - i)));
        EVP_DigestUpdate(ctx, head, sizeof head);
        if (n)
            EVP_DigestUpdate(ctx, o->v[c], n);
    }
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, o->hash, &len);
    EVP_MD_CTX_free(ctx);
}

/* Validates one record into r->rows, or rejects it. */
static void take_record(struct run *r, const struct csv_record *rec)
{
    struct orow o = {.line = rec->line};
    struct ingest_buf why = {0};
    if (rec->nfields != r->header_fields) {
        ingest_printf(&why, "%zu fields where the header has %zu", rec->nfields, r->header_fields);
        goto bad;
    }
    for (size_t c = 0; c < NCOLS; c++) {
        size_t i = (size_t)r->map[c];
        if (!check_value(&ocols[c], rec->field[i], rec->len[i], &o.v[c], &why))
            goto bad;
        why.len = 0;
    }
    if (is_childrens_home(o.v[C_PROVISION])) { /* confidential, whatever the file says */
        free(o.v[C_POSTCODE]);
        free(o.v[C_NAME]);
        o.v[C_POSTCODE] = o.v[C_NAME] = NULL;
    }
    if (!o.v[C_INSP_DATE] &&
        (o.v[C_OVERALL] || o.v[C_PROTECTION] || o.v[C_LEADERSHIP] || o.v[C_SA])) {
        ingest_puts(&why, "inspection judgements without a latest full inspection date");
        goto bad;
    }
    if (o.v[C_INSP_PUBLISHED] &&
        (!o.v[C_INSP_DATE] || strcmp(o.v[C_INSP_PUBLISHED], o.v[C_INSP_DATE]) < 0)) {
        ingest_puts(&why, "inspection published before it took place, or without its date");
        goto bad;
    }
    row_hash(&o);
    if (r->nrows == r->rows_cap)
        r->rows = xrealloc(r->rows, (r->rows_cap = r->rows_cap ? r->rows_cap * 2 : 1024) *
                                        sizeof *r->rows);
    r->rows[r->nrows++] = o;
    free(why.p);
    return;
bad:
    reject(r, rec->line, why.p);
    free(why.p);
    row_free(&o);
}

static int cmp_row_ptr(const void *a, const void *b)
{
    const struct orow *x = *(const struct orow *const *)a, *y = *(const struct orow *const *)b;
    int c = strcmp(x->v[C_URN], y->v[C_URN]);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Rejects every row whose URN an earlier line already had, keeping the file's order. */
static void drop_duplicates(struct run *r)
{
    if (r->nrows < 2)
        return;
    struct orow **by = xmalloc(r->nrows * sizeof *by);
    for (size_t i = 0; i < r->nrows; i++)
        by[i] = &r->rows[i];
    qsort(by, r->nrows, sizeof *by, cmp_row_ptr);
    char msg[128];
    size_t first = 0; /* the earliest line of the current run of equal URNs: it is kept */
    for (size_t i = 1; i < r->nrows; i++) {
        if (strcmp(by[i]->v[C_URN], by[first]->v[C_URN]) != 0) {
            first = i;
            continue;
        }
        snprintf(msg, sizeof msg, "URN: %s is already on line %lu", by[i]->v[C_URN],
                 by[first]->line);
        reject(r, by[i]->line, msg);
    }
    for (size_t i = 1, f = 0; i < r->nrows; i++) { /* mark after: lines are compared above */
        if (strcmp(by[i]->v[C_URN], by[f]->v[C_URN]) != 0)
            f = i;
        else
            by[i]->line = 0;
    }
    free(by);
    size_t k = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        if (r->rows[i].line == 0)
            row_free(&r->rows[i]);
        else
            r->rows[k++] = r->rows[i];
    }
    r->nrows = k;
}

/* Parses the whole file; false (message printed) if it has no usable header. */
static WUR bool parse(struct run *r)
{
    struct csv_reader rd;
    struct csv_record rec;
    enum csv_status st;
    bool ok = false;
    if (!ingest_header(&rd, &rec, r->data, r->len, r->path) || !map_header(r, &rec))
        goto fail;
    while ((st = csv_next(&rd, &rec)) != CSV_EOF) {
        r->records++;
        if (st == CSV_BAD) {
            char msg[160];
            snprintf(msg, sizeof msg, "not valid CSV: %s", rec.error);
            reject(r, rec.line, msg);
        } else {
            take_record(r, &rec);
        }
        if (r->records % IMPORT_PROGRESS_EVERY == 0)
            fprintf(stderr, "aqpd import: ofsted: %lu rows read, %zu rejected\n", r->records,
                    r->rej.n);
    }
    drop_duplicates(r);
    ingest_rejects_sort(&r->rej);
    fprintf(stderr, "aqpd import: ofsted: %lu rows read, %zu valid, %zu rejected\n", r->records,
            r->nrows, r->rej.n);
    ok = true;
fail:
    csv_free(&rd);
    return ok;
}

/* ---- loading ---- */

static void json_string(struct ingest_buf *b, const char *s)
{
    ingest_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            ingest_put(b, "\\", 1);
            ingest_put(b, (const char *)p, 1);
        } else if (*p < 0x20 || *p == 0x7F) {
            ingest_printf(b, "\\u%04x", *p);
        } else {
            ingest_put(b, (const char *)p, 1);
        }
    }
    ingest_puts(b, "\"");
}

/* COPYs the valid rows into ofsted_stage, with progress. */
static WUR bool copy_rows(struct run *r, PGconn *pg, const char *cols)
{
    static const char what[] = "COPY into the staging table";
    struct ingest_buf target = {0}, b = {0};
    bool ok = false;
    ingest_printf(&target, "ofsted_stage (%s, row_hash)", cols);
    if (!ingest_copy_start(pg, target.p, what))
        goto fail;
    for (size_t i = 0; i < r->nrows; i++) {
        for (size_t c = 0; c < NCOLS; c++)
            ingest_copy_field(&b, r->rows[i].v[c], false);
        char h[65];
        ingest_hex(r->rows[i].hash, 32, h);
        ingest_printf(&b, "\\\\x%s\n", h);
        if ((i + 1) % IMPORT_PROGRESS_EVERY == 0 || i + 1 == r->nrows) {
            if (!ingest_copy_send(pg, &b, NULL))
                goto fail;
            fprintf(stderr, "aqpd import: ofsted: %zu/%zu rows sent to the database\n", i + 1,
                    r->nrows);
        }
    }
    ok = ingest_copy_end(pg, NULL, what);
fail:
    free(target.p);
    free(b.p);
    return ok;
}

/*
 * Whether `s` is a plain SQL identifier: a lower-case ASCII letter or '_', then lower-case
 * letters, digits or '_', shorter than PostgreSQL's NAMEDATALEN (64). Such a name means the same
 * quoted or not and cannot end the identifier it is written in.
 */
static bool plain_identifier(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || c == '_' || (n > 0 && c >= '0' && c <= '9')))
            return false;
    }
    return n > 0 && n < 64;
}

/* Loads the valid rows and records the run, in one transaction. */
static WUR bool load(struct run *r, const char *url, const char *started_at, struct outcome *out)
{
    struct ingest_buf cols = {0}, set = {0}, sql = {0}, rejects = {0};
    PGresult *res = NULL;
    bool ok = false, in_txn = false;
    PGconn *pg = ingest_connect(url);
    if (!pg)
        return false;
    /* The one place column names are written into SQL unquoted: ocols[] is static, and each
     * name is checked to be a plain identifier, so none can change the statement. */
    for (size_t c = 0; c < NCOLS; c++) {
        const char *col = ocols[c].column;
        if (!plain_identifier(col)) {
            fprintf(stderr, "aqpd import: column \"%s\" is not a plain SQL identifier\n", col);
            abort(); /* a programming error in ocols[] */
        }
        ingest_printf(&cols, "%s%s", c ? ", " : "", col);
        ingest_printf(&set, "%s = EXCLUDED.%s, ", col, col);
    }
    ingest_printf(&sql,
                  "CREATE TEMP TABLE ofsted_stage ON COMMIT DROP AS "
                  "SELECT %s, row_hash FROM ofsted_setting WITH NO DATA",
                  cols.p);
    in_txn = true;
    if (!ingest_begin(pg, sql.p, "the staging table") || !copy_rows(r, pg, cols.p) ||
        !ingest_exec(pg, "ALTER TABLE ofsted_stage ADD PRIMARY KEY (urn)",
                     "index the staging table"))
        goto fail;

    ingest_puts(&rejects, "[");
    for (size_t i = 0; i < r->rej.n && i < IMPORT_STORE_REJECTS; i++) {
        ingest_printf(&rejects, "%s{\"line\": %lu, \"reason\": ", i ? ", " : "",
                      r->rej.v[i].line);
        json_string(&rejects, r->rej.v[i].reason);
        ingest_puts(&rejects, "}");
    }
    ingest_puts(&rejects, "]");
    char rows_read[24], rejected[24];
    snprintf(rows_read, sizeof rows_read, "%lu", r->records);
    snprintf(rejected, sizeof rejected, "%zu", r->rej.n);
    char sha[67];
    snprintf(sha, sizeof sha, "\\x%s", r->sha256_hex);
    const char *p1[] = {r->file_name, sha, rows_read, rejected, rejects.p, started_at};
    res = PQexecParams(
        pg,
        "WITH counts AS ("
        "  SELECT count(*) FILTER (WHERE t.urn IS NULL) AS inserted,"
        "         count(*) FILTER (WHERE t.row_hash <> s.row_hash) AS updated,"
        "         count(*) FILTER (WHERE t.row_hash = s.row_hash) AS unchanged"
        "  FROM ofsted_stage s LEFT JOIN ofsted_setting t ON t.urn = s.urn),"
        " gone AS (SELECT count(*) AS absent FROM ofsted_setting t"
        "          WHERE NOT EXISTS (SELECT 1 FROM ofsted_stage s WHERE s.urn = t.urn))"
        "INSERT INTO ofsted_import (file_name, sha256, rows_read, inserted, updated, unchanged,"
        "                           rejected, absent, rejects, started_at)"
        " SELECT $1, $2::bytea, $3::integer, inserted, updated, unchanged, $4::integer, absent,"
        "        $5::jsonb, $6::timestamptz FROM counts, gone"
        " RETURNING id, inserted, updated, unchanged, absent",
        6, NULL, p1, NULL, NULL, 0);
    if (!ingest_result_ok(pg, res, PGRES_TUPLES_OK, "recording the import"))
        goto fail;
    out->import_id = atoll(PQgetvalue(res, 0, 0));
    out->inserted = atoll(PQgetvalue(res, 0, 1));
    out->updated = atoll(PQgetvalue(res, 0, 2));
    out->unchanged = atoll(PQgetvalue(res, 0, 3));
    out->absent = atoll(PQgetvalue(res, 0, 4));
    char id[24];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;

    sql.len = 0;
    ingest_printf(&sql,
                  "INSERT INTO ofsted_setting AS t (%s, row_hash, source_file, import_id,"
                  " imported_at, updated_at)"
                  " SELECT %s, row_hash, $1, $2::bigint, now(), now() FROM ofsted_stage"
                  " ON CONFLICT (urn) DO UPDATE SET %s row_hash = EXCLUDED.row_hash,"
                  " source_file = EXCLUDED.source_file, import_id = EXCLUDED.import_id,"
                  " imported_at = EXCLUDED.imported_at,"
                  " updated_at = CASE WHEN t.row_hash = EXCLUDED.row_hash THEN t.updated_at"
                  "                   ELSE EXCLUDED.updated_at END",
                  cols.p, cols.p, set.p);
    const char *p2[] = {r->file_name, id};
    long long n;
    if (!ingest_exec_params(pg, sql.p, 2, p2, "upserting the register", &n))
        goto fail;
    if ((size_t)n != r->nrows) {
        fprintf(stderr, "aqpd import: the upsert touched %lld rows, expected %zu\n", n,
                r->nrows);
        goto fail;
    }
    in_txn = false;
    ok = ingest_commit(pg,
                       "UPDATE ofsted_import SET finished_at = clock_timestamp() WHERE id = $1",
                       id, IMPORT_NOTIFY_CHANNEL, id);
fail:
    PQclear(res);
    ingest_close(pg, in_txn);
    free(cols.p);
    free(set.p);
    free(sql.p);
    free(rejects.p);
    return ok;
}

static void run_free(struct run *r)
{
    for (size_t i = 0; i < r->nrows; i++)
        row_free(&r->rows[i]);
    free(r->rows);
    ingest_rejects_free(&r->rej);
    free(r->data);
}

int import_main(const struct cfg *c, const char *kind, const char *path)
{
    if (strcmp(kind, "ofsted") != 0) {
        fprintf(stderr, "aqpd import: unknown register \"%s\" (known: ofsted)\n", kind);
        return 2;
    }
    struct run r = {.path = path};
    struct outcome out = {0};
    int rc = 1;
    const char *slash = strrchr(path, '/');
    r.file_name = slash && slash[1] ? slash + 1 : path;
    char started_at[40];
    util_rfc3339_now(started_at, sizeof started_at);
    uint64_t t0 = util_now_ns();
    if (!read_whole(&r) || !parse(&r))
        goto fail;
    uint64_t t1 = util_now_ns();
    if (!load(&r, c->database_url, started_at, &out)) {
        fprintf(stderr, "aqpd import: %s: nothing was imported\n", path);
        goto fail;
    }
    uint64_t t2 = util_now_ns();

    printf("ofsted import %lld of %s (sha256 %s)\n", out.import_id, path, r.sha256_hex);
    printf("rows: %lu\n", r.records);
    printf("inserted: %lld\n", out.inserted);
    printf("updated: %lld\n", out.updated);
    printf("unchanged: %lld\n", out.unchanged);
    printf("rejected: %zu\n", r.rej.n);
    for (size_t i = 0; i < r.rej.n && i < IMPORT_LIST_REJECTS; i++)
        printf("  line %lu: %s\n", r.rej.v[i].line, r.rej.v[i].reason);
    if (r.rej.n > IMPORT_LIST_REJECTS)
        printf("  ... and %zu more (all in ofsted_import.rejects, up to %d)\n",
               r.rej.n - IMPORT_LIST_REJECTS, IMPORT_STORE_REJECTS);
    printf("absent: %lld (in the register but not in this file; kept)\n", out.absent);
    printf("time: %.0f ms (read and validate %.0f ms, database %.0f ms)\n", (t2 - t0) / 1e6,
           (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    rc = 0;
fail:
    run_free(&r);
    return rc;
}
