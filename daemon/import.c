/*
 * import: reference registers into the database (today Ofsted's). See import.h.
 *
 * One run: read the whole file (and its sha256), map the header's columns by name, validate and
 * normalise each record into the values ofsted_setting stores (or a rejection with its line
 * and reason), drop later duplicates of a URN, then in one transaction: COPY the valid rows
 * into a temporary staging table, count inserted / updated / unchanged / absent against the
 * register by URN and row hash, record the run in ofsted_import, upsert the register from the
 * staging table, and NOTIFY aqpd_ofsted_import with the run's id so a running daemon can
 * re-check qualifications against the new facts.
 */
#include "daemon/import.h"
#include "daemon/cfg.h"
#include "daemon/csv.h"
#include "daemon/util.h"

#include <errno.h>
#include <stdarg.h>
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
/* pg_advisory_xact_lock key: two imports never interleave (migrate 7243519001, audit ...002). */
#define IMPORT_LOCK_KEY "7243519003"
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

struct reject {
    unsigned long line;
    char *reason; /* owned */
};

/* A growable byte string. */
struct sbuf {
    char *p;
    size_t len, cap;
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
    struct reject *rej;
    size_t nrej, rej_cap;
};

/* What the database said. */
struct outcome {
    long long import_id, inserted, updated, unchanged, absent;
};

/* ---- small helpers ---- */

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    sb_put(b, "", 0); /* allocate */
    while (b->len + (size_t)n + 1 > b->cap)
        b->p = xrealloc(b->p, b->cap *= 2);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, no NUL. */
static bool utf8_valid(const char *s, size_t n)
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

/* The value for a rejection reason: quoted, control characters as '?', cut at a character
 * boundary after IMPORT_QUOTE_BYTES. Only called on valid UTF-8. */
static void quote(struct sbuf *b, const char *s, size_t n)
{
    sb_puts(b, "\"");
    size_t i = 0;
    for (; i < n && i < IMPORT_QUOTE_BYTES; i++)
        sb_put(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? "?" : &s[i], 1);
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) /* finish the character */
        sb_put(b, &s[i++], 1);
    sb_puts(b, i < n ? "...\"" : "\"");
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
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

/* Digits at s[0..n) as a number; false if any is not a digit. */
static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool valid_ymd(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

/* "HH:MM" or "HH:MM:SS" or "HH:MM:SS.fff…", each part in range. */
static bool valid_time(const char *s, size_t n)
{
    int h, mi, sec = 0;
    if (n < 5 || !digits(s, 2, &h) || s[2] != ':' || !digits(s + 3, 2, &mi) || h > 23 || mi > 59)
        return false;
    if (n == 5)
        return true;
    if (n < 8 || s[5] != ':' || !digits(s + 6, 2, &sec) || sec > 59)
        return false;
    if (n == 8)
        return true;
    int frac;
    return s[8] == '.' && n > 9 && n <= 15 && digits(s + 9, n - 9, &frac);
}

/* ISO 8601 date (with an optional time, which is dropped) or DD/MM/YYYY into "YYYY-MM-DD". */
static WUR bool parse_date(const char *s, size_t n, char out[11])
{
    int y, m, d;
    if (n >= 10 && s[4] == '-' && s[7] == '-') {
        if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
            return false;
        if (n > 10 && ((s[10] != 'T' && s[10] != ' ') || !valid_time(s + 11, n - 11)))
            return false;
    } else {
        const char *s1 = memchr(s, '/', n);
        const char *s2 = s1 ? memchr(s1 + 1, '/', n - (size_t)(s1 + 1 - s)) : NULL;
        if (!s2 || s1 - s < 1 || s1 - s > 2 || s2 - s1 - 1 < 1 || s2 - s1 - 1 > 2 ||
            s + n - s2 - 1 != 4 || !digits(s, (size_t)(s1 - s), &d) ||
            !digits(s1 + 1, (size_t)(s2 - s1 - 1), &m) || !digits(s2 + 1, 4, &y))
            return false;
    }
    if (!valid_ymd(y, m, d))
        return false;
    /* valid_ymd bounds every part, so this fills exactly 10 characters. */
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
    return (n == 6 || n == 7) && digits(s, n, &v);
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
    FILE *f = fopen(r->path, "rb");
    if (!f) {
        fprintf(stderr, "aqpd import: cannot open %s: %s\n", r->path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 16;
    r->data = xmalloc(cap);
    r->len = 0;
    size_t n;
    while ((n = fread(r->data + r->len, 1, cap - r->len, f)) > 0) {
        r->len += n;
        if (r->len > IMPORT_MAX_FILE_BYTES)
            break;
        if (r->len == cap)
            r->data = xrealloc(r->data, cap *= 2);
    }
    bool bad = ferror(f);
    int err = errno;
    fclose(f);
    if (bad) {
        fprintf(stderr, "aqpd import: cannot read %s: %s\n", r->path, strerror(err));
        return false;
    }
    if (r->len > IMPORT_MAX_FILE_BYTES) {
        fprintf(stderr, "aqpd import: %s is larger than %lu bytes; refusing it\n", r->path,
                IMPORT_MAX_FILE_BYTES);
        return false;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(r->data, r->len, md, &mdlen, EVP_sha256(), NULL);
    hex(md, 32, r->sha256_hex);
    return true;
}

static void reject(struct run *r, unsigned long line, const char *reason)
{
    if (r->nrej == r->rej_cap)
        r->rej = xrealloc(r->rej, (r->rej_cap = r->rej_cap ? r->rej_cap * 2 : 64) * sizeof *r->rej);
    r->rej[r->nrej].line = line;
    r->rej[r->nrej].reason = xstrdup(reason);
    r->nrej++;
}

/* Maps every column by header name; false (message printed) if any is missing or doubled. */
static WUR bool map_header(struct run *r, const struct csv_record *h)
{
    struct sbuf missing = {0};
    bool ok = true;
    r->header_fields = h->nfields;
    for (size_t c = 0; c < NCOLS; c++) {
        r->map[c] = -1;
        for (size_t i = 0; i < h->nfields; i++) {
            const char *f = h->field[i];
            size_t n = h->len[i];
            while (n && is_space(*f))
                f++, n--;
            while (n && is_space(f[n - 1]))
                n--;
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
            sb_puts(&missing, missing.len ? ", \"" : "\"");
            sb_puts(&missing, ocols[c].headers[0]);
            sb_puts(&missing, "\"");
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
                        struct sbuf *why)
{
    const char *err = NULL;
    char *v = NULL;
    *out = NULL;
    while (n && is_space(*s))
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    if (!utf8_valid(s, n)) {
        sb_printf(why, "%s: not valid UTF-8 text", oc->headers[0]);
        return false;
    }
    if (n == 0) {
        switch (oc->kind) {
        case V_URN:
        case V_TEXT:
        case V_DATE:
        case V_STATUS:
            sb_printf(why, "%s: empty, but required", oc->headers[0]);
            return false;
        case V_FLAG:
            *out = xstrdup("f");
            return true;
        default:
            return true;
        }
    }
    if (n > IMPORT_MAX_TEXT) {
        sb_printf(why, "%s: longer than %d bytes", oc->headers[0], IMPORT_MAX_TEXT);
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
        if (!in_list(v, statuses))
            err = "not a known registration status (Active, Suspended, Resigned, Cancelled)";
        break;
    case V_GRADE_OPT:
        if (!in_list(v, grades))
            err = "not an Ofsted grade (Outstanding, Good, Requires improvement to be good, "
                  "Inadequate)";
        break;
    case V_SA_OPT:
        if (!in_list(v, sa_outcomes))
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
        sb_printf(why, "%s: %s: ", oc->headers[0], err);
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
    struct sbuf why = {0};
    if (rec->nfields != r->header_fields) {
        sb_printf(&why, "%zu fields where the header has %zu", rec->nfields, r->header_fields);
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
        sb_puts(&why, "inspection judgements without a latest full inspection date");
        goto bad;
    }
    if (o.v[C_INSP_PUBLISHED] &&
        (!o.v[C_INSP_DATE] || strcmp(o.v[C_INSP_PUBLISHED], o.v[C_INSP_DATE]) < 0)) {
        sb_puts(&why, "inspection published before it took place, or without its date");
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

static int cmp_reject(const void *a, const void *b)
{
    const struct reject *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
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
    bool ok = false;
    csv_init(&rd, r->data, r->len);
    enum csv_status st = csv_next(&rd, &rec);
    if (st == CSV_EOF) {
        fprintf(stderr, "aqpd import: %s is empty: no header line\n", r->path);
        goto fail;
    }
    if (st == CSV_BAD) {
        fprintf(stderr, "aqpd import: %s: the header (line %lu) is not valid CSV: %s\n", r->path,
                rec.line, rec.error);
        goto fail;
    }
    if (!map_header(r, &rec))
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
                    r->nrej);
    }
    drop_duplicates(r);
    if (r->nrej > 1)
        qsort(r->rej, r->nrej, sizeof *r->rej, cmp_reject);
    fprintf(stderr, "aqpd import: ofsted: %lu rows read, %zu valid, %zu rejected\n", r->records,
            r->nrows, r->nrej);
    ok = true;
fail:
    csv_free(&rd);
    return ok;
}

/* ---- loading ---- */

/* One value in COPY text format: \N for NULL, backslash escapes for the rest. */
static void copy_value(struct sbuf *b, const char *v)
{
    if (!v) {
        sb_puts(b, "\\N");
        return;
    }
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\r': sb_puts(b, "\\r"); break;
        case '\t': sb_puts(b, "\\t"); break;
        default: sb_put(b, p, 1);
        }
    }
}

static void json_string(struct sbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            sb_put(b, "\\", 1);
            sb_put(b, (const char *)p, 1);
        } else if (*p < 0x20 || *p == 0x7F) {
            sb_printf(b, "\\u%04x", *p);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_puts(b, "\"");
}

static WUR bool ok_result(PGconn *pg, PGresult *res, ExecStatusType want, const char *what)
{
    if (PQresultStatus(res) == want)
        return true;
    fprintf(stderr, "aqpd import: %s: %s", what, PQerrorMessage(pg));
    return false;
}

static WUR bool exec_ok(PGconn *pg, const char *sql, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK || ok_result(pg, res, PGRES_COMMAND_OK, what);
    PQclear(res);
    return ok;
}

/* COPYs the valid rows into ofsted_stage, with progress. */
static WUR bool copy_rows(struct run *r, PGconn *pg, const char *cols)
{
    struct sbuf sql = {0}, b = {0};
    bool ok = false;
    sb_printf(&sql, "COPY ofsted_stage (%s, row_hash) FROM STDIN", cols);
    PGresult *res = PQexec(pg, sql.p);
    if (!ok_result(pg, res, PGRES_COPY_IN, "COPY into the staging table")) {
        PQclear(res);
        goto fail;
    }
    PQclear(res);
    for (size_t i = 0; i < r->nrows; i++) {
        for (size_t c = 0; c < NCOLS; c++) {
            copy_value(&b, r->rows[i].v[c]);
            sb_puts(&b, "\t");
        }
        char h[65];
        hex(r->rows[i].hash, 32, h);
        sb_printf(&b, "\\\\x%s\n", h);
        if ((i + 1) % IMPORT_PROGRESS_EVERY == 0 || i + 1 == r->nrows) {
            if (PQputCopyData(pg, b.p, (int)b.len) != 1) {
                fprintf(stderr, "aqpd import: COPY: %s", PQerrorMessage(pg));
                PQputCopyEnd(pg, "send failed");
                PQclear(PQgetResult(pg));
                goto fail;
            }
            b.len = 0;
            fprintf(stderr, "aqpd import: ofsted: %zu/%zu rows sent to the database\n", i + 1,
                    r->nrows);
        }
    }
    if (PQputCopyEnd(pg, NULL) != 1) {
        fprintf(stderr, "aqpd import: COPY: %s", PQerrorMessage(pg));
        goto fail;
    }
    res = PQgetResult(pg);
    ok = ok_result(pg, res, PGRES_COMMAND_OK, "COPY into the staging table");
    PQclear(res);
    while ((res = PQgetResult(pg)) != NULL)
        PQclear(res);
fail:
    free(sql.p);
    free(b.p);
    return ok;
}

/* Loads the valid rows and records the run, in one transaction. */
static WUR bool load(struct run *r, const char *url, const char *started_at, struct outcome *out)
{
    struct sbuf cols = {0}, set = {0}, sql = {0}, rejects = {0};
    PGresult *res = NULL;
    bool ok = false, in_txn = false;
    PGconn *pg = PQconnectdb(url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "aqpd import: cannot connect to the database: %s", PQerrorMessage(pg));
        goto fail;
    }
    if (PQsetClientEncoding(pg, "UTF8") != 0) {
        fprintf(stderr, "aqpd import: client encoding UTF8: %s", PQerrorMessage(pg));
        goto fail;
    }
    for (size_t c = 0; c < NCOLS; c++) {
        sb_printf(&cols, "%s%s", c ? ", " : "", ocols[c].column);
        sb_printf(&set, "%s = EXCLUDED.%s, ", ocols[c].column, ocols[c].column);
    }
    if (!exec_ok(pg, "SET client_min_messages = warning", "set") ||
        !exec_ok(pg, "BEGIN", "begin"))
        goto fail;
    in_txn = true;
    if (!exec_ok(pg, "SELECT pg_advisory_xact_lock(" IMPORT_LOCK_KEY ")", "lock"))
        goto fail;
    sb_printf(&sql,
              "CREATE TEMP TABLE ofsted_stage ON COMMIT DROP AS "
              "SELECT %s, row_hash FROM ofsted_setting WITH NO DATA",
              cols.p);
    res = PQexec(pg, sql.p);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "aqpd import: creating the staging table: %s(has `aqpd migrate` run?)\n",
                PQerrorMessage(pg));
        goto fail;
    }
    PQclear(res);
    res = NULL;
    if (!copy_rows(r, pg, cols.p) ||
        !exec_ok(pg, "ALTER TABLE ofsted_stage ADD PRIMARY KEY (urn)", "index the staging table"))
        goto fail;

    sb_puts(&rejects, "[");
    for (size_t i = 0; i < r->nrej && i < IMPORT_STORE_REJECTS; i++) {
        sb_printf(&rejects, "%s{\"line\": %lu, \"reason\": ", i ? ", " : "", r->rej[i].line);
        json_string(&rejects, r->rej[i].reason);
        sb_puts(&rejects, "}");
    }
    sb_puts(&rejects, "]");
    char rows_read[24], rejected[24];
    snprintf(rows_read, sizeof rows_read, "%lu", r->records);
    snprintf(rejected, sizeof rejected, "%zu", r->nrej);
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
    if (!ok_result(pg, res, PGRES_TUPLES_OK, "recording the import"))
        goto fail;
    out->import_id = atoll(PQgetvalue(res, 0, 0));
    out->inserted = atoll(PQgetvalue(res, 0, 1));
    out->updated = atoll(PQgetvalue(res, 0, 2));
    out->unchanged = atoll(PQgetvalue(res, 0, 3));
    out->absent = atoll(PQgetvalue(res, 0, 4));
    char id[24];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    sql.len = 0;
    sb_printf(&sql,
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
    res = PQexecParams(pg, sql.p, 2, NULL, p2, NULL, NULL, 0);
    if (!ok_result(pg, res, PGRES_COMMAND_OK, "upserting the register"))
        goto fail;
    if (strtoull(PQcmdTuples(res), NULL, 10) != r->nrows) {
        fprintf(stderr, "aqpd import: the upsert touched %s rows, expected %zu\n",
                PQcmdTuples(res), r->nrows);
        goto fail;
    }
    PQclear(res);
    const char *p3[] = {id};
    res = PQexecParams(pg,
                       "UPDATE ofsted_import SET finished_at = clock_timestamp() WHERE id = $1",
                       1, NULL, p3, NULL, NULL, 0);
    if (!ok_result(pg, res, PGRES_COMMAND_OK, "finishing the import record"))
        goto fail;
    PQclear(res);
    const char *p4[] = {IMPORT_NOTIFY_CHANNEL, id};
    res = PQexecParams(pg, "SELECT pg_notify($1, $2)", 2, NULL, p4, NULL, NULL, 0);
    if (!ok_result(pg, res, PGRES_TUPLES_OK, "notify"))
        goto fail;
    PQclear(res);
    res = NULL;
    in_txn = false;
    ok = exec_ok(pg, "COMMIT", "commit");
fail:
    PQclear(res);
    if (in_txn)
        PQclear(PQexec(pg, "ROLLBACK"));
    PQfinish(pg);
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
    for (size_t i = 0; i < r->nrej; i++)
        free(r->rej[i].reason);
    free(r->rej);
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
    printf("rejected: %zu\n", r.nrej);
    for (size_t i = 0; i < r.nrej && i < IMPORT_LIST_REJECTS; i++)
        printf("  line %lu: %s\n", r.rej[i].line, r.rej[i].reason);
    if (r.nrej > IMPORT_LIST_REJECTS)
        printf("  ... and %zu more (all in ofsted_import.rejects, up to %d)\n",
               r.nrej - IMPORT_LIST_REJECTS, IMPORT_STORE_REJECTS);
    printf("absent: %lld (in the register but not in this file; kept)\n", out.absent);
    printf("time: %.0f ms (read and validate %.0f ms, database %.0f ms)\n", (t2 - t0) / 1e6,
           (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    rc = 0;
fail:
    run_free(&r);
    return rc;
}
