/*
 * acache: see acache.h. A chained hash table over the entries, and a doubly linked list of the
 * same entries from the most to the least recently used. Each entry is one allocation: its
 * header, its key and its answer.
 */
#include "api/acache.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/util.h"

struct ent {
    struct ent *hnext;       /* the next entry in its bucket */
    struct ent *prev, *next; /* recency: prev is more recent */
    uint64_t h, gen, expires_ms;
    size_t klen, len;
    char data[]; /* the key, NUL, the answer */
};

struct acache {
    struct ent **buckets;
    size_t mask; /* buckets - 1: a power of two minus one */
    struct ent *head, *tail; /* most and least recently used */
    size_t max_entries, max_bytes;
    struct acache_stats st;
};

static uint64_t key_hash(const char *s, size_t *len)
{
    uint64_t h = 1469598103934665603ull;
    const char *p = s;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    *len = (size_t)(p - s);
    return h;
}

static size_t ent_bytes(const struct ent *e)
{
    return sizeof *e + e->klen + 1 + e->len;
}

struct acache *acache_new(size_t max_entries, size_t max_bytes)
{
    struct acache *c = xcalloc(1, sizeof *c);
    size_t n = 16;
    while (n < max_entries * 2)
        n *= 2;
    c->buckets = xcalloc(n, sizeof *c->buckets);
    c->mask = n - 1;
    c->max_entries = max_entries ? max_entries : 1;
    c->max_bytes = max_bytes;
    return c;
}

static void list_unlink(struct acache *c, struct ent *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(struct acache *c, struct ent *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

/* The link that points at the entry for key (h, key, klen): *link is NULL when there is none. */
static struct ent **find_link(struct acache *c, uint64_t h, const char *key, size_t klen)
{
    struct ent **link = &c->buckets[h & c->mask];
    for (; *link; link = &(*link)->hnext) {
        struct ent *e = *link;
        if (e->h == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            break;
    }
    return link;
}

static void remove_at(struct acache *c, struct ent **link)
{
    struct ent *e = *link;
    *link = e->hnext;
    list_unlink(c, e);
    c->st.entries--;
    c->st.bytes -= ent_bytes(e);
    free(e);
}

static void evict_lru(struct acache *c)
{
    struct ent *e = c->tail;
    struct ent **link = find_link(c, e->h, e->data, e->klen);
    remove_at(c, link);
    c->st.evictions++;
}

const char *acache_get(struct acache *c, const char *key, uint64_t gen, uint64_t now_ms,
                       size_t *len)
{
    size_t klen;
    uint64_t h = key_hash(key, &klen);
    struct ent **link = find_link(c, h, key, klen);
    struct ent *e = *link;
    if (!e || e->gen != gen || now_ms >= e->expires_ms) {
        if (e) /* stale: it can never be served again */
            remove_at(c, link);
        c->st.misses++;
        return NULL;
    }
    list_unlink(c, e);
    list_push_front(c, e);
    c->st.hits++;
    *len = e->len;
    return e->data + e->klen + 1;
}

void acache_put(struct acache *c, const char *key, uint64_t gen, uint64_t now_ms, uint64_t ttl_ms,
                const char *body, size_t len)
{
    size_t klen;
    uint64_t h = key_hash(key, &klen);
    struct ent **link = find_link(c, h, key, klen);
    if (*link)
        remove_at(c, link);
    size_t need = sizeof(struct ent) + klen + 1 + len;
    if (ttl_ms == 0 || need > c->max_bytes / 4)
        return;
    while (c->st.entries && (c->st.entries >= c->max_entries || c->st.bytes + need > c->max_bytes))
        evict_lru(c);
    struct ent *e = xmalloc(need);
    e->h = h;
    e->gen = gen;
    e->expires_ms = now_ms + ttl_ms;
    e->klen = klen;
    e->len = len;
    memcpy(e->data, key, klen + 1);
    memcpy(e->data + klen + 1, body, len);
    e->hnext = c->buckets[h & c->mask];
    c->buckets[h & c->mask] = e;
    list_push_front(c, e);
    c->st.entries++;
    c->st.bytes += need;
    c->st.stores++;
}

void acache_clear(struct acache *c)
{
    while (c->tail) {
        struct ent **link = find_link(c, c->tail->h, c->tail->data, c->tail->klen);
        remove_at(c, link);
    }
}

void acache_free(struct acache *c)
{
    if (!c)
        return;
    acache_clear(c);
    free(c->buckets);
    free(c);
}

void acache_stats(const struct acache *c, struct acache_stats *out)
{
    *out = c->st;
}
