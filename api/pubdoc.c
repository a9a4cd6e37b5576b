/*
 * pubdoc: canonical JSON and the publication document. See pubdoc.h.
 */
#include "api/pubdoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

/* JSON nesting the snapshot's items may have (they have at most 3). */
#define PUBDOC_MAX_DEPTH 32

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
    yajl_val val;
};

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

static bool emit(struct pubdoc_buf *b, yajl_val v, int depth, char *err, size_t errlen)
{
    if (depth > PUBDOC_MAX_DEPTH) {
        snprintf(err, errlen, "nesting deeper than %d", PUBDOC_MAX_DEPTH);
        return false;
    }
    if (YAJL_IS_STRING(v)) {
        emit_string(b, YAJL_GET_STRING(v));
    } else if (YAJL_IS_NUMBER(v)) {
        const char *r = YAJL_GET_NUMBER(v);
        if (!number_ok(r)) {
            snprintf(err, errlen, "number \"%.40s\" is not in a canonical form", r);
            return false;
        }
        buf_str(b, r);
    } else if (YAJL_IS_TRUE(v)) {
        buf_str(b, "true");
    } else if (YAJL_IS_FALSE(v)) {
        buf_str(b, "false");
    } else if (YAJL_IS_NULL(v)) {
        buf_str(b, "null");
    } else if (YAJL_IS_ARRAY(v)) {
        buf_add(b, "[", 1);
        for (size_t i = 0; i < v->u.array.len; i++) {
            if (i)
                buf_add(b, ",", 1);
            if (!emit(b, v->u.array.values[i], depth + 1, err, errlen))
                return false;
        }
        buf_add(b, "]", 1);
    } else if (YAJL_IS_OBJECT(v)) {
        size_t n = v->u.object.len;
        struct member *m = xmalloc((n ? n : 1) * sizeof *m);
        for (size_t i = 0; i < n; i++)
            m[i] = (struct member){v->u.object.keys[i], v->u.object.values[i]};
        qsort(m, n, sizeof *m, member_cmp);
        buf_add(b, "{", 1);
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            if (i)
                buf_add(b, ",", 1);
            if (i && strcmp(m[i - 1].key, m[i].key) == 0) {
                snprintf(err, errlen, "duplicate key \"%.40s\"", m[i].key);
                ok = false;
                break;
            }
            emit_string(b, m[i].key);
            buf_add(b, ":", 1);
            ok = emit(b, m[i].val, depth + 1, err, errlen);
        }
        free(m);
        if (!ok)
            return false;
        buf_add(b, "}", 1);
    } else {
        snprintf(err, errlen, "unexpected JSON value");
        return false;
    }
    return true;
}

bool pubdoc_canonical(const char *json, struct pubdoc_buf *out, char *err, size_t errlen)
{
    char perr[256];
    yajl_val v = yajl_tree_parse(json, perr, sizeof perr);
    if (!v) {
        snprintf(err, errlen, "not JSON: %s", perr);
        return false;
    }
    bool ok = emit(out, v, 0, err, errlen);
    yajl_tree_free(v);
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
static bool audit_head(const char *json, struct pubdoc *d, char *err, size_t errlen)
{
    char perr[128];
    yajl_val v = yajl_tree_parse(json, perr, sizeof perr);
    const char *sp[] = {"seq", NULL}, *hp[] = {"hash", NULL};
    yajl_val seq = v ? yajl_tree_get(v, sp, yajl_t_number) : NULL;
    yajl_val hash = v ? yajl_tree_get(v, hp, yajl_t_string) : NULL;
    const char *hs = hash ? hash->u.string : NULL;
    bool ok = seq && YAJL_IS_INTEGER(seq) && hs && strlen(hs) == 64;
    if (ok) {
        d->audit_seq = YAJL_GET_INTEGER(seq);
        snprintf(d->audit_hash, sizeof d->audit_hash, "%s", hs);
    } else {
        snprintf(err, errlen, "the audit row is not {\"seq\": integer, \"hash\": 64 hex}");
    }
    yajl_tree_free(v);
    return ok;
}

/* Adds the number of offers of one commissioner item (JSON text) to *offers. */
static void count_offers(const char *json, long long *offers)
{
    char perr[64];
    yajl_val v = yajl_tree_parse(json, perr, sizeof perr);
    const char *op[] = {"offers", NULL};
    yajl_val a = v ? yajl_tree_get(v, op, yajl_t_array) : NULL;
    if (a)
        *offers += (long long)a->u.array.len;
    yajl_tree_free(v);
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
            const char *item = PQgetvalue(r, row, 1);
            if (sections[s].kind == SEC_OBJECT) {
                if (audit_seen) {
                    snprintf(err, errlen, "more than one audit row");
                    goto fail;
                }
                audit_seen = true;
                if (!audit_head(item, d, err, errlen))
                    goto fail;
            } else if (count[s]++) {
                buf_add(&d->doc, ",", 1);
            }
            char sub[200];
            if (!pubdoc_canonical(item, &d->doc, sub, sizeof sub)) {
                snprintf(err, errlen, "%s row %d: %s", sections[s].name, row + 1, sub);
                goto fail;
            }
            if (strcmp(sections[s].name, "commissioners") == 0)
                count_offers(item, &offers);
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
