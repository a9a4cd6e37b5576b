/*
 * ratelimit: token buckets keyed by client address, for public writes such as sign-up. A fixed
 * table (no growth under attack): a key hashes to one slot, and a key that lands on a slot
 * held by another key takes it over with a fresh bucket. Collisions therefore err towards
 * admitting; defeating the limit that way needs many addresses, which defeats any per-address
 * limit anyway. Pure apart from the clock value the caller passes.
 */
#ifndef AQPD_RATELIMIT_H
#define AQPD_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_SLOTS 4096

struct ratelimit;

/* `per_hour` tokens per hour, up to `burst` at once. */
struct ratelimit *ratelimit_new(double per_hour, double burst);
void ratelimit_free(struct ratelimit *rl);
void ratelimit_set_rate(struct ratelimit *rl, double per_hour, double burst);

/*
 * Takes one token for `key` at time `now_ns` (monotonic). False when the bucket is empty;
 * then *retry_after_s says when one will be available.
 */
bool ratelimit_take(struct ratelimit *rl, const char *key, uint64_t now_ns, unsigned *retry_after_s)
    __attribute__((warn_unused_result));

#endif
