/*
 * geoimport: the geography registers (commissioners, postcode districts). See geoimport.h.
 *
 * One run: read every source file whole (and its sha256), map each file's columns by header
 * name, validate and normalise its rows, join them in memory (commissioners) and decide what is
 * loaded, rejected or unmatched, then in one transaction: COPY into temporary staging tables,
 * count inserted / updated / unchanged / absent against the tables by key and by every column,
 * record the run in reference_import, upsert, and NOTIFY aqpd_reference_import "KIND:ID".
 *
 * The steps every import shares (reading a file, text checks, the transaction, staging tables
 * and COPY) are daemon/ingest's. The matching and normalising functions at the top do no I/O;
 * tests/unit/test_geoimport.c covers them (and includes this file to reach the matcher).
 */
#include "daemon/geoimport.h"
#include "daemon/cfg.h"
#include "daemon/csv.h"
#include "daemon/ingest.h"
#include "daemon/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libpq-fe.h>

#ifndef AQPD_DEFAULT_DATA_DIR
#define AQPD_DEFAULT_DATA_DIR "data"
#endif

/* A source file larger than this is refused before it is parsed: the largest is 0.6 MB. */
#define GEO_MAX_FILE_BYTES (64UL * 1024 * 1024)
/* Bytes in one value read (the longest, a district's list of places, is 596), and in one name;
 * mirror the length CHECKs of schema/0004. */
#define GEO_MAX_TEXT 1000
#define GEO_MAX_NAME 100
/* Largest count the postcode file may give (the largest population of a district is ~154k). */
#define GEO_MAX_COUNT 10000000
/* Progress lines on stderr: one per this many rows read. */
#define GEO_PROGRESS_EVERY 1000
/* Rejected lines listed in the summary on stdout, and kept in reference_import.rejects. */
#define GEO_LIST_REJECTS 20
#define GEO_STORE_REJECTS 1000
#define GEO_NOTIFY_CHANNEL "aqpd_reference_import"

/* England's bounding box, for the commissioner centroids; mirrors schema/0004. */
#define ENG_LAT_MIN 49.8
#define ENG_LAT_MAX 55.9
#define ENG_LON_MIN -6.5
#define ENG_LON_MAX 1.8
/* The United Kingdom, the Channel Islands and Man, for postcode districts. */
#define UK_LAT_MIN 49.0
#define UK_LAT_MAX 61.0
#define UK_LON_MIN -8.7
#define UK_LON_MAX 2.0

/* The source files, relative to the data directory (data/SOURCES.md names their origins). */
#define F_ONS                                                                                      \
    "local_authorities/ons/Counties_and_Unitary_Authorities_December_2024_Boundaries_UK_BUC_"     \
    "-7342248301948489151.properties.csv"
#define F_LAS "local_authorities/dfe/las.csv"
#define F_REGIONS "local_authorities/dfe/regions.csv"
#define F_OFSTED "ofsted/la_inspection_outcomes_as_at_31_march_2025/Inspections_as_at_31_March.csv"
#define F_POSTCODES "postcodes/postcode_districts.csv"

/* A growable array: appends one zeroed element to arr (n elements, cap allocated), returns it. */
#define PUSH(arr, n, cap)                                                                          \
    ((n) == (cap) ? ((arr) = xrealloc((arr), ((cap) = (cap) ? (cap) * 2 : 16) * sizeof *(arr)))   \
                  : (arr),                                                                         \
     memset(&(arr)[n], 0, sizeof *(arr)), &(arr)[(n)++])

/* ---- pure: names, codes, numbers ---- */

/*
 * The explicit alias table: names whose key still differs from the ONS name's key, each with the
 * code of the commissioner it means. Every entry was checked by hand against the sources of
 * data/SOURCES.md; a name that matches nothing is reported, never guessed.
 */
static const struct {
    const char *key;  /* geoimport_name_key() of the other spelling */
    const char *code; /* the commissioner's (live) ONS code */
} name_aliases[] = {
    {"bristol", "E06000023"},            /* Ofsted "Bristol": ONS "Bristol, City of" */
    {"durham", "E06000047"},             /* Ofsted "Durham": ONS "County Durham" */
    {"herefordshire", "E06000019"},      /* Ofsted "Herefordshire": "Herefordshire, County of" */
    {"kingston upon hull", "E06000010"}, /* Ofsted "Kingston upon Hull": "..., City of" */
};
#define NNAME_ALIASES (sizeof name_aliases / sizeof name_aliases[0])

bool geoimport_name_key(const char *name, size_t n, char *out, size_t outlen)
{
    size_t k = 0;
    bool space = false; /* a separator is pending */
    if (outlen == 0)
        return false;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        const char *put = NULL;
        char one[2] = {0, 0};
        if (c == '\'')
            continue;
        if (c == 0xE2 && i + 2 < n && (unsigned char)name[i + 1] == 0x80 &&
            (unsigned char)name[i + 2] == 0x99) { /* U+2019 */
            i += 2;
            continue;
        }
        if (c == '&') {
            space = true;
            put = "and";
        } else if (c >= 'A' && c <= 'Z') {
            one[0] = (char)(c - 'A' + 'a');
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
            one[0] = (char)c;
        } else { /* ASCII punctuation, control or space */
            space = true;
            continue;
        }
        if (!put)
            put = one;
        if (space && k > 0) {
            if (k + 1 >= outlen)
                goto fail;
            out[k++] = ' ';
        }
        space = c == '&';
        size_t m = strlen(put);
        if (k + m >= outlen)
            goto fail;
        memcpy(out + k, put, m);
        k += m;
    }
    out[k] = '\0';
    return k > 0;
fail:
    out[0] = '\0';
    return false;
}

const char *geoimport_name_alias(const char *key)
{
    for (size_t i = 0; i < NNAME_ALIASES; i++)
        if (strcmp(key, name_aliases[i].key) == 0)
            return name_aliases[i].code;
    return NULL;
}

static bool is_alpha_uc(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char upcase(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* An outward code alone, already upper case: A9 A99 A9A AA9 AA99 AA9A. */
static bool outward_ok(const char *s, size_t n)
{
    if (n < 2 || n > 4 || !is_alpha_uc(s[0]))
        return false;
    size_t i = is_alpha_uc(s[1]) ? 2 : 1;
    if (i >= n || !is_digit(s[i]))
        return false;
    i++;
    if (i < n && (is_digit(s[i]) || is_alpha_uc(s[i])))
        i++;
    return i == n;
}

/* An inward code, upper case: 9AA. */
static bool inward_ok(const char *s, size_t n)
{
    return n == 3 && is_digit(s[0]) && is_alpha_uc(s[1]) && is_alpha_uc(s[2]);
}

bool geoimport_outcode(const char *s, size_t n, char out[5])
{
    char u[16];
    size_t k = 0, space_at = 0;
    int spaces = 0;
    ingest_trim(&s, &n);
    if (n == 0 || n >= sizeof u)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            if (k == 0 || u[k - 1] == ' ')
                continue; /* runs of spaces count once */
            spaces++;
            space_at = k;
        }
        u[k++] = upcase(s[i]);
    }
    size_t out_len;
    if (spaces > 1) {
        return false;
    } else if (spaces == 1) { /* "LS6 3QR" */
        if (!inward_ok(u + space_at + 1, k - space_at - 1))
            return false;
        out_len = space_at;
    } else if (k >= 5) { /* "LS63QR" */
        if (!inward_ok(u + k - 3, 3))
            return false;
        out_len = k - 3;
    } else {
        out_len = k;
    }
    if (!outward_ok(u, out_len))
        return false;
    memcpy(out, u, out_len);
    out[out_len] = '\0';
    return true;
}

bool geoimport_decimal(const char *s, size_t n, double min, double max, double *out)
{
    char buf[32];
    size_t i = 0, digits = 0;
    if (n == 0 || n >= sizeof buf)
        return false;
    if (s[0] == '-')
        i++;
    for (; i < n && is_digit(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.') {
        size_t frac = 0;
        for (i++; i < n && is_digit(s[i]); i++)
            frac++;
        if (frac == 0)
            return false;
    }
    if (i != n || digits == 0)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (!isfinite(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ^E(06|08|09|10)[0-9]{6}$: the ONS code of an upper-tier English authority. */
static bool la_code(const char *s)
{
    if (strlen(s) != 9 || s[0] != 'E')
        return false;
    if (strncmp(s + 1, "06", 2) && strncmp(s + 1, "08", 2) && strncmp(s + 1, "09", 2) &&
        strncmp(s + 1, "10", 2))
        return false;
    for (int i = 3; i < 9; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* ^E12[0-9]{6}$: an English region. */
static bool region_code(const char *s)
{
    if (strlen(s) != 9 || strncmp(s, "E12", 3) != 0)
        return false;
    for (int i = 3; i < 9; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

/* "YYYY-MM-DD", "YYYY-MM-DDT00:00:00" (a midnight time, as the ODS export writes dates) or
 * "DD/MM/YYYY" into "YYYY-MM-DD". */
static bool parse_date(const char *s, char out[11])
{
    size_t n = strlen(s);
    int y, m, d;
    if (n >= 10 && s[4] == '-' && s[7] == '-' && ingest_digits(s, 4, &y) &&
        ingest_digits(s + 5, 2, &m) && ingest_digits(s + 8, 2, &d)) {
        if (n != 10 && strcmp(s + 10, "T00:00:00") != 0)
            return false;
    } else if (n == 10 && s[2] == '/' && s[5] == '/' && ingest_digits(s, 2, &d) &&
               ingest_digits(s + 3, 2, &m) && ingest_digits(s + 6, 4, &y)) {
    } else {
        return false;
    }
    if (!ingest_valid_ymd(y, m, d))
        return false;
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
    return true;
}

static const char *const grades[] = {"Outstanding", "Good", "Requires improvement to be good",
                                     "Inadequate", NULL};
/* The nations and English regions of the postcode file's "UK region"; mirrors schema/0004. */
static const char *const uk_regions[] = {"North East", "North West", "Yorkshire and The Humber",
                                         "East Midlands", "West Midlands", "East of England",
                                         "London", "South East", "South West", "Scotland",
                                         "Wales", "Northern Ireland", NULL};

/* ---- messages ---- */

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    p[0] = '\0';
    if (n > 0) {
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return p;
}

/* A list of owned messages. */
struct msgs {
    char **v;
    size_t n, cap;
};

static void msg_add(struct msgs *m, char *owned)
{
    *PUSH(m->v, m->n, m->cap) = owned;
}

static void msgs_free(struct msgs *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i]);
    free(m->v);
}

/* ---- source files ---- */

struct src {
    const char *rel;   /* name in reference_import.files */
    const char *label; /* short name in messages */
    char *path;        /* owned */
    char *data;        /* the whole file, owned */
    size_t len;
    char sha256[65];
    unsigned long records; /* data records read, valid or not */
};

static WUR bool src_read(struct src *s)
{
    return ingest_read_file(s->path, GEO_MAX_FILE_BYTES, &s->data, &s->len, s->sha256);
}

/* Receives one record's values: v[i] is column i of the caller's header list, trimmed of
 * spaces and tabs, valid UTF-8, NUL-terminated, "" when empty; borrowed for the call. */
typedef void (*row_fn)(void *ctx, const struct src *s, unsigned long line, char *const *v);
/* Receives a record that could not be read (owned reason). */
typedef void (*bad_fn)(void *ctx, const struct src *s, unsigned long line, char *reason);

/*
 * Reads every record of `s`, mapping columns by header name (`headers`, any case; all
 * required). False (message printed) if the file is empty or lacks a column; `hint` names the
 * file it should be.
 */
static WUR bool src_rows(struct src *s, const char *const *headers, size_t ncols,
                         const char *hint, row_fn fn, bad_fn bad, void *ctx)
{
    struct csv_reader rd;
    struct csv_record rec;
    struct ingest_buf missing = {0};
    int map[16];
    char *v[16];
    size_t header_fields;
    bool ok = false;
    if (ncols > 16)
        abort(); /* a programming error: no source needs more */
    enum csv_status st;
    if (!ingest_header(&rd, &rec, s->data, s->len, s->path))
        goto fail;
    header_fields = rec.nfields;
    for (size_t c = 0; c < ncols; c++) {
        map[c] = -1;
        for (size_t i = 0; i < rec.nfields; i++) {
            const char *f = rec.field[i];
            size_t n = rec.len[i];
            ingest_trim(&f, &n);
            if (strlen(headers[c]) == n && strncasecmp(f, headers[c], n) == 0 && map[c] < 0)
                map[c] = (int)i;
        }
        if (map[c] < 0)
            ingest_printf(&missing, "%s\"%s\"", missing.len ? ", " : "", headers[c]);
    }
    if (missing.len) {
        fprintf(stderr,
                "aqpd import: %s: the header (line 1) lacks required column%s %s; is this %s?\n",
                s->path, strchr(missing.p, ',') ? "s" : "", missing.p, hint);
        goto fail;
    }
    while ((st = csv_next(&rd, &rec)) != CSV_EOF) {
        s->records++;
        if (s->records % GEO_PROGRESS_EVERY == 0)
            fprintf(stderr, "aqpd import: %s: %lu rows read\n", s->label, s->records);
        if (st == CSV_BAD) {
            bad(ctx, s, rec.line, xprintf("not valid CSV: %s", rec.error));
            continue;
        }
        if (rec.nfields != header_fields) {
            bad(ctx, s, rec.line,
                xprintf("%zu fields where the header has %zu", rec.nfields, header_fields));
            continue;
        }
        size_t c = 0;
        for (; c < ncols; c++) {
            const char *f = rec.field[map[c]];
            size_t n = rec.len[map[c]];
            ingest_trim(&f, &n);
            if (!ingest_utf8_valid(f, n)) {
                bad(ctx, s, rec.line, xprintf("%s: not valid UTF-8 text", headers[c]));
                break;
            }
            if (n > GEO_MAX_TEXT) {
                bad(ctx, s, rec.line,
                    xprintf("%s: longer than %d bytes", headers[c], GEO_MAX_TEXT));
                break;
            }
            v[c] = xstrndup(f, n);
        }
        if (c == ncols)
            fn(ctx, s, rec.line, v);
        for (size_t i = 0; i < c; i++)
            free(v[i]);
    }
    ok = true;
fail:
    free(missing.p);
    csv_free(&rd);
    return ok;
}

/* ---- commissioners: reading ---- */

/* An English upper-tier area of the ONS file. */
struct ons_row {
    unsigned long line;
    char code[10];
    char *name;
    char key[GEOIMPORT_KEY_MAX];
    char *lat, *lon; /* validated decimal text */
};

/* A row of DfE's las.csv that is one local authority (live, or terminated with an LA number). */
struct dfe_row {
    unsigned long line;
    char code[10];
    char *name;
    char key[GEOIMPORT_KEY_MAX];
    bool live;
    char region[10];
    int la_number;
    char *terminated; /* date_of_termination as written, or "" */
};

struct region_row {
    char code[10];
    char *name;
};

/* A row of Ofsted's LA inspection outcomes. */
struct ofs_row {
    unsigned long line;
    char code[10];
    char *name;
    char key[GEOIMPORT_KEY_MAX];
    char *judgement; /* NULL if blank */
    char inspected[11], published[11]; /* "" if blank */
    char *url;                         /* NULL if blank */
};

/* One commissioner: a live DfE LA and what the other files say about it. */
struct comm {
    const struct dfe_row *la;
    const struct ons_row *ons;  /* NULL: no centroid; not loaded */
    const struct ofs_row *ofs;  /* NULL: no judgement */
    const struct region_row *region;
};

struct alias {
    const char *kind; /* "code" or "name" */
    char *alias;      /* owned */
    char code[10];
    char *source; /* owned */
};

/* How a name from one file agrees with a commissioner's ONS name. */
enum name_match {
    NM_NONE,  /* it does not: the rows are not joined */
    NM_EXACT, /* byte for byte */
    NM_KEY,   /* after geoimport_name_key() */
    NM_ALIAS, /* through name_aliases[] */
};

struct crun {
    const char *dir;
    struct src ons, las, regions, ofs;
    struct ons_row *onsr;
    size_t nons, ons_cap;
    unsigned long ons_elsewhere; /* rows outside England */
    struct dfe_row *dfe;
    size_t ndfe, dfe_cap;
    struct msgs dfe_skipped; /* live rows that are not one authority */
    struct region_row *reg;
    size_t nreg, reg_cap;
    struct ofs_row *ofsr;
    size_t nofs, ofs_cap;
    struct comm *comm;
    size_t ncomm;
    struct alias *alias;
    size_t nalias, alias_cap;
    size_t ncode_alias, nname_alias;
    struct ingest_rejects rej; /* rows of the ONS file that do not become a commissioner */
    struct msgs unmatched;
    struct msgs notes; /* joins that were not exact, for the summary */
    size_t loaded, matched;
};

static void c_bad(void *ctx, const struct src *s, unsigned long line, char *reason)
{
    struct crun *r = ctx;
    if (s == &r->ons) {
        ingest_reject(&r->rej, line, reason);
    } else {
        msg_add(&r->unmatched, xprintf("%s line %lu: rejected: %s", s->label, line, reason));
        free(reason);
    }
}

static void c_ons_row(void *ctx, const struct src *s, unsigned long line, char *const *v)
{
    struct crun *r = ctx;
    double lat, lon;
    if (v[0][0] != 'E') {
        r->ons_elsewhere++;
        return;
    }
    if (!la_code(v[0])) {
        c_bad(r, s, line, xprintf("CTYUA24CD: \"%.20s\" is not an English upper-tier code", v[0]));
        return;
    }
    if (!v[1][0] || strlen(v[1]) > GEO_MAX_NAME) {
        c_bad(r, s, line, xprintf("CTYUA24NM: a name of 1 to %d bytes is required", GEO_MAX_NAME));
        return;
    }
    if (!geoimport_decimal(v[3], strlen(v[3]), ENG_LAT_MIN, ENG_LAT_MAX, &lat) ||
        !geoimport_decimal(v[2], strlen(v[2]), ENG_LON_MIN, ENG_LON_MAX, &lon)) {
        c_bad(r, s, line,
              xprintf("LONG/LAT: \"%.20s\", \"%.20s\" is not a point in England", v[2], v[3]));
        return;
    }
    for (size_t i = 0; i < r->nons; i++)
        if (strcmp(r->onsr[i].code, v[0]) == 0) {
            c_bad(r, s, line, xprintf("%s is already on line %lu", v[0], r->onsr[i].line));
            return;
        }
    struct ons_row *o = PUSH(r->onsr, r->nons, r->ons_cap);
    o->line = line;
    snprintf(o->code, sizeof o->code, "%s", v[0]);
    o->name = xstrdup(v[1]);
    if (!geoimport_name_key(o->name, strlen(o->name), o->key, sizeof o->key))
        o->key[0] = '\0';
    o->lat = xstrdup(v[3]);
    o->lon = xstrdup(v[2]);
}

/* new_la_code, la_name, status, parent_geography_code, old_la_code, date_of_termination */
static void c_las_row(void *ctx, const struct src *s, unsigned long line, char *const *v)
{
    struct crun *r = ctx;
    bool live = strcmp(v[2], "live") == 0;
    int number = 0;
    if (!live && strcmp(v[2], "terminated") != 0) {
        c_bad(r, s, line, xprintf("status: \"%.20s\" is neither live nor terminated", v[2]));
        return;
    }
    bool one_la =
        la_code(v[0]) && strlen(v[4]) == 3 && ingest_digits(v[4], 3, &number) && number >= 100;
    if (!one_la) {
        if (live) /* combined reporting rows ("E06000061 / E06000062") and BFPO ("z") */
            msg_add(&r->dfe_skipped, xprintf("%s %s", v[0], v[1]));
        return; /* terminated rows without an LA number ('x') name no successor */
    }
    if (!v[1][0] || strlen(v[1]) > GEO_MAX_NAME) {
        c_bad(r, s, line, xprintf("la_name: a name of 1 to %d bytes is required", GEO_MAX_NAME));
        return;
    }
    if (live && !region_code(v[3])) {
        c_bad(r, s, line,
              xprintf("parent_geography_code: \"%.20s\" is not an English region", v[3]));
        return;
    }
    for (size_t i = 0; i < r->ndfe; i++) {
        const struct dfe_row *d = &r->dfe[i];
        if (strcmp(d->code, v[0]) == 0 || (live && d->live && d->la_number == number)) {
            c_bad(r, s, line,
                  xprintf("%s (LA number %d) is already on line %lu", v[0], number, d->line));
            return;
        }
    }
    struct dfe_row *d = PUSH(r->dfe, r->ndfe, r->dfe_cap);
    d->line = line;
    snprintf(d->code, sizeof d->code, "%s", v[0]);
    d->name = xstrdup(v[1]);
    if (!geoimport_name_key(d->name, strlen(d->name), d->key, sizeof d->key))
        d->key[0] = '\0';
    d->live = live;
    snprintf(d->region, sizeof d->region, "%s", live ? v[3] : "");
    d->la_number = number;
    d->terminated = xstrndup(v[5], strlen(v[5]) < 20 ? strlen(v[5]) : 20);
}

static void c_region_row(void *ctx, const struct src *s, unsigned long line, char *const *v)
{
    struct crun *r = ctx;
    if (!region_code(v[0]))
        return; /* E13 Inner and Outer London: not regions */
    if (!v[1][0] || strlen(v[1]) > GEO_MAX_NAME) {
        c_bad(r, s, line,
              xprintf("region_name: a name of 1 to %d bytes is required", GEO_MAX_NAME));
        return;
    }
    for (size_t i = 0; i < r->nreg; i++)
        if (strcmp(r->reg[i].code, v[0]) == 0 || strcmp(r->reg[i].name, v[1]) == 0) {
            c_bad(r, s, line, xprintf("region %s %s is there twice", v[0], v[1]));
            return;
        }
    struct region_row *g = PUSH(r->reg, r->nreg, r->reg_cap);
    snprintf(g->code, sizeof g->code, "%s", v[0]);
    g->name = xstrdup(v[1]);
}

/* Local authority area code, Local authority name, Overall effectiveness, Inspection date,
 * Publication date, Web link */
static void c_ofs_row(void *ctx, const struct src *s, unsigned long line, char *const *v)
{
    struct crun *r = ctx;
    char inspected[11] = "", published[11] = "";
    if (v[0][0] && !la_code(v[0])) { /* empty: joined by name alone */
        c_bad(r, s, line,
              xprintf("Local authority area code: \"%.20s\" is not an upper-tier code", v[0]));
        return;
    }
    if (!v[1][0] || strlen(v[1]) > GEO_MAX_NAME) {
        c_bad(r, s, line,
              xprintf("Local authority name: a name of 1 to %d bytes is required", GEO_MAX_NAME));
        return;
    }
    if (v[2][0] && !ingest_in_list(v[2], grades)) {
        c_bad(r, s, line, xprintf("Overall effectiveness: \"%.40s\" is not an Ofsted grade", v[2]));
        return;
    }
    if ((v[3][0] && !parse_date(v[3], inspected)) || (v[4][0] && !parse_date(v[4], published))) {
        c_bad(r, s, line, xprintf("Inspection date or Publication date: not a date"));
        return;
    }
    if (!v[2][0] != !inspected[0] || (published[0] && (!inspected[0] ||
                                                       strcmp(published, inspected) < 0))) {
        c_bad(r, s, line,
              xprintf("a judgement needs its inspection date, published on or after it"));
        return;
    }
    bool url_ok = strncmp(v[5], "https://reports.ofsted.gov.uk/", 30) == 0 && strlen(v[5]) <= 230;
    for (const char *p = v[5]; url_ok && *p; p++)
        url_ok = *p > ' ' && *p <= '~';
    struct ofs_row *o = PUSH(r->ofsr, r->nofs, r->ofs_cap);
    o->line = line;
    snprintf(o->code, sizeof o->code, "%s", v[0]);
    o->name = xstrdup(v[1]);
    if (!geoimport_name_key(o->name, strlen(o->name), o->key, sizeof o->key))
        o->key[0] = '\0';
    o->judgement = v[2][0] ? xstrdup(v[2]) : NULL;
    memcpy(o->inspected, inspected, sizeof inspected);
    memcpy(o->published, published, sizeof published);
    o->url = url_ok ? xstrdup(v[5]) : NULL;
}

/* ---- commissioners: matching (pure) ---- */

static struct comm *comm_by_code(struct crun *r, const char *code)
{
    for (size_t i = 0; i < r->ncomm; i++)
        if (strcmp(r->comm[i].la->code, code) == 0)
            return &r->comm[i];
    return NULL;
}

static const struct alias *alias_find(const struct crun *r, const char *kind, const char *alias)
{
    for (size_t i = 0; i < r->nalias; i++)
        if (strcmp(r->alias[i].kind, kind) == 0 && strcmp(r->alias[i].alias, alias) == 0)
            return &r->alias[i];
    return NULL;
}

/* The commissioner a code means: its own, or one of its predecessor codes. */
static struct comm *comm_resolve_code(struct crun *r, const char *code)
{
    struct comm *c = comm_by_code(r, code);
    if (c)
        return c;
    const struct alias *a = alias_find(r, "code", code);
    return a ? comm_by_code(r, a->code) : NULL;
}

/* The commissioner (with a centroid) a name means, by key or through the alias table. */
static struct comm *comm_resolve_name(struct crun *r, const char *key)
{
    if (!key[0])
        return NULL;
    for (size_t i = 0; i < r->ncomm; i++)
        if (r->comm[i].ons && strcmp(r->comm[i].ons->key, key) == 0)
            return &r->comm[i];
    const char *code = geoimport_name_alias(key);
    return code ? comm_by_code(r, code) : NULL;
}

static enum name_match name_agrees(const char *name, const char *key, const struct comm *c,
                                   const char *ons_name, const char *ons_key)
{
    if (strcmp(name, ons_name) == 0)
        return NM_EXACT;
    if (key[0] && strcmp(key, ons_key) == 0)
        return NM_KEY;
    const char *code = key[0] ? geoimport_name_alias(key) : NULL;
    return code && strcmp(code, c->la->code) == 0 ? NM_ALIAS : NM_NONE;
}

static void note_name(struct crun *r, enum name_match m, const char *file, const char *name,
                      const struct comm *c)
{
    if (m == NM_KEY || m == NM_ALIAS)
        msg_add(&r->notes, xprintf("name \"%s\" (%s) is \"%s\" (%s) %s", name, file,
                                   c->ons->name, c->la->code,
                                   m == NM_KEY ? "once normalised" : "through the alias table"));
}

static void add_alias(struct crun *r, const char *kind, const char *alias, const char *code,
                      char *source)
{
    const struct alias *had = alias_find(r, kind, alias);
    if (had) {
        if (strcmp(had->code, code) != 0)
            msg_add(&r->unmatched, xprintf("%s alias \"%s\" would mean both %s and %s; not kept",
                                           kind, alias, had->code, code));
        free(source);
        return;
    }
    struct alias *a = PUSH(r->alias, r->nalias, r->alias_cap);
    a->kind = kind;
    a->alias = xstrdup(alias);
    snprintf(a->code, sizeof a->code, "%s", code);
    a->source = source;
    if (strcmp(kind, "code") == 0)
        r->ncode_alias++;
    else
        r->nname_alias++;
}

/* A name spelt differently from the ONS name becomes a name alias, unless another commissioner
 * already answers to it. */
static void add_name_alias(struct crun *r, const struct comm *c, const char *key,
                           const char *source_file, const char *name)
{
    if (!key[0] || strcmp(key, c->ons->key) == 0)
        return;
    for (size_t i = 0; i < r->ncomm; i++)
        if (r->comm[i].ons && strcmp(r->comm[i].ons->key, key) == 0) {
            msg_add(&r->unmatched, xprintf("name \"%s\" (%s) for %s is the name of %s; not kept",
                                           name, source_file, c->la->code, r->comm[i].la->code));
            return;
        }
    add_alias(r, "name", key, c->la->code, xprintf("%s: \"%s\"", source_file, name));
}

/*
 * Joins the rows read: live DfE LAs are the commissioners; predecessor codes come from
 * terminated DfE rows with the same LA number and name; each ONS area and each Ofsted row is
 * joined by code (through a predecessor code), then its name must agree; an Ofsted row whose code
 * is unknown is joined by name alone (and said so). Everything left over is reported.
 */
static void comm_match(struct crun *r)
{
    size_t nlive = 0;
    for (size_t i = 0; i < r->ndfe; i++)
        nlive += r->dfe[i].live;
    r->comm = xcalloc(nlive ? nlive : 1, sizeof *r->comm);
    for (size_t i = 0; i < r->ndfe; i++) {
        if (!r->dfe[i].live)
            continue;
        struct comm *c = &r->comm[r->ncomm++];
        c->la = &r->dfe[i];
        for (size_t g = 0; g < r->nreg; g++)
            if (strcmp(r->reg[g].code, c->la->region) == 0)
                c->region = &r->reg[g];
    }

    /* Predecessor codes. */
    for (size_t i = 0; i < r->ndfe; i++) {
        const struct dfe_row *old = &r->dfe[i];
        if (old->live)
            continue;
        for (size_t k = 0; k < r->ncomm; k++) {
            const struct dfe_row *now = r->comm[k].la;
            if (now->la_number != old->la_number || strcmp(now->key, old->key) != 0)
                continue;
            add_alias(r, "code", old->code, now->code,
                      xprintf("%s line %lu: %s %s terminated %s; %s has its LA number %d",
                              r->las.label, old->line, old->code, old->name, old->terminated,
                              now->code, now->la_number));
        }
    }

    /* Centroids. */
    for (size_t i = 0; i < r->nons; i++) {
        struct ons_row *o = &r->onsr[i];
        struct comm *c = comm_resolve_code(r, o->code);
        if (!c) {
            ingest_reject(&r->rej, o->line,
                          xprintf("%s %s: no live local authority in %s has this code or a "
                                  "predecessor of it",
                                  o->code, o->name, r->las.label));
            continue;
        }
        if (c->ons) {
            ingest_reject(&r->rej, o->line,
                          xprintf("%s %s: %s already has its centroid from line %lu", o->code,
                                  o->name, c->la->code, c->ons->line));
            continue;
        }
        enum name_match m = name_agrees(c->la->name, c->la->key, c, o->name, o->key);
        if (m == NM_NONE) {
            ingest_reject(&r->rej, o->line,
                          xprintf("%s %s: %s calls %s \"%s\"; the names do not agree", o->code,
                                  o->name, r->las.label, c->la->code, c->la->name));
            continue;
        }
        if (!c->region) {
            ingest_reject(&r->rej, o->line,
                          xprintf("%s %s: region %s of %s line %lu is not in %s", o->code, o->name,
                                  c->la->region, r->las.label, c->la->line, r->regions.label));
            continue;
        }
        c->ons = o;
        note_name(r, m, r->las.label, c->la->name, c);
        if (strcmp(o->code, c->la->code) != 0)
            msg_add(&r->notes, xprintf("code %s (%s) is %s %s, its successor", o->code,
                                       r->ons.label, c->la->code, c->la->name));
    }
    for (size_t k = 0; k < r->ncomm; k++)
        if (!r->comm[k].ons)
            msg_add(&r->unmatched,
                    xprintf("%s line %lu: %s %s: no centroid in %s, so not loaded", r->las.label,
                            r->comm[k].la->line, r->comm[k].la->code, r->comm[k].la->name,
                            r->ons.label));

    /* Ofsted judgements. */
    for (size_t i = 0; i < r->nofs; i++) {
        const struct ofs_row *o = &r->ofsr[i];
        struct comm *c = comm_resolve_code(r, o->code);
        enum name_match m = NM_NONE;
        if (c && c->ons)
            m = name_agrees(o->name, o->key, c, c->ons->name, c->ons->key);
        if (c && c->ons && m == NM_NONE) {
            msg_add(&r->unmatched,
                    xprintf("%s line %lu: %s \"%s\": that code is \"%s\"; the names do not agree",
                            r->ofs.label, o->line, o->code, o->name, c->ons->name));
            continue;
        }
        if (!c || !c->ons) {
            c = comm_resolve_name(r, o->key);
            if (!c) {
                msg_add(&r->unmatched,
                        xprintf("%s line %lu: %s \"%s\": no commissioner has this code or name",
                                r->ofs.label, o->line, o->code, o->name));
                continue;
            }
            msg_add(&r->notes, xprintf("%s line %lu: unknown code %s; joined to %s by its name "
                                       "\"%s\"",
                                       r->ofs.label, o->line, o->code, c->la->code, o->name));
            m = name_agrees(o->name, o->key, c, c->ons->name, c->ons->key);
        } else if (strcmp(o->code, c->la->code) != 0) {
            msg_add(&r->notes, xprintf("code %s (%s) is %s %s, its successor", o->code,
                                       r->ofs.label, c->la->code, c->la->name));
        }
        if (c->ofs) {
            msg_add(&r->unmatched, xprintf("%s line %lu: %s \"%s\": %s already has line %lu",
                                           r->ofs.label, o->line, o->code, o->name, c->la->code,
                                           c->ofs->line));
            continue;
        }
        c->ofs = o;
        note_name(r, m, r->ofs.label, o->name, c);
    }

    /* Aliases of names, and the count. */
    for (size_t k = 0; k < r->ncomm; k++) {
        const struct comm *c = &r->comm[k];
        if (!c->ons)
            continue;
        r->loaded++;
        add_name_alias(r, c, c->la->key, r->las.label, c->la->name);
        if (c->ofs) {
            add_name_alias(r, c, c->ofs->key, r->ofs.label, c->ofs->name);
            r->matched++;
        } else {
            msg_add(&r->unmatched,
                    xprintf("%s %s: no judgement in %s (loaded without one)", c->la->code,
                            c->ons->name, r->ofs.label));
        }
    }
    for (size_t i = 0; i < NNAME_ALIASES; i++) {
        const struct comm *c = comm_by_code(r, name_aliases[i].code);
        if (!c || !c->ons) {
            msg_add(&r->unmatched, xprintf("alias table: \"%s\" names %s, which is not loaded",
                                           name_aliases[i].key, name_aliases[i].code));
            continue;
        }
        add_name_alias(r, c, name_aliases[i].key, "alias table in daemon/geoimport.c",
                       name_aliases[i].key);
    }
}

static void crun_free(struct crun *r)
{
    struct src *srcs[] = {&r->ons, &r->las, &r->regions, &r->ofs};
    for (size_t i = 0; i < 4; i++) {
        free(srcs[i]->path);
        free(srcs[i]->data);
    }
    for (size_t i = 0; i < r->nons; i++) {
        free(r->onsr[i].name);
        free(r->onsr[i].lat);
        free(r->onsr[i].lon);
    }
    free(r->onsr);
    for (size_t i = 0; i < r->ndfe; i++) {
        free(r->dfe[i].name);
        free(r->dfe[i].terminated);
    }
    free(r->dfe);
    for (size_t i = 0; i < r->nreg; i++)
        free(r->reg[i].name);
    free(r->reg);
    for (size_t i = 0; i < r->nofs; i++) {
        free(r->ofsr[i].name);
        free(r->ofsr[i].judgement);
        free(r->ofsr[i].url);
    }
    free(r->ofsr);
    free(r->comm);
    for (size_t i = 0; i < r->nalias; i++) {
        free(r->alias[i].alias);
        free(r->alias[i].source);
    }
    free(r->alias);
    msgs_free(&r->dfe_skipped);
    msgs_free(&r->unmatched);
    msgs_free(&r->notes);
    ingest_rejects_free(&r->rej);
}

/* ---- the database ---- */

/*
 * The staging tables every import shares: the files read, the rejected rows and the unmatched
 * names, and the reference_import row built from them. `counts_sql` is a query giving
 * (inserted, updated, unchanged, absent) from the kind's own staging table.
 */
static WUR bool stage_common(PGconn *pg, const struct src *const *srcs, size_t nsrcs,
                             const struct ingest_rejects *rej, const struct msgs *unmatched)
{
    struct ingest_buf b = {0};
    bool ok = false;
    if (!ingest_exec(
            pg,
            "CREATE TEMP TABLE geo_file (ord integer, file text, sha256 text, bytes bigint)"
            " ON COMMIT DROP;"
            "CREATE TEMP TABLE geo_reject (line bigint, reason text) ON COMMIT DROP;"
            "CREATE TEMP TABLE geo_unmatched (ord integer, what text) ON COMMIT DROP",
            "creating the staging tables"))
        goto fail;
    for (size_t i = 0; i < nsrcs; i++) {
        char ord[24], bytes[24];
        snprintf(ord, sizeof ord, "%zu", i);
        snprintf(bytes, sizeof bytes, "%zu", srcs[i]->len);
        ingest_copy_field(&b, ord, false);
        ingest_copy_field(&b, srcs[i]->rel, false);
        ingest_copy_field(&b, srcs[i]->sha256, false);
        ingest_copy_field(&b, bytes, true);
    }
    if (!ingest_copy(pg, "geo_file (ord, file, sha256, bytes)", &b))
        goto fail;
    b.len = 0;
    for (size_t i = 0; i < rej->n && i < GEO_STORE_REJECTS; i++) {
        char line[24];
        snprintf(line, sizeof line, "%lu", rej->v[i].line);
        ingest_copy_field(&b, line, false);
        ingest_copy_field(&b, rej->v[i].reason, true);
    }
    if (b.len && !ingest_copy(pg, "geo_reject (line, reason)", &b))
        goto fail;
    b.len = 0;
    for (size_t i = 0; i < unmatched->n; i++) {
        char ord[24];
        snprintf(ord, sizeof ord, "%zu", i);
        ingest_copy_field(&b, ord, false);
        ingest_copy_field(&b, unmatched->v[i], true);
    }
    if (b.len && !ingest_copy(pg, "geo_unmatched (ord, what)", &b))
        goto fail;
    ok = true;
fail:
    free(b.p);
    return ok;
}

/* What the database said about one import. */
struct outcome {
    char id[24];
    long long inserted, updated, unchanged, absent;
};

/*
 * Records the import in reference_import from the staging tables, with the counts that
 * `counts_sql` (one row: inserted, updated, unchanged, absent) gives.
 */
static WUR bool record_import(PGconn *pg, const char *kind, const char *source,
                              unsigned long rows_read, size_t rejected, const char *started_at,
                              const char *counts_sql, struct outcome *out)
{
    struct ingest_buf sql = {0};
    char rows[24], rej[24];
    snprintf(rows, sizeof rows, "%lu", rows_read);
    snprintf(rej, sizeof rej, "%zu", rejected);
    ingest_printf(
        &sql,
        "WITH counts AS (%s)"
        " INSERT INTO reference_import (kind, source, files, rows_read, inserted, updated,"
        "  unchanged, rejected, absent, rejects, unmatched, started_at)"
        " SELECT $1, $2,"
        "  (SELECT jsonb_agg(jsonb_build_object('file', file, 'sha256', sha256,"
        "          'bytes', bytes) ORDER BY ord) FROM geo_file),"
        "  $3::integer, inserted, updated, unchanged, $4::integer, absent,"
        "  COALESCE((SELECT jsonb_agg(jsonb_build_object('line', line, 'reason', reason)"
        "            ORDER BY line) FROM geo_reject), '[]'),"
        "  COALESCE((SELECT jsonb_agg(what ORDER BY ord) FROM geo_unmatched), '[]'),"
        "  $5::timestamptz FROM counts"
        " RETURNING id, inserted, updated, unchanged, absent",
        counts_sql);
    const char *p[] = {kind, source, rows, rej, started_at};
    PGresult *res = PQexecParams(pg, sql.p, 5, NULL, p, NULL, NULL, 0);
    bool ok = ingest_result_ok(pg, res, PGRES_TUPLES_OK, "recording the import");
    if (ok) {
        snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
        out->inserted = atoll(PQgetvalue(res, 0, 1));
        out->updated = atoll(PQgetvalue(res, 0, 2));
        out->unchanged = atoll(PQgetvalue(res, 0, 3));
        out->absent = atoll(PQgetvalue(res, 0, 4));
    }
    PQclear(res);
    free(sql.p);
    return ok;
}

/* Runs a query whose one row is two counts. */
static WUR bool query_counts(PGconn *pg, const char *sql, const char *what, long long *a,
                             long long *b)
{
    PGresult *res = PQexec(pg, sql);
    bool ok = ingest_result_ok(pg, res, PGRES_TUPLES_OK, what) && PQntuples(res) == 1;
    if (ok) {
        *a = atoll(PQgetvalue(res, 0, 0));
        *b = atoll(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return ok;
}

/* Finishes the import record, notifies "KIND:ID", commits. */
static WUR bool finish(PGconn *pg, const char *kind, const struct outcome *out)
{
    char payload[64];
    snprintf(payload, sizeof payload, "%s:%s", kind, out->id);
    return ingest_commit(pg,
                         "UPDATE reference_import SET finished_at = clock_timestamp()"
                         " WHERE id = $1",
                         out->id, GEO_NOTIFY_CHANNEL, payload);
}

/* ---- commissioners: loading ---- */

#define C_COLS                                                                                     \
    "code, name, name_key, region_code, la_number, lat, lon, ofsted_judgement,"                   \
    " ofsted_inspected, ofsted_published, ofsted_report_url"
#define C_FACTS(t)                                                                                 \
    "(" t ".name, " t ".name_key, " t ".region_code, " t ".la_number, " t ".lat, " t ".lon, " t  \
    ".ofsted_judgement, " t ".ofsted_inspected, " t ".ofsted_published, " t ".ofsted_report_url)"

struct c_outcome {
    struct outcome o;
    long long regions_changed, aliases_inserted, aliases_updated, aliases_removed;
};

static WUR bool comm_load(struct crun *r, const char *url, const char *started_at,
                          struct c_outcome *out)
{
    struct ingest_buf b = {0};
    bool ok = false, in_txn = false;
    PGconn *pg = ingest_connect(url);
    if (!pg)
        return false;
    in_txn = true;
    if (!ingest_begin(
            pg,
            "CREATE TEMP TABLE comm_stage ON COMMIT DROP AS SELECT " C_COLS
            " FROM commissioner WITH NO DATA;"
            "CREATE TEMP TABLE comm_alias_stage ON COMMIT DROP AS"
            " SELECT kind, alias, code, source FROM commissioner_alias WITH NO DATA;"
            "CREATE TEMP TABLE region_stage ON COMMIT DROP AS SELECT code, name FROM region"
            " WITH NO DATA",
            "the commissioner staging table"))
        goto fail;
    const struct src *srcs[] = {&r->ons, &r->las, &r->regions, &r->ofs};
    if (!stage_common(pg, srcs, 4, &r->rej, &r->unmatched))
        goto fail;
    for (size_t k = 0; k < r->ncomm; k++) {
        const struct comm *c = &r->comm[k];
        if (!c->ons)
            continue;
        char number[16];
        snprintf(number, sizeof number, "%d", c->la->la_number);
        ingest_copy_field(&b, c->la->code, false);
        ingest_copy_field(&b, c->ons->name, false);
        ingest_copy_field(&b, c->ons->key, false);
        ingest_copy_field(&b, c->region->code, false);
        ingest_copy_field(&b, number, false);
        ingest_copy_field(&b, c->ons->lat, false);
        ingest_copy_field(&b, c->ons->lon, false);
        ingest_copy_field(&b, c->ofs ? c->ofs->judgement : NULL, false);
        ingest_copy_field(&b, c->ofs && c->ofs->inspected[0] ? c->ofs->inspected : NULL, false);
        ingest_copy_field(&b, c->ofs && c->ofs->published[0] ? c->ofs->published : NULL, false);
        ingest_copy_field(&b, c->ofs ? c->ofs->url : NULL, true);
    }
    if (!ingest_copy(pg, "comm_stage (" C_COLS ")", &b) ||
        !ingest_exec(pg, "ALTER TABLE comm_stage ADD PRIMARY KEY (code)",
                     "index the staging table"))
        goto fail;
    b.len = 0;
    for (size_t i = 0; i < r->nalias; i++) {
        ingest_copy_field(&b, r->alias[i].kind, false);
        ingest_copy_field(&b, r->alias[i].alias, false);
        ingest_copy_field(&b, r->alias[i].code, false);
        ingest_copy_field(&b, r->alias[i].source, true);
    }
    if (b.len && !ingest_copy(pg, "comm_alias_stage (kind, alias, code, source)", &b))
        goto fail;
    b.len = 0;
    for (size_t i = 0; i < r->nreg; i++) {
        ingest_copy_field(&b, r->reg[i].code, false);
        ingest_copy_field(&b, r->reg[i].name, true);
    }
    if (b.len && !ingest_copy(pg, "region_stage (code, name)", &b))
        goto fail;

    if (!record_import(
            pg, "commissioners", r->dir, r->ons.records - r->ons_elsewhere, r->rej.n, started_at,
            "SELECT count(*) FILTER (WHERE t.code IS NULL) AS inserted,"
            "  count(*) FILTER (WHERE t.code IS NOT NULL AND " C_FACTS("t")
            "    IS DISTINCT FROM " C_FACTS("s") ") AS updated,"
            "  count(*) FILTER (WHERE t.code IS NOT NULL AND " C_FACTS("t")
            "    IS NOT DISTINCT FROM " C_FACTS("s") ") AS unchanged,"
            "  (SELECT count(*) FROM commissioner x"
            "    WHERE NOT EXISTS (SELECT 1 FROM comm_stage y WHERE y.code = x.code)) AS absent"
            " FROM comm_stage s LEFT JOIN commissioner t ON t.code = s.code",
            &out->o))
        goto fail;

    const char *p1[] = {out->o.id};
    long long n;
    if (!ingest_exec_params(
            pg,
            "INSERT INTO region AS t (code, name) SELECT code, name FROM region_stage"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"
            " WHERE t.name IS DISTINCT FROM EXCLUDED.name",
            0, NULL, "upserting the regions", &out->regions_changed) ||
        !ingest_exec_params(
            pg,
            "INSERT INTO commissioner AS t (" C_COLS ", import_id, imported_at,"
            " updated_at) SELECT " C_COLS ", $1::bigint, now(), now() FROM comm_stage"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
            " name_key = EXCLUDED.name_key, region_code = EXCLUDED.region_code,"
            " la_number = EXCLUDED.la_number, lat = EXCLUDED.lat, lon = EXCLUDED.lon,"
            " ofsted_judgement = EXCLUDED.ofsted_judgement,"
            " ofsted_inspected = EXCLUDED.ofsted_inspected,"
            " ofsted_published = EXCLUDED.ofsted_published,"
            " ofsted_report_url = EXCLUDED.ofsted_report_url,"
            " import_id = EXCLUDED.import_id, imported_at = EXCLUDED.imported_at,"
            " updated_at = CASE WHEN " C_FACTS("t") " IS NOT DISTINCT FROM "
            C_FACTS("EXCLUDED") " THEN t.updated_at ELSE EXCLUDED.updated_at END",
            1, p1, "upserting the commissioners", &n))
        goto fail;
    if ((size_t)n != r->loaded) {
        fprintf(stderr, "aqpd import: the upsert touched %lld commissioners, expected %zu\n", n,
                r->loaded);
        goto fail;
    }
    /* Aliases: those of the commissioners loaded are replaced by this run's. */
    if (!ingest_exec_params(
            pg,
            "DELETE FROM commissioner_alias t"
            " WHERE t.code IN (SELECT code FROM comm_stage) AND NOT EXISTS"
            " (SELECT 1 FROM comm_alias_stage s WHERE s.kind = t.kind"
            "  AND s.alias = t.alias)",
            0, NULL, "removing stale aliases", &out->aliases_removed) ||
        !query_counts(pg,
                      "WITH up AS (INSERT INTO commissioner_alias AS t (kind, alias, code, source)"
                      " SELECT kind, alias, code, source FROM comm_alias_stage"
                      " ON CONFLICT (kind, alias) DO UPDATE SET code = EXCLUDED.code,"
                      " source = EXCLUDED.source"
                      " WHERE (t.code, t.source) IS DISTINCT FROM (EXCLUDED.code, EXCLUDED.source)"
                      " RETURNING (xmax = 0) AS inserted)"
                      " SELECT count(*) FILTER (WHERE inserted),"
                      " count(*) FILTER (WHERE NOT inserted) FROM up",
                      "upserting the aliases", &out->aliases_inserted, &out->aliases_updated))
        goto fail;
    in_txn = false;
    ok = finish(pg, "commissioners", &out->o);
fail:
    ingest_close(pg, in_txn);
    free(b.p);
    return ok;
}

static const char *const ons_headers[] = {"CTYUA24CD", "CTYUA24NM", "LONG", "LAT"};
static const char *const las_headers[] = {"new_la_code",           "la_name",
                                          "status",                "parent_geography_code",
                                          "old_la_code",           "date_of_termination"};
static const char *const region_headers[] = {"region_code", "region_name"};
static const char *const ofs_headers[] = {"Local authority area code", "Local authority name",
                                          "Overall effectiveness",     "Inspection date",
                                          "Publication date",          "Web link"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void print_list(const char *title, const struct msgs *m)
{
    printf("%s: %zu\n", title, m->n);
    for (size_t i = 0; i < m->n; i++)
        printf("  %s\n", m->v[i]);
}

static void print_rejects(const struct ingest_rejects *rej, const char *where)
{
    printf("rejected: %zu%s%s%s\n", rej->n, where ? " (lines of " : "", where ? where : "",
           where ? ")" : "");
    for (size_t i = 0; i < rej->n && i < GEO_LIST_REJECTS; i++)
        printf("  line %lu: %s\n", rej->v[i].line, rej->v[i].reason);
    if (rej->n > GEO_LIST_REJECTS)
        printf("  ... and %zu more (all in reference_import.rejects, up to %d)\n",
               rej->n - GEO_LIST_REJECTS, GEO_STORE_REJECTS);
}

static int commissioners(const struct cfg *cf, const char *dir)
{
    struct crun r = {.dir = dir};
    struct c_outcome out = {0};
    int rc = 1;
    struct {
        struct src *s;
        const char *rel, *label;
        const char *const *headers;
        size_t n;
        row_fn fn;
        const char *hint;
    } files[] = {
        {&r.las, F_LAS, "DfE las.csv", las_headers, NELEM(las_headers), c_las_row,
         "DfE's list of local authorities (dfe-published-data-qa data/las.csv)"},
        {&r.regions, F_REGIONS, "DfE regions.csv", region_headers, NELEM(region_headers),
         c_region_row,
         "DfE's list of regions (dfe-published-data-qa data/regions.csv)"},
        {&r.ons, F_ONS, "ONS CTYUA Dec 2024", ons_headers, NELEM(ons_headers), c_ons_row,
         "the ONS Counties and Unitary Authorities (December 2024) attribute table"},
        {&r.ofs, F_OFSTED, "Ofsted LA outcomes", ofs_headers, NELEM(ofs_headers), c_ofs_row,
         "Ofsted's LA inspection outcomes as at 31 March 2025 (Inspections_as_at_31_March)"},
    };
    char started_at[40];
    util_rfc3339_now(started_at, sizeof started_at);
    uint64_t t0 = util_now_ns();
    for (size_t i = 0; i < NELEM(files); i++) {
        files[i].s->rel = files[i].rel;
        files[i].s->label = files[i].label;
        files[i].s->path = xprintf("%s/%s", dir, files[i].rel);
        if (!src_read(files[i].s) ||
            !src_rows(files[i].s, files[i].headers, files[i].n, files[i].hint, files[i].fn, c_bad,
                      &r))
            goto fail;
    }
    comm_match(&r);
    if (r.rej.n > 1) {
        struct ingest_reject *v = r.rej.v;
        for (size_t i = 1; i < r.rej.n; i++) /* insertion sort by line: a handful at most */
            for (size_t k = i; k > 0 && v[k - 1].line > v[k].line; k--) {
                struct ingest_reject t = v[k];
                v[k] = v[k - 1];
                v[k - 1] = t;
            }
    }
    fprintf(stderr,
            "aqpd import: commissioners: %zu live local authorities, %zu English areas with a "
            "centroid, %zu judgements; %zu matched, %zu unmatched\n",
            r.ncomm, r.nons, r.nofs, r.matched, r.unmatched.n);
    uint64_t t1 = util_now_ns();
    if (!comm_load(&r, cf->database_url, started_at, &out)) {
        fprintf(stderr, "aqpd import: commissioners from %s: nothing was imported\n", dir);
        goto fail;
    }
    uint64_t t2 = util_now_ns();

    printf("commissioners import %s from %s\n", out.o.id, dir);
    printf("sources:\n");
    printf("  %s (%s): %lu rows, %zu in England, %lu elsewhere; sha256 %s\n", r.ons.label,
           r.ons.rel, r.ons.records, r.nons, r.ons_elsewhere, r.ons.sha256);
    printf("  %s (%s): %lu rows, %zu live local authorities, %zu predecessor codes, %zu other "
           "live rows skipped (not one authority); sha256 %s\n",
           r.las.label, r.las.rel, r.las.records, r.ncomm, r.ncode_alias, r.dfe_skipped.n,
           r.las.sha256);
    printf("  %s (%s): %lu rows, %zu English regions; sha256 %s\n", r.regions.label,
           r.regions.rel, r.regions.records, r.nreg, r.regions.sha256);
    printf("  %s (%s): %lu rows; sha256 %s\n", r.ofs.label, r.ofs.rel, r.ofs.records,
           r.ofs.sha256);
    printf("matched: %zu (ONS centroid, DfE region and LA number, Ofsted judgement)\n", r.matched);
    for (size_t i = 0; i < r.notes.n; i++)
        printf("  %s\n", r.notes.v[i]);
    print_list("unmatched", &r.unmatched);
    printf("rows: %lu (English areas in %s)\n", r.ons.records - r.ons_elsewhere, r.ons.label);
    printf("inserted: %lld\n", out.o.inserted);
    printf("updated: %lld\n", out.o.updated);
    printf("unchanged: %lld\n", out.o.unchanged);
    print_rejects(&r.rej, r.ons.label);
    printf("absent: %lld (in the table but not in these files; kept)\n", out.o.absent);
    printf("aliases: %zu codes, %zu names (%lld inserted, %lld updated, %lld removed)\n",
           r.ncode_alias, r.nname_alias, out.aliases_inserted, out.aliases_updated,
           out.aliases_removed);
    printf("regions: %zu (%lld changed)\n", r.nreg, out.regions_changed);
    printf("time: %.0f ms (read and match %.0f ms, database %.0f ms)\n", (t2 - t0) / 1e6,
           (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    rc = 0;
fail:
    crun_free(&r);
    return rc;
}

/* ---- postcode districts ---- */

static const char *const pc_headers[] = {
    "Postcode",  "Latitude",         "Longitude",  "Town/Area",  "Region",    "Post Town",
    "UK region", "Postcodes",        "Active postcodes",         "Population", "Households",
};
enum pc_col {
    P_OUTCODE,
    P_LAT,
    P_LON,
    P_TOWN,
    P_DISTRICT,
    P_POST_TOWN,
    P_UK_REGION,
    P_POSTCODES,
    P_ACTIVE,
    P_POPULATION,
    P_HOUSEHOLDS,
    NPC
};
/* The staging columns, in enum pc_col order. */
#define P_COLS                                                                                     \
    "outcode, lat, lon, town, district, post_town, uk_region, postcodes, active_postcodes,"       \
    " population, households"
#define P_FACTS(t)                                                                                 \
    "(" t ".lat, " t ".lon, " t ".town, " t ".district, " t ".post_town, " t ".uk_region, " t     \
    ".region_code, " t ".postcodes, " t ".active_postcodes, " t ".population, " t ".households)"

struct prow {
    unsigned long line;
    char *v[NPC]; /* owned; NULL is SQL NULL */
};

struct prun {
    struct src src;
    struct prow *rows;
    size_t nrows, rows_cap;
    struct ingest_rejects rej;
};

static void p_bad(void *ctx, const struct src *s, unsigned long line, char *reason)
{
    (void)s;
    ingest_reject(&((struct prun *)ctx)->rej, line, reason);
}

static void p_row(void *ctx, const struct src *s, unsigned long line, char *const *v)
{
    struct prun *r = ctx;
    char out[5];
    double d;
    uint64_t count[4] = {0};
    bool has_count[4] = {false};
    if (!geoimport_outcode(v[P_OUTCODE], strlen(v[P_OUTCODE]), out) ||
        strlen(out) != strlen(v[P_OUTCODE])) {
        p_bad(r, s, line, xprintf("Postcode: \"%.20s\" is not an outward code", v[P_OUTCODE]));
        return;
    }
    if (!v[P_LAT][0] && !v[P_LON][0]) {
        p_bad(r, s, line,
              xprintf("%s: no coordinates (a non-geographic district%s%s)", out,
                      v[P_TOWN][0] ? ": " : "", v[P_TOWN]));
        return;
    }
    if (!geoimport_decimal(v[P_LAT], strlen(v[P_LAT]), UK_LAT_MIN, UK_LAT_MAX, &d) ||
        !geoimport_decimal(v[P_LON], strlen(v[P_LON]), UK_LON_MIN, UK_LON_MAX, &d)) {
        p_bad(r, s, line,
              xprintf("Latitude/Longitude: \"%.20s\", \"%.20s\" is not a point in the UK, the "
                      "Channel Islands or Man",
                      v[P_LAT], v[P_LON]));
        return;
    }
    if (v[P_UK_REGION][0] && !ingest_in_list(v[P_UK_REGION], uk_regions)) {
        p_bad(r, s, line, xprintf("UK region: \"%.40s\" is not a nation or English region",
                                  v[P_UK_REGION]));
        return;
    }
    for (int c = P_DISTRICT; c <= P_POST_TOWN; c++)
        if (strlen(v[c]) > GEO_MAX_NAME) {
            p_bad(r, s, line, xprintf("%s: longer than %d bytes", pc_headers[c], GEO_MAX_NAME));
            return;
        }
    for (int c = P_POSTCODES; c <= P_HOUSEHOLDS; c++) {
        has_count[c - P_POSTCODES] = v[c][0] != '\0';
        if (v[c][0] && !util_parse_u64(v[c], 0, GEO_MAX_COUNT, &count[c - P_POSTCODES])) {
            p_bad(r, s, line, xprintf("%s: \"%.20s\" is not a whole number from 0 to %d",
                                      pc_headers[c], v[c], GEO_MAX_COUNT));
            return;
        }
    }
    if (has_count[0] && has_count[1] && count[1] > count[0]) {
        p_bad(r, s, line, xprintf("Active postcodes: more than Postcodes"));
        return;
    }
    struct prow *p = PUSH(r->rows, r->nrows, r->rows_cap);
    p->line = line;
    p->v[P_OUTCODE] = xstrdup(out);
    for (int c = P_LAT; c < NPC; c++)
        p->v[c] = v[c][0] ? xstrdup(v[c]) : NULL;
}

static int cmp_prow_ptr(const void *a, const void *b)
{
    const struct prow *x = *(const struct prow *const *)a, *y = *(const struct prow *const *)b;
    int c = strcmp(x->v[P_OUTCODE], y->v[P_OUTCODE]);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static void prow_free(struct prow *p)
{
    for (int c = 0; c < NPC; c++)
        free(p->v[c]);
}

/* Rejects every row whose outward code an earlier line already had, keeping the file's order. */
static void p_drop_duplicates(struct prun *r)
{
    if (r->nrows < 2)
        return;
    struct prow **by = xmalloc(r->nrows * sizeof *by);
    for (size_t i = 0; i < r->nrows; i++)
        by[i] = &r->rows[i];
    qsort(by, r->nrows, sizeof *by, cmp_prow_ptr);
    for (size_t i = 1, first = 0; i < r->nrows; i++) {
        if (strcmp(by[i]->v[P_OUTCODE], by[first]->v[P_OUTCODE]) != 0) {
            first = i;
            continue;
        }
        ingest_reject(&r->rej, by[i]->line,
                      xprintf("Postcode: %s is already on line %lu", by[i]->v[P_OUTCODE],
                              by[first]->line));
        by[i]->line = 0; /* after the message: `first` keeps its line */
    }
    free(by);
    size_t k = 0;
    for (size_t i = 0; i < r->nrows; i++) {
        if (r->rows[i].line == 0)
            prow_free(&r->rows[i]);
        else
            r->rows[k++] = r->rows[i];
    }
    r->nrows = k;
}

static WUR bool pc_load(struct prun *r, const char *url, const char *source,
                        const char *started_at, struct outcome *out)
{
    struct ingest_buf b = {0};
    bool ok = false, in_txn = true;
    PGconn *pg = ingest_connect(url);
    if (!pg)
        return false;
    if (!ingest_begin(
            pg,
            "CREATE TEMP TABLE pc_stage ON COMMIT DROP AS SELECT " P_COLS ", region_code"
            " FROM postcode_district WITH NO DATA",
            "the postcode district staging table"))
        goto fail;
    const struct src *srcs[] = {&r->src};
    struct msgs none = {0};
    if (!stage_common(pg, srcs, 1, &r->rej, &none))
        goto fail;
    for (size_t i = 0; i < r->nrows; i++)
        for (int c = 0; c < NPC; c++)
            ingest_copy_field(&b, r->rows[i].v[c], c == NPC - 1);
    fprintf(stderr, "aqpd import: postcodes: sending %zu rows to the database\n", r->nrows);
    if (!ingest_copy(pg, "pc_stage (" P_COLS ")", &b) ||
        !ingest_exec(pg, "ALTER TABLE pc_stage ADD PRIMARY KEY (outcode)",
                     "index the staging table") ||
        !ingest_exec(pg, "UPDATE pc_stage s SET region_code = g.code FROM region g"
                         " WHERE g.name = s.uk_region", "naming the regions"))
        goto fail;
    if (!record_import(
            pg, "postcodes", source, r->src.records, r->rej.n, started_at,
            "SELECT count(*) FILTER (WHERE t.outcode IS NULL) AS inserted,"
            "  count(*) FILTER (WHERE t.outcode IS NOT NULL AND " P_FACTS("t")
            "    IS DISTINCT FROM " P_FACTS("s") ") AS updated,"
            "  count(*) FILTER (WHERE t.outcode IS NOT NULL AND " P_FACTS("t")
            "    IS NOT DISTINCT FROM " P_FACTS("s") ") AS unchanged,"
            "  (SELECT count(*) FROM postcode_district x"
            "    WHERE NOT EXISTS (SELECT 1 FROM pc_stage y WHERE y.outcode = x.outcode)) AS absent"
            " FROM pc_stage s LEFT JOIN postcode_district t ON t.outcode = s.outcode",
            out))
        goto fail;
    const char *p1[] = {out->id};
    long long n;
    if (!ingest_exec_params(
            pg,
            "INSERT INTO postcode_district AS t (" P_COLS ", region_code, import_id,"
            " imported_at, updated_at) SELECT " P_COLS ", region_code, $1::bigint,"
            " now(), now() FROM pc_stage"
            " ON CONFLICT (outcode) DO UPDATE SET lat = EXCLUDED.lat,"
            " lon = EXCLUDED.lon, town = EXCLUDED.town, district = EXCLUDED.district,"
            " post_town = EXCLUDED.post_town, uk_region = EXCLUDED.uk_region,"
            " region_code = EXCLUDED.region_code, postcodes = EXCLUDED.postcodes,"
            " active_postcodes = EXCLUDED.active_postcodes,"
            " population = EXCLUDED.population, households = EXCLUDED.households,"
            " import_id = EXCLUDED.import_id, imported_at = EXCLUDED.imported_at,"
            " updated_at = CASE WHEN " P_FACTS("t") " IS NOT DISTINCT FROM "
            P_FACTS("EXCLUDED") " THEN t.updated_at ELSE EXCLUDED.updated_at END",
            1, p1, "upserting the postcode districts", &n))
        goto fail;
    if ((size_t)n != r->nrows) {
        fprintf(stderr, "aqpd import: the upsert touched %lld districts, expected %zu\n", n,
                r->nrows);
        goto fail;
    }
    in_txn = false;
    ok = finish(pg, "postcodes", out);
fail:
    ingest_close(pg, in_txn);
    free(b.p);
    return ok;
}

static int postcodes(const struct cfg *cf, const char *path)
{
    struct prun r = {0};
    struct outcome out = {0};
    int rc = 1;
    const char *slash = strrchr(path, '/');
    r.src.rel = r.src.label = slash && slash[1] ? slash + 1 : path;
    r.src.path = xstrdup(path);
    char started_at[40];
    util_rfc3339_now(started_at, sizeof started_at);
    uint64_t t0 = util_now_ns();
    if (!src_read(&r.src) ||
        !src_rows(&r.src, pc_headers, NPC,
                  "a postcode districts file (data/postcodes/postcode_districts.csv)", p_row,
                  p_bad, &r))
        goto fail;
    p_drop_duplicates(&r);
    ingest_rejects_sort(&r.rej);
    fprintf(stderr, "aqpd import: postcodes: %lu rows read, %zu valid, %zu rejected\n",
            r.src.records, r.nrows, r.rej.n);
    uint64_t t1 = util_now_ns();
    if (!pc_load(&r, cf->database_url, path, started_at, &out)) {
        fprintf(stderr, "aqpd import: %s: nothing was imported\n", path);
        goto fail;
    }
    uint64_t t2 = util_now_ns();
    printf("postcodes import %s of %s (sha256 %s)\n", out.id, path, r.src.sha256);
    printf("rows: %lu\n", r.src.records);
    printf("inserted: %lld\n", out.inserted);
    printf("updated: %lld\n", out.updated);
    printf("unchanged: %lld\n", out.unchanged);
    print_rejects(&r.rej, NULL);
    printf("absent: %lld (in the table but not in this file; kept)\n", out.absent);
    printf("time: %.0f ms (read and validate %.0f ms, database %.0f ms)\n", (t2 - t0) / 1e6,
           (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    rc = 0;
fail:
    for (size_t i = 0; i < r.nrows; i++)
        prow_free(&r.rows[i]);
    free(r.rows);
    ingest_rejects_free(&r.rej);
    free(r.src.path);
    free(r.src.data);
    return rc;
}

/* ---- the command ---- */

bool geoimport_handles(const char *kind)
{
    return strcmp(kind, "commissioners") == 0 || strcmp(kind, "postcodes") == 0;
}

int geoimport_main(const struct cfg *c, const char *kind, const char *path)
{
    if (strcmp(kind, "commissioners") == 0)
        return commissioners(c, path ? path : AQPD_DEFAULT_DATA_DIR);
    if (strcmp(kind, "postcodes") == 0)
        return postcodes(c, path ? path : AQPD_DEFAULT_DATA_DIR "/" F_POSTCODES);
    fprintf(stderr, "aqpd import: unknown register \"%s\" (known: ofsted, commissioners, "
                    "postcodes)\n",
            kind);
    return 2;
}
