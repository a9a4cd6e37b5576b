/*
 * acache: a small cache of whole search answers, keyed by the request (view and URI).
 *
 * An answer is served again only while three things hold: the index has not changed since it
 * was computed (the caller's generation number: api/search.c bumps it on every change it
 * applies, so a change is never hidden), it is younger than the time to live (the answers
 * depend on the clock: a vacancy figure ages into "unknown"), and it has not been evicted.
 * Memory is bounded by a byte budget and an entry count; the least recently used answer goes
 * first. Pure: no I/O, no clock of its own (the caller passes `now`), so the unit tests drive
 * it directly.
 */
#ifndef AQPD_ACACHE_H
#define AQPD_ACACHE_H

#include <stddef.h>
#include <stdint.h>

struct acache;

struct acache_stats {
    uint64_t hits, misses, stores, evictions;
    size_t entries, bytes; /* bytes: keys and answers held now */
};

/* A cache of at most `max_entries` answers and `max_bytes` bytes of keys and answers. */
struct acache *acache_new(size_t max_entries, size_t max_bytes);
void acache_free(struct acache *c);

/*
 * The answer stored under `key` for generation `gen`, if it is still fresh at `now_ms`
 * (stored less than the ttl it was stored with before), with its length; NULL otherwise. The
 * pointer is valid until the next acache_put or acache_clear.
 */
const char *acache_get(struct acache *c, const char *key, uint64_t gen, uint64_t now_ms,
                       size_t *len);

/*
 * Stores a copy of `body` under `key`, replacing any answer there, valid for generation `gen`
 * until `now_ms + ttl_ms`. An answer larger than a quarter of the byte budget is not stored.
 */
void acache_put(struct acache *c, const char *key, uint64_t gen, uint64_t now_ms, uint64_t ttl_ms,
                const char *body, size_t len);

/* Drops every answer. */
void acache_clear(struct acache *c);

void acache_stats(const struct acache *c, struct acache_stats *out);

#endif
