/*
 * pubdoc: canonical JSON and the publication document. See pubdoc.h.
 */
#include "api/pubdoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "qualify/jv.h"

/*
 * Limits on one snapshot row. A row is one item (a site, an organisation, a council with its
 * offers...), never the whole directory: the document is assembled here from the rows. Items
 * nest at most 3 deep. The largest item the API can store is an organisation (name <= 300,
 * description <= 5,000 and website <= 500 characters, <= 10 identifiers): under 40 KB
 * of JSON with every character escaped, its longest string at most 20,000 bytes; the largest
 * row of the whole Ofsted register as a directory (tests/lib/bulk_ofsted.sql) is 648 bytes.
 * jv's default sizes (1 MiB a row, 64 KiB a string, 10,000 members, 200,000 values) hold all
 * of that with room to spare; nesting stays bounded at 32 as before jv. A row past a limit is
 * refused, naming it: publishing fails rather than sign what was not checked.
 */
#define PUBDOC_MAX_DEPTH 32
static const struct jv_limits row_limits = {
    .max_bytes = JV_DEFAULT_MAX_BYTES,
    .max_depth = PUBDOC_MAX_DEPTH,
    .max_string = JV_DEFAULT_MAX_STRING,
    .max_members = JV_DEFAULT_MAX_MEMBERS,
    .max_nodes = JV_DEFAULT_MAX_NODES,
};

static void buf_add(struct pubdoc_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_str(struct pubdoc_buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void emit_string(struct pubdoc_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    buf_add(b, "\"", 1);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = NULL;
        char u[7];
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\f': esc = "\\f"; break;
        case '\r': esc = "\\r"; break;
        default:
            if (*p < 0x20) {
                memcpy(u, "\\u00", 4);
                u[4] = hex[*p >> 4];
                u[5] = hex[*p & 15];
                u[6] = '\0';
                esc = u;
            }
        }
        if (esc) {
            buf_add(b, run, (size_t)((const char *)p - run));
            buf_str(b, esc);
            run = (const char *)p + 1;
        }
    }
    buf_add(b, run, strlen(run));
    buf_add(b, "\"", 1);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)? */
static bool number_ok(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

struct member {
    const char *key;
    const jv *val;
};

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

/* Appends v in the canonical form. Recursion is bounded: the parser refused anything nested
 * deeper than PUBDOC_MAX_DEPTH, and duplicate keys. Numbers are re-emitted from the text the
 * database wrote (JV_KEEP_NUMBER_TEXT). */
static bool emit(struct pubdoc_buf *b, const jv *v, char *err, size_t errlen)
{
    switch (jv_typeof(v)) {
    case JV_STRING:
        emit_string(b, jv_str(v, NULL));
        return true;
    case JV_INT:
    case JV_NUMBER: {
        const char *r = jv_number_text(v);
        if (!r || !number_ok(r)) {
            snprintf(err, errlen, "number \"%.40s\" is not in a canonical form", r ? r : "?");
            return false;
        }
        buf_str(b, r);
        return true;
    }
    case JV_BOOL:
        buf_str(b, jv_bool(v) ? "true" : "false");
        return true;
    case JV_NULL:
        buf_str(b, "null");
        return true;
    case JV_ARRAY:
        buf_add(b, "[", 1);
        for (size_t i = 0; i < jv_len(v); i++) {
            if (i)
                buf_add(b, ",", 1);
            if (!emit(b, jv_index(v, i), err, errlen))
                return false;
        }
        buf_add(b, "]", 1);
        return true;
    case JV_OBJECT:
        break;
    }
    size_t n = jv_len(v);
    struct member *m = xmalloc((n ? n : 1) * sizeof *m);
    for (size_t i = 0; i < n; i++)
        m[i].val = jv_member(v, i, &m[i].key, NULL);
    qsort(m, n, sizeof *m, member_cmp);
    buf_add(b, "{", 1);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (i)
            buf_add(b, ",", 1);
        emit_string(b, m[i].key);
        buf_add(b, ":", 1);
        ok = emit(b, m[i].val, err, errlen);
    }
    free(m);
    if (ok)
        buf_add(b, "}", 1);
    return ok;
}

/* Parses one row's JSON text (len bytes) into *out (the caller frees it with jv_free). */
static bool parse_row(const char *json, size_t len, jv **out, char *err, size_t errlen)
{
    struct jv_error jerr;
    if (!jv_parse_opts(json, len, &row_limits, JV_KEEP_NUMBER_TEXT, out, &jerr)) {
        snprintf(err, errlen, "not JSON: %s at byte %zu", jerr.msg, jerr.offset);
        return false;
    }
    return true;
}

bool pubdoc_canonical(const char *json, struct pubdoc_buf *out, char *err, size_t errlen)
{
    jv *v;
    if (!parse_row(json, strlen(json), &v, err, errlen))
        return false;
    bool ok = emit(out, v, err, errlen);
    jv_free(v);
    return ok;
}

/* The document's members in canonical (byte) order. */
enum section_kind { SEC_ARRAY, SEC_OBJECT, SEC_FORMAT };
static const struct {
    const char *name;
    enum section_kind kind;
} sections[] = {
    {"agreements", SEC_ARRAY},    {"audit", SEC_OBJECT},          {"commissioners", SEC_ARRAY},
    {"format", SEC_FORMAT},       {"organisations", SEC_ARRAY},   {"qualifications", SEC_ARRAY},
    {"service_types", SEC_ARRAY}, {"sites", SEC_ARRAY},
};
#define NSECTIONS (sizeof sections / sizeof sections[0])

static void hex_digest(const void *a, size_t al, const void *b, size_t bl, char out[65])
{
    unsigned char h[32];
    unsigned hl = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, a, al) ||
        !EVP_DigestUpdate(md, b, bl) || !EVP_DigestFinal_ex(md, h, &hl))
        abort();
    EVP_MD_CTX_free(md);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Reads the audit row's seq and hash. */
static bool audit_head(const jv *v, struct pubdoc *d, char *err, size_t errlen)
{
    const jv *seq = jv_get(v, "seq");
    size_t hl = 0;
    const char *hs = jv_str(jv_get(v, "hash"), &hl);
    if (!jv_is_int(seq) || !hs || hl != 64) {
        snprintf(err, errlen, "the audit row is not {\"seq\": integer, \"hash\": 64 hex}");
        return false;
    }
    d->audit_seq = jv_int(seq);
    snprintf(d->audit_hash, sizeof d->audit_hash, "%s", hs);
    return true;
}

bool pubdoc_build(const PGresult *r, struct pubdoc *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    int nrows = PQntuples(r), row = 0;
    long long count[NSECTIONS] = {0}, offers = 0;
    size_t audit_from = 0, audit_to = 0;
    bool audit_seen = false;
    buf_add(&d->doc, "{", 1);
    for (size_t s = 0; s < NSECTIONS; s++) {
        if (s)
            buf_add(&d->doc, ",", 1);
        if (sections[s].kind == SEC_OBJECT)
            audit_from = d->doc.len;
        emit_string(&d->doc, sections[s].name);
        buf_add(&d->doc, ":", 1);
        if (sections[s].kind == SEC_FORMAT) {
            emit_string(&d->doc, PUBDOC_FORMAT);
            continue;
        }
        if (sections[s].kind == SEC_ARRAY)
            buf_add(&d->doc, "[", 1);
        for (; row < nrows && strcmp(PQgetvalue(r, row, 0), sections[s].name) == 0; row++) {
            if (sections[s].kind == SEC_OBJECT && audit_seen) {
                snprintf(err, errlen, "more than one audit row");
                goto fail;
            }
            if (sections[s].kind == SEC_ARRAY && count[s]++)
                buf_add(&d->doc, ",", 1);
            jv *item;
            char sub[200];
            bool ok = parse_row(PQgetvalue(r, row, 1), (size_t)PQgetlength(r, row, 1), &item, sub,
                                sizeof sub) &&
                      emit(&d->doc, item, sub, sizeof sub);
            if (ok && sections[s].kind == SEC_OBJECT) {
                audit_seen = true;
                ok = audit_head(item, d, sub, sizeof sub);
            }
            if (ok && strcmp(sections[s].name, "commissioners") == 0 &&
                jv_is_array(jv_get(item, "offers")))
                offers += (long long)jv_len(jv_get(item, "offers"));
            jv_free(item);
            if (!ok) {
                snprintf(err, errlen, "%s row %d: %s", sections[s].name, row + 1, sub);
                goto fail;
            }
        }
        if (sections[s].kind == SEC_ARRAY) {
            buf_add(&d->doc, "]", 1);
        } else {
            if (!audit_seen) {
                snprintf(err, errlen, "no audit row");
                goto fail;
            }
            audit_to = d->doc.len + 1; /* with the comma that follows */
        }
    }
    if (row < nrows) {
        snprintf(err, errlen, "row %d: unknown or misordered section \"%.40s\"", row + 1,
                 PQgetvalue(r, row, 0));
        goto fail;
    }
    buf_add(&d->doc, "}", 1);
    hex_digest(d->doc.p, d->doc.len, "", 0, d->sha256);
    hex_digest(d->doc.p, audit_from, d->doc.p + audit_to, d->doc.len - audit_to, d->content_sha256);
    snprintf(d->counts, sizeof d->counts,
             "{\"agreements\":%lld,\"commissioners\":%lld,\"offers\":%lld,\"organisations\":%lld,"
             "\"qualifications\":%lld,\"service_types\":%lld,\"sites\":%lld}",
             count[0], count[2], offers, count[4], count[5], count[6], count[7]);
    return true;
fail:
    pubdoc_free(d);
    return false;
}

void pubdoc_free(struct pubdoc *d)
{
    free(d->doc.p);
    d->doc.p = NULL;
    d->doc.len = d->doc.cap = 0;
}
