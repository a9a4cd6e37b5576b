/*
 * ratelimit: fixed-size token-bucket table. See ratelimit.h.
 */
#include "api/ratelimit.h"
#include "daemon/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char key[48];
    double tokens;
    uint64_t at_ns;
};

struct ratelimit {
    double per_ns, burst;
    struct slot slots[RATELIMIT_SLOTS];
};

struct ratelimit *ratelimit_new(double per_hour, double burst)
{
    struct ratelimit *rl = xcalloc(1, sizeof *rl);
    ratelimit_set_rate(rl, per_hour, burst);
    return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
    free(rl);
}

void ratelimit_set_rate(struct ratelimit *rl, double per_hour, double burst)
{
    rl->per_ns = per_hour / 3600e9;
    rl->burst = burst < 1 ? 1 : burst;
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

bool ratelimit_take(struct ratelimit *rl, const char *key, uint64_t now, unsigned *retry_after_s)
{
    struct slot *s = &rl->slots[fnv1a(key) % RATELIMIT_SLOTS];
    if (strncmp(s->key, key, sizeof s->key - 1) != 0) {
        /* Another key holds this slot: take it over (a fresh, full bucket). */
        snprintf(s->key, sizeof s->key, "%s", key);
        s->tokens = rl->burst;
        s->at_ns = now;
    }
    if (now > s->at_ns) {
        s->tokens += (double)(now - s->at_ns) * rl->per_ns;
        if (s->tokens > rl->burst)
            s->tokens = rl->burst;
        s->at_ns = now;
    }
    if (s->tokens >= 1) {
        s->tokens -= 1;
        return true;
    }
    double wait_ns = rl->per_ns > 0 ? (1 - s->tokens) / rl->per_ns : 3600e9;
    *retry_after_s = (unsigned)ceil(wait_ns / 1e9);
    return false;
}
