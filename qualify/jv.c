/*
 * jv: the JSON value tree, its bounded yajl_parse-based parser, iterative free/copy/equal/dump,
 * and the keyed hash index that large objects (reference registers) carry. See jv.h for the
 * invariants every tree holds. No I/O.
 */
#include "qualify/jv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "qualify/xalloc.h"

/* Objects with more members than this get a hash index; below it a linear scan is faster. */
#define JV_INDEX_MIN 8
/* Hard cap on one container's size, so member indexes fit the uint32_t hash slots. */
#define JV_MAX_CONTAINER (UINT32_MAX / 4)
/* Number text up to this length is converted without a heap copy. */
#define JV_NUMBUF 64

struct jv_member {
    char *key;
    size_t klen;
    jv *val;
};

struct jv {
    unsigned char type; /* enum jv_type */
    bool owned;         /* held by a container (or static): cannot be added again */
    bool is_static;     /* jv_static_*: never freed */
    union {
        bool b;
        struct {
            union {
                int64_t i;
                double d;
            };
            char *num_text; /* as written, when parsed with JV_KEEP_NUMBER_TEXT; else NULL */
        };
        struct {
            char *p; /* NUL-terminated, no NUL inside */
            size_t len;
        } s;
        struct {
            jv **v;
            size_t len, cap;
        } a;
        struct {
            struct jv_member *m;
            size_t len, cap;
            uint32_t *idx; /* open addressing, member index + 1, 0 = empty; NULL if small */
            size_t icap;   /* power of two, at least twice len */
        } o;
    } u;
};

static const jv jv_null_s = {.type = JV_NULL, .owned = true, .is_static = true};
static const jv jv_true_s = {.type = JV_BOOL, .owned = true, .is_static = true, .u.b = true};
static const jv jv_false_s = {.type = JV_BOOL, .owned = true, .is_static = true, .u.b = false};

const jv *jv_static_null(void)
{
    return &jv_null_s;
}

const jv *jv_static_bool(bool b)
{
    return b ? &jv_true_s : &jv_false_s;
}

/* ---------------------------------------------------------------- hashing (SipHash-1-3) */

static uint64_t sip_k0 = 0x0706050403020100ULL;
static uint64_t sip_k1 = 0x0f0e0d0c0b0a0908ULL;

void jv_set_hash_seed(const unsigned char seed[16])
{
    uint64_t k0 = 0, k1 = 0;
    for (int i = 7; i >= 0; i--) {
        k0 = (k0 << 8) | seed[i];
        k1 = (k1 << 8) | seed[8 + i];
    }
    sip_k0 = k0;
    sip_k1 = k1;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                  \
    do {                                                                                          \
        v0 += v1;                                                                                 \
        v1 = ROTL(v1, 13);                                                                        \
        v1 ^= v0;                                                                                 \
        v0 = ROTL(v0, 32);                                                                        \
        v2 += v3;                                                                                 \
        v3 = ROTL(v3, 16);                                                                        \
        v3 ^= v2;                                                                                 \
        v0 += v3;                                                                                 \
        v3 = ROTL(v3, 21);                                                                        \
        v3 ^= v0;                                                                                 \
        v2 += v1;                                                                                 \
        v1 = ROTL(v1, 17);                                                                        \
        v1 ^= v2;                                                                                 \
        v2 = ROTL(v2, 32);                                                                        \
    } while (0)

static uint64_t key_hash(const char *key, size_t len)
{
    const unsigned char *in = (const unsigned char *)key;
    uint64_t v0 = 0x736f6d6570736575ULL ^ sip_k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ sip_k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ sip_k0;
    uint64_t v3 = 0x7465646279746573ULL ^ sip_k1;
    uint64_t b = (uint64_t)len << 56;
    size_t whole = len - (len % 8);

    for (size_t off = 0; off < whole; off += 8) {
        uint64_t m = 0;
        for (int i = 7; i >= 0; i--)
            m = (m << 8) | in[off + (size_t)i];
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t i = len % 8; i > 0; i--)
        b |= (uint64_t)in[whole + i - 1] << (8 * (i - 1));
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static void index_insert(jv *o, size_t member)
{
    const struct jv_member *m = &o->u.o.m[member];
    size_t mask = o->u.o.icap - 1;
    size_t h = (size_t)key_hash(m->key, m->klen) & mask;
    while (o->u.o.idx[h])
        h = (h + 1) & mask;
    o->u.o.idx[h] = (uint32_t)(member + 1);
}

static void index_rebuild(jv *o, size_t icap)
{
    free(o->u.o.idx);
    o->u.o.idx = xcalloc(icap, sizeof(uint32_t));
    o->u.o.icap = icap;
    for (size_t i = 0; i < o->u.o.len; i++)
        index_insert(o, i);
}

/* Index of the member with this key, or -1. */
static ptrdiff_t object_find(const jv *o, const char *key, size_t klen)
{
    if (o->u.o.idx) {
        size_t mask = o->u.o.icap - 1;
        size_t h = (size_t)key_hash(key, klen) & mask;
        uint32_t slot;
        while ((slot = o->u.o.idx[h]) != 0) {
            const struct jv_member *m = &o->u.o.m[slot - 1];
            if (m->klen == klen && memcmp(m->key, key, klen) == 0)
                return (ptrdiff_t)(slot - 1);
            h = (h + 1) & mask;
        }
        return -1;
    }
    for (size_t i = 0; i < o->u.o.len; i++) {
        const struct jv_member *m = &o->u.o.m[i];
        if (m->klen == klen && memcmp(m->key, key, klen) == 0)
            return (ptrdiff_t)i;
    }
    return -1;
}

/* ---------------------------------------------------------------- construction */

static jv *node_new(enum jv_type t)
{
    jv *v = xcalloc(1, sizeof(*v));
    v->type = (unsigned char)t;
    return v;
}

jv *jv_new_null(void)
{
    return node_new(JV_NULL);
}

jv *jv_new_bool(bool b)
{
    jv *v = node_new(JV_BOOL);
    v->u.b = b;
    return v;
}

jv *jv_new_int(int64_t i)
{
    jv *v = node_new(JV_INT);
    v->u.i = i;
    return v;
}

jv *jv_new_double(double d)
{
    if (!isfinite(d))
        return node_new(JV_NULL);
    jv *v = node_new(JV_NUMBER);
    v->u.d = d;
    return v;
}

/* Takes ownership of p (len bytes + NUL); the caller has checked the invariants. */
static jv *string_take(char *p, size_t len)
{
    jv *v = node_new(JV_STRING);
    v->u.s.p = p;
    v->u.s.len = len;
    return v;
}

jv *jv_new_string(const char *s, size_t len)
{
    if (memchr(s, '\0', len) || !jv_utf8_valid(s, len))
        return NULL;
    return string_take(xstrndup(s, len), len);
}

jv *jv_new_array(void)
{
    return node_new(JV_ARRAY);
}

jv *jv_new_object(void)
{
    return node_new(JV_OBJECT);
}

static void array_append(jv *arr, jv *item)
{
    if (arr->u.a.len >= JV_MAX_CONTAINER)
        xalloc_oom((size_t)-1);
    arr->u.a.v = xgrow(arr->u.a.v, &arr->u.a.cap, arr->u.a.len + 1, sizeof(jv *));
    arr->u.a.v[arr->u.a.len++] = item;
    item->owned = true;
}

/* Appends without a duplicate check; takes ownership of key (klen bytes + NUL) and val. */
static void object_append(jv *o, char *key, size_t klen, jv *val)
{
    if (o->u.o.len >= JV_MAX_CONTAINER)
        xalloc_oom((size_t)-1);
    o->u.o.m = xgrow(o->u.o.m, &o->u.o.cap, o->u.o.len + 1, sizeof(struct jv_member));
    size_t i = o->u.o.len++;
    o->u.o.m[i] = (struct jv_member){.key = key, .klen = klen, .val = val};
    val->owned = true;
    if (o->u.o.idx && o->u.o.len * 2 <= o->u.o.icap)
        index_insert(o, i);
    else if (o->u.o.idx || o->u.o.len > JV_INDEX_MIN) {
        size_t icap = o->u.o.icap ? o->u.o.icap : 2 * JV_INDEX_MIN;
        while (icap < o->u.o.len * 2)
            icap *= 2;
        if (icap != o->u.o.icap || !o->u.o.idx)
            index_rebuild(o, icap);
    }
}

static void check_mutable(const jv *c, const jv *item, enum jv_type want)
{
    if (!c || c->type != want || c->owned || !item || item->owned || item == c) {
        fprintf(stderr, "jv: invalid container operation (not a free %s, or item owned)\n",
                want == JV_ARRAY ? "array" : "object");
        abort();
    }
}

void jv_array_push(jv *arr, jv *item)
{
    check_mutable(arr, item, JV_ARRAY);
    array_append(arr, item);
}

bool jv_object_add(jv *obj, const char *key, size_t klen, jv *val)
{
    check_mutable(obj, val, JV_OBJECT);
    if (memchr(key, '\0', klen) || !jv_utf8_valid(key, klen) || object_find(obj, key, klen) >= 0)
        return false;
    object_append(obj, xstrndup(key, klen), klen, val);
    return true;
}

/* ---------------------------------------------------------------- freeing and copying */

void jv_free(jv *v)
{
    if (!v || v->is_static)
        return;
    if (v->owned) {
        fprintf(stderr, "jv: jv_free on a value owned by a container\n");
        abort();
    }
    jv **stack = NULL;
    size_t depth = 0, cap = 0;
    stack = xgrow(stack, &cap, 1, sizeof(jv *));
    stack[depth++] = v;
    while (depth) {
        jv *n = stack[--depth];
        switch (n->type) {
        case JV_INT:
        case JV_NUMBER:
            free(n->u.num_text);
            break;
        case JV_STRING:
            free(n->u.s.p);
            break;
        case JV_ARRAY:
            stack = xgrow(stack, &cap, depth + n->u.a.len, sizeof(jv *));
            for (size_t i = 0; i < n->u.a.len; i++)
                stack[depth++] = n->u.a.v[i];
            free(n->u.a.v);
            break;
        case JV_OBJECT:
            stack = xgrow(stack, &cap, depth + n->u.o.len, sizeof(jv *));
            for (size_t i = 0; i < n->u.o.len; i++) {
                stack[depth++] = n->u.o.m[i].val;
                free(n->u.o.m[i].key);
            }
            free(n->u.o.m);
            free(n->u.o.idx);
            break;
        default:
            break;
        }
        free(n);
    }
    free(stack);
}

/* A new node with v's scalar value, or an empty container with room for v's members. */
static jv *copy_shallow(const jv *v)
{
    jv *c = node_new((enum jv_type)v->type);
    switch (v->type) {
    case JV_BOOL:
        c->u.b = v->u.b;
        break;
    case JV_INT:
        c->u.i = v->u.i;
        c->u.num_text = v->u.num_text ? xstrdup(v->u.num_text) : NULL;
        break;
    case JV_NUMBER:
        c->u.d = v->u.d;
        c->u.num_text = v->u.num_text ? xstrdup(v->u.num_text) : NULL;
        break;
    case JV_STRING:
        c->u.s.p = xstrndup(v->u.s.p, v->u.s.len);
        c->u.s.len = v->u.s.len;
        break;
    case JV_ARRAY:
        c->u.a.v = xgrow(NULL, &c->u.a.cap, v->u.a.len, sizeof(jv *));
        break;
    case JV_OBJECT:
        c->u.o.m = xgrow(NULL, &c->u.o.cap, v->u.o.len, sizeof(struct jv_member));
        break;
    default:
        break;
    }
    return c;
}

struct copy_frame {
    const jv *src;
    jv *dst;
    size_t i;
};

jv *jv_copy(const jv *v)
{
    if (!v)
        return NULL;
    jv *root = copy_shallow(v);
    if (jv_len(v) == 0 || v->type == JV_STRING)
        return root;
    struct copy_frame *st = NULL;
    size_t depth = 0, cap = 0;
    st = xgrow(st, &cap, 1, sizeof(*st));
    st[depth++] = (struct copy_frame){v, root, 0};
    while (depth) {
        struct copy_frame *f = &st[depth - 1];
        if (f->i == jv_len(f->src)) {
            depth--;
            continue;
        }
        size_t i = f->i++;
        const jv *child;
        jv *d;
        if (f->src->type == JV_ARRAY) {
            child = f->src->u.a.v[i];
            d = copy_shallow(child);
            array_append(f->dst, d);
        } else {
            const struct jv_member *m = &f->src->u.o.m[i];
            child = m->val;
            d = copy_shallow(child);
            object_append(f->dst, xstrndup(m->key, m->klen), m->klen, d);
        }
        if ((child->type == JV_ARRAY || child->type == JV_OBJECT) && jv_len(child) > 0) {
            st = xgrow(st, &cap, depth + 1, sizeof(*st));
            st[depth++] = (struct copy_frame){child, d, 0};
        }
    }
    free(st);
    return root;
}

size_t jv_count(const jv *v, size_t limit)
{
    if (!v)
        return 0;
    const jv **stack = NULL;
    size_t depth = 0, cap = 0, n = 0;
    stack = xgrow(stack, &cap, 1, sizeof(*stack));
    stack[depth++] = v;
    while (depth && n < limit) {
        const jv *c = stack[--depth];
        n++;
        if (c->type == JV_ARRAY || c->type == JV_OBJECT) {
            size_t len = jv_len(c);
            stack = xgrow(stack, &cap, depth + len, sizeof(*stack));
            for (size_t i = 0; i < len; i++)
                stack[depth++] = c->type == JV_ARRAY ? c->u.a.v[i] : c->u.o.m[i].val;
        }
    }
    free(stack);
    return n;
}

/* ---------------------------------------------------------------- access */

enum jv_type jv_typeof(const jv *v)
{
    return v ? (enum jv_type)v->type : JV_NULL;
}

bool jv_is_null(const jv *v)
{
    return v && v->type == JV_NULL;
}

bool jv_is_bool(const jv *v)
{
    return v && v->type == JV_BOOL;
}

bool jv_is_int(const jv *v)
{
    return v && v->type == JV_INT;
}

bool jv_is_double(const jv *v)
{
    return v && v->type == JV_NUMBER;
}

bool jv_is_number(const jv *v)
{
    return v && (v->type == JV_INT || v->type == JV_NUMBER);
}

bool jv_is_string(const jv *v)
{
    return v && v->type == JV_STRING;
}

bool jv_is_array(const jv *v)
{
    return v && v->type == JV_ARRAY;
}

bool jv_is_object(const jv *v)
{
    return v && v->type == JV_OBJECT;
}

bool jv_bool(const jv *v)
{
    return v && v->type == JV_BOOL && v->u.b;
}

int64_t jv_int(const jv *v)
{
    return v && v->type == JV_INT ? v->u.i : 0;
}

double jv_double(const jv *v)
{
    if (!v)
        return 0;
    if (v->type == JV_INT)
        return (double)v->u.i;
    return v->type == JV_NUMBER ? v->u.d : 0;
}

const char *jv_str(const jv *v, size_t *len)
{
    if (!v || v->type != JV_STRING)
        return NULL;
    if (len)
        *len = v->u.s.len;
    return v->u.s.p;
}

const char *jv_number_text(const jv *v)
{
    if (!v || (v->type != JV_INT && v->type != JV_NUMBER))
        return NULL;
    return v->u.num_text;
}

size_t jv_len(const jv *v)
{
    if (!v)
        return 0;
    switch (v->type) {
    case JV_STRING:
        return v->u.s.len;
    case JV_ARRAY:
        return v->u.a.len;
    case JV_OBJECT:
        return v->u.o.len;
    default:
        return 0;
    }
}

const jv *jv_index(const jv *v, size_t i)
{
    if (!v || v->type != JV_ARRAY || i >= v->u.a.len)
        return NULL;
    return v->u.a.v[i];
}

const jv *jv_getn(const jv *v, const char *key, size_t klen)
{
    if (!v || v->type != JV_OBJECT)
        return NULL;
    ptrdiff_t i = object_find(v, key, klen);
    return i < 0 ? NULL : v->u.o.m[i].val;
}

const jv *jv_get(const jv *v, const char *key)
{
    return jv_getn(v, key, strlen(key));
}

const jv *jv_member(const jv *v, size_t i, const char **key, size_t *klen)
{
    if (!v || v->type != JV_OBJECT || i >= v->u.o.len)
        return NULL;
    if (key)
        *key = v->u.o.m[i].key;
    if (klen)
        *klen = v->u.o.m[i].klen;
    return v->u.o.m[i].val;
}

/* Parses a canonical array index (digits, no leading zero unless "0"); false if not one. */
static bool parse_index(const char *s, size_t len, size_t *out)
{
    if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(s[i] - '0');
    }
    if (n > SIZE_MAX)
        return false;
    *out = (size_t)n;
    return true;
}

const jv *jv_path(const jv *root, const char *path, size_t len)
{
    const jv *cur = root;
    if (len == 0)
        return root;
    size_t start = 0;
    for (;;) {
        const char *dot = memchr(path + start, '.', len - start);
        size_t end = dot ? (size_t)(dot - path) : len;
        const char *comp = path + start;
        size_t clen = end - start;
        if (!cur)
            return NULL;
        if (cur->type == JV_OBJECT) {
            cur = jv_getn(cur, comp, clen);
        } else if (cur->type == JV_ARRAY) {
            size_t i;
            cur = parse_index(comp, clen, &i) ? jv_index(cur, i) : NULL;
        } else {
            return NULL;
        }
        if (!dot)
            return cur;
        start = end + 1;
    }
}

/* ---------------------------------------------------------------- comparison */

/* Compares integer i with finite double d exactly. */
static int cmp_int_double(int64_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)d; /* truncation toward zero, in range */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = d - (double)t; /* exact: t is d without its fraction */
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

bool jv_num_cmp(const jv *a, const jv *b, int *cmp)
{
    if (!jv_is_number(a) || !jv_is_number(b))
        return false;
    if (a->type == JV_INT && b->type == JV_INT)
        *cmp = a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    else if (a->type == JV_INT)
        *cmp = cmp_int_double(a->u.i, b->u.d);
    else if (b->type == JV_INT)
        *cmp = -cmp_int_double(b->u.i, a->u.d);
    else
        *cmp = a->u.d < b->u.d ? -1 : a->u.d > b->u.d;
    return true;
}

/* Compares everything but children; *descend is set when both are non-empty containers. */
static bool shallow_equal(const jv *a, const jv *b, bool *descend)
{
    int c;
    *descend = false;
    if (jv_num_cmp(a, b, &c))
        return c == 0;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case JV_NULL:
        return true;
    case JV_BOOL:
        return a->u.b == b->u.b;
    case JV_STRING:
        return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
    case JV_ARRAY:
    case JV_OBJECT:
        if (jv_len(a) != jv_len(b))
            return false;
        *descend = jv_len(a) > 0;
        return true;
    default:
        return false;
    }
}

struct eq_frame {
    const jv *a, *b;
    size_t i;
};

bool jv_equal(const jv *a, const jv *b)
{
    bool descend, eq = true;
    if (!a || !b)
        return a == b;
    if (!shallow_equal(a, b, &descend))
        return false;
    if (!descend)
        return true;
    struct eq_frame *st = NULL;
    size_t depth = 0, cap = 0;
    st = xgrow(st, &cap, 1, sizeof(*st));
    st[depth++] = (struct eq_frame){a, b, 0};
    while (depth && eq) {
        struct eq_frame *f = &st[depth - 1];
        if (f->i == jv_len(f->a)) {
            depth--;
            continue;
        }
        size_t i = f->i++;
        const jv *ca, *cb;
        if (f->a->type == JV_ARRAY) {
            ca = f->a->u.a.v[i];
            cb = f->b->u.a.v[i];
        } else {
            const struct jv_member *m = &f->a->u.o.m[i];
            ca = m->val;
            cb = jv_getn(f->b, m->key, m->klen);
            if (!cb) {
                eq = false;
                break;
            }
        }
        if (!shallow_equal(ca, cb, &descend))
            eq = false;
        else if (descend) {
            st = xgrow(st, &cap, depth + 1, sizeof(*st));
            st[depth++] = (struct eq_frame){ca, cb, 0};
        }
    }
    free(st);
    return eq;
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0; /* stray continuation byte or overlong 2-byte form */
    if (c < 0xE0)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90)
            return 0; /* past U+10FFFF */
        return 4;
    }
    return 0;
}

bool jv_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

/* ---------------------------------------------------------------- output */

struct buf {
    char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
    b->p = xgrow(b->p, &b->cap, b->len + n + 1, 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_putc(struct buf *b, char c)
{
    buf_put(b, &c, 1);
}

static void put_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            buf_put(b, "\\\"", 2);
            break;
        case '\\':
            buf_put(b, "\\\\", 2);
            break;
        case '\n':
            buf_put(b, "\\n", 2);
            break;
        case '\r':
            buf_put(b, "\\r", 2);
            break;
        case '\t':
            buf_put(b, "\\t", 2);
            break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_put(b, e, 6);
        }
        }
    }
    buf_put(b, s + run, len - run);
    buf_putc(b, '"');
}

static void put_double(struct buf *b, double d)
{
    char tmp[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    buf_put(b, tmp, (size_t)n);
    if (!strpbrk(tmp, ".eE"))
        buf_put(b, ".0", 2);
}

/* Writes a scalar, or the opening bracket of a container. */
static void put_open(struct buf *b, const jv *v)
{
    char tmp[32];
    switch (v->type) {
    case JV_NULL:
        buf_put(b, "null", 4);
        break;
    case JV_BOOL:
        if (v->u.b)
            buf_put(b, "true", 4);
        else
            buf_put(b, "false", 5);
        break;
    case JV_INT: {
        int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v->u.i);
        buf_put(b, tmp, (size_t)n);
        break;
    }
    case JV_NUMBER:
        put_double(b, v->u.d);
        break;
    case JV_STRING:
        put_string(b, v->u.s.p, v->u.s.len);
        break;
    case JV_ARRAY:
        buf_putc(b, '[');
        break;
    case JV_OBJECT:
        buf_putc(b, '{');
        break;
    default:
        break;
    }
}

struct dump_frame {
    const jv *v;
    size_t i;
};

char *jv_dump(const jv *v, size_t *len)
{
    struct buf b = {0};
    struct dump_frame *st = NULL;
    size_t depth = 0, cap = 0;

    buf_put(&b, "", 0);
    if (!v)
        v = &jv_null_s;
    put_open(&b, v);
    if (v->type == JV_ARRAY || v->type == JV_OBJECT) {
        st = xgrow(st, &cap, 1, sizeof(*st));
        st[depth++] = (struct dump_frame){v, 0};
    }
    while (depth) {
        struct dump_frame *f = &st[depth - 1];
        if (f->i == jv_len(f->v)) {
            buf_putc(&b, f->v->type == JV_ARRAY ? ']' : '}');
            depth--;
            continue;
        }
        size_t i = f->i++;
        if (i > 0)
            buf_putc(&b, ',');
        const jv *child;
        if (f->v->type == JV_ARRAY) {
            child = f->v->u.a.v[i];
        } else {
            const struct jv_member *m = &f->v->u.o.m[i];
            put_string(&b, m->key, m->klen);
            buf_putc(&b, ':');
            child = m->val;
        }
        put_open(&b, child);
        if (child->type == JV_ARRAY || child->type == JV_OBJECT) {
            st = xgrow(st, &cap, depth + 1, sizeof(*st));
            st[depth++] = (struct dump_frame){child, 0};
        }
    }
    free(st);
    if (len)
        *len = b.len;
    return b.p;
}

/* ---------------------------------------------------------------- parser */

struct pframe {
    jv *c;     /* the container being filled */
    char *key; /* pending key of an object member, owned; NULL when none */
    size_t klen;
};

struct pstate {
    struct jv_limits lim;
    unsigned flags; /* enum jv_parse_flag */
    yajl_handle h;
    jv *root;
    struct pframe *st;
    size_t depth, cap;
    size_t nodes;
    bool failed;
    bool completing; /* in yajl_complete_parse, whose offsets are not into our text */
    size_t len;      /* of the text */
    size_t err_off;
    char msg[sizeof(((struct jv_error *)0)->msg)];
};

__attribute__((format(printf, 2, 3))) static int pfail(struct pstate *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->msg, sizeof(ps->msg), fmt, ap);
    va_end(ap);
    ps->failed = true;
    ps->err_off = ps->completing ? ps->len : yajl_get_bytes_consumed(ps->h);
    return 0;
}

/* Copies up to max bytes of UTF-8 s into out for an error message, cut at a character
 * boundary, with control characters shown as '?'. */
static void quote_for_message(char *out, size_t outlen, const char *s, size_t len, size_t max)
{
    size_t o = 0, i = 0;
    while (i < len && i < max && o + 5 < outlen) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (!n || i + n > max || o + n + 4 >= outlen)
            break;
        for (size_t k = 0; k < n; k++)
            out[o++] = (unsigned char)s[i + k] < 0x20 ? '?' : s[i + k];
        i += n;
    }
    if (i < len)
        for (int k = 0; k < 3; k++)
            out[o++] = '.';
    out[o] = '\0';
}

/* Attaches a new value to the container being filled (or makes it the root). Takes v. */
static int attach(struct pstate *ps, jv *v)
{
    if (++ps->nodes > ps->lim.max_nodes) {
        jv_free(v);
        return pfail(ps, "document has more than %zu values", ps->lim.max_nodes);
    }
    if (ps->depth == 0) {
        ps->root = v;
        return 1;
    }
    struct pframe *f = &ps->st[ps->depth - 1];
    if (f->c->type == JV_ARRAY) {
        if (f->c->u.a.len >= ps->lim.max_members) {
            jv_free(v);
            return pfail(ps, "array has more than %zu elements", ps->lim.max_members);
        }
        array_append(f->c, v);
    } else {
        object_append(f->c, f->key, f->klen, v);
        f->key = NULL;
    }
    return 1;
}

static int cb_null(void *ctx)
{
    return attach(ctx, jv_new_null());
}

static int cb_boolean(void *ctx, int b)
{
    return attach(ctx, jv_new_bool(b != 0));
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    struct pstate *ps = ctx;
    char small[JV_NUMBUF], *text = small;
    bool integer = !memchr(s, '.', len) && !memchr(s, 'e', len) && !memchr(s, 'E', len);
    jv *v;

    if (len > ps->lim.max_string)
        return pfail(ps, "number is longer than %zu characters", ps->lim.max_string);
    if (len >= sizeof(small))
        text = xmalloc(len + 1);
    memcpy(text, s, len);
    text[len] = '\0';
    errno = 0;
    if (integer) {
        long long i = strtoll(text, NULL, 10);
        if (errno == ERANGE) {
            if (text != small)
                free(text);
            return pfail(ps, "integer does not fit in 64 bits");
        }
        v = jv_new_int((int64_t)i);
    } else {
        double d = strtod(text, NULL);
        if (!isfinite(d)) {
            if (text != small)
                free(text);
            return pfail(ps, "number is out of range");
        }
        v = jv_new_double(d);
    }
    if (ps->flags & JV_KEEP_NUMBER_TEXT)
        v->u.num_text = xstrndup(text, len);
    if (text != small)
        free(text);
    return attach(ps, v);
}

/* Checks a decoded string or key against the limits and invariants. */
static int check_string(struct pstate *ps, const unsigned char *s, size_t len, const char *what)
{
    if (len > ps->lim.max_string)
        return pfail(ps, "%s is longer than %zu bytes", what, ps->lim.max_string);
    if (memchr(s, '\0', len))
        return pfail(ps, "%s contains a NUL character", what);
    if (!jv_utf8_valid((const char *)s, len))
        return pfail(ps, "%s is not valid UTF-8", what);
    return 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    struct pstate *ps = ctx;
    if (!check_string(ps, s, len, "string"))
        return 0;
    return attach(ps, string_take(xstrndup((const char *)s, len), len));
}

static int open_container(struct pstate *ps, enum jv_type t)
{
    if (ps->depth >= ps->lim.max_depth)
        return pfail(ps, "nesting is deeper than %zu", ps->lim.max_depth);
    jv *c = node_new(t);
    if (!attach(ps, c))
        return 0;
    ps->st = xgrow(ps->st, &ps->cap, ps->depth + 1, sizeof(*ps->st));
    ps->st[ps->depth++] = (struct pframe){.c = c};
    return 1;
}

static int cb_start_map(void *ctx)
{
    return open_container(ctx, JV_OBJECT);
}

static int cb_start_array(void *ctx)
{
    return open_container(ctx, JV_ARRAY);
}

static int cb_end(void *ctx)
{
    struct pstate *ps = ctx;
    ps->depth--;
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    struct pstate *ps = ctx;
    struct pframe *f = &ps->st[ps->depth - 1];
    if (!check_string(ps, s, len, "object key"))
        return 0;
    if (f->c->u.o.len >= ps->lim.max_members)
        return pfail(ps, "object has more than %zu members", ps->lim.max_members);
    if (object_find(f->c, (const char *)s, len) >= 0) {
        char q[64];
        quote_for_message(q, sizeof(q), (const char *)s, len, 40);
        return pfail(ps, "duplicate object key \"%s\"", q);
    }
    f->key = xstrndup((const char *)s, len);
    f->klen = len;
    return 1;
}

static const yajl_callbacks parse_callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of a \uXXXX escape at s[0..] (s points at the backslash), or -1. */
static long escape_unit(const char *s, size_t avail)
{
    if (avail < 6 || s[0] != '\\' || s[1] != 'u')
        return -1;
    long u = 0;
    for (int k = 2; k < 6; k++) {
        int h = hexval(s[k]);
        if (h < 0)
            return -1;
        u = u * 16 + h;
    }
    return u;
}

static void set_err(struct jv_error *err, size_t off, const char *msg)
{
    if (!err)
        return;
    err->offset = off;
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

/*
 * What yajl accepts but the invariants forbid, found in one pass over the raw text: NUL bytes,
 * invalid UTF-8 (yajl checks only the shape of sequences), \u0000, and unpaired surrogate
 * escapes (yajl turns a lone high surrogate into '?' and encodes a lone low one as invalid
 * UTF-8). Grammar errors are left to yajl.
 */
static bool prescan(const char *buf, size_t len, struct jv_error *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    bool in_str = false;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == 0) {
            set_err(err, i, "NUL byte in JSON text");
            return false;
        }
        if (c >= 0x80) {
            size_t n = utf8_seq(p + i, len - i);
            if (!n) {
                set_err(err, i, "invalid UTF-8");
                return false;
            }
            i += n;
            continue;
        }
        if (!in_str) {
            in_str = c == '"';
            i++;
            continue;
        }
        if (c == '"') {
            in_str = false;
            i++;
        } else if (c == '\\') {
            long u = escape_unit(buf + i, len - i);
            if (u < 0) {
                i += 2; /* a short escape, or a malformed one yajl will report */
                continue;
            }
            if (u == 0) {
                set_err(err, i, "\\u0000 (NUL) in string");
                return false;
            }
            if (u >= 0xDC00 && u <= 0xDFFF) {
                set_err(err, i, "unpaired UTF-16 surrogate escape in string");
                return false;
            }
            if (u >= 0xD800 && u <= 0xDBFF) {
                long lo = escape_unit(buf + i + 6, len - i - 6);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    set_err(err, i, "unpaired UTF-16 surrogate escape in string");
                    return false;
                }
                i += 12;
                continue;
            }
            i += 6;
        } else {
            i++;
        }
    }
    return true;
}

bool jv_parse(const char *buf, size_t len, const struct jv_limits *limits, jv **out,
              struct jv_error *err)
{
    return jv_parse_opts(buf, len, limits, 0, out, err);
}

bool jv_parse_opts(const char *buf, size_t len, const struct jv_limits *limits, unsigned flags,
                   jv **out, struct jv_error *err)
{
    struct pstate ps = {.flags = flags};
    bool ok = false;

    *out = NULL;
    if (limits)
        ps.lim = *limits;
    if (!ps.lim.max_bytes)
        ps.lim.max_bytes = JV_DEFAULT_MAX_BYTES;
    if (!ps.lim.max_depth)
        ps.lim.max_depth = JV_DEFAULT_MAX_DEPTH;
    if (!ps.lim.max_string)
        ps.lim.max_string = JV_DEFAULT_MAX_STRING;
    if (!ps.lim.max_members)
        ps.lim.max_members = JV_DEFAULT_MAX_MEMBERS;
    if (!ps.lim.max_nodes)
        ps.lim.max_nodes = JV_DEFAULT_MAX_NODES;

    if (len > ps.lim.max_bytes) {
        char m[80];
        snprintf(m, sizeof(m), "JSON text is longer than %zu bytes", ps.lim.max_bytes);
        set_err(err, ps.lim.max_bytes, m);
        return false;
    }
    if (!prescan(buf, len, err))
        return false;

    ps.h = yajl_alloc(&parse_callbacks, NULL, &ps);
    if (!ps.h)
        xalloc_oom(0);
    ps.len = len;
    yajl_status st = yajl_parse(ps.h, (const unsigned char *)buf, len);
    if (st == yajl_status_ok) {
        ps.completing = true;
        st = yajl_complete_parse(ps.h);
    }
    if (st == yajl_status_ok && ps.root) {
        ok = true;
    } else if (ps.failed) {
        set_err(err, ps.err_off, ps.msg);
    } else {
        unsigned char *m = yajl_get_error(ps.h, 0, (const unsigned char *)buf, len);
        char clean[sizeof(((struct jv_error *)0)->msg)];
        snprintf(clean, sizeof(clean), "%s", m ? (const char *)m : "invalid JSON");
        clean[strcspn(clean, "\r\n")] = '\0';
        set_err(err, ps.completing ? len : yajl_get_bytes_consumed(ps.h), clean);
        if (m)
            yajl_free_error(ps.h, m);
    }
    yajl_free(ps.h);

    for (size_t i = 0; i < ps.depth; i++)
        free(ps.st[i].key);
    free(ps.st);
    if (ok)
        *out = ps.root;
    else
        jv_free(ps.root);
    return ok;
}
