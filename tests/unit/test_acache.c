/*
 * Unit tests for api/acache: the search answer cache. Hits and misses by key, generation and
 * age; the LRU order under the entry and byte budgets; replacement; and a random sequence of
 * operations checked against a model kept by brute force (an array of live entries with
 * their last use), so a wrong eviction or a stale answer served shows as a mismatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/acache.h"

static const char *get(struct acache *c, const char *key, uint64_t gen, uint64_t now)
{
    size_t n = 0;
    const char *p = acache_get(c, key, gen, now, &n);
    static char buf[2048];
    if (!p)
        return NULL;
    assert_true(n < sizeof buf);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static void put(struct acache *c, const char *key, uint64_t gen, uint64_t now, const char *v)
{
    acache_put(c, key, gen, now, 1000, v, strlen(v));
}

static void test_hit_miss_generation_age(void **state)
{
    (void)state;
    struct acache *c = acache_new(8, 1 << 20);
    assert_null(get(c, "d /a", 1, 0));
    put(c, "d /a", 1, 100, "answer a");
    assert_string_equal(get(c, "d /a", 1, 100), "answer a");
    assert_string_equal(get(c, "d /a", 1, 1099), "answer a"); /* 999 ms old */
    assert_null(get(c, "d /b", 1, 200));                       /* another key */
    assert_null(get(c, "d /a", 2, 200));                       /* the index changed */
    assert_null(get(c, "d /a", 1, 200));                       /* and it was dropped */
    put(c, "d /a", 2, 300, "answer a2");
    assert_null(get(c, "d /a", 2, 1300)); /* a second old: expired */
    struct acache_stats st;
    acache_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 5);
    /* a key that is a prefix of another is another key */
    put(c, "d /a?x=1", 3, 0, "long");
    put(c, "d /a", 3, 0, "short");
    assert_string_equal(get(c, "d /a?x=1", 3, 1), "long");
    assert_string_equal(get(c, "d /a", 3, 1), "short");
    /* replacing keeps one entry */
    put(c, "d /a", 3, 2, "short2");
    assert_string_equal(get(c, "d /a", 3, 3), "short2");
    acache_stats(c, &st);
    assert_int_equal(st.entries, 2);
    /* a ttl of 0 stores nothing, and drops the old answer */
    acache_put(c, "d /a", 3, 4, 0, "x", 1);
    assert_null(get(c, "d /a", 3, 5));
    acache_free(c);
}

static void test_lru_and_budgets(void **state)
{
    (void)state;
    struct acache *c = acache_new(3, 1 << 20);
    put(c, "k1", 1, 0, "v1");
    put(c, "k2", 1, 0, "v2");
    put(c, "k3", 1, 0, "v3");
    assert_non_null(get(c, "k1", 1, 1)); /* k1 is now the most recent: k2 is the oldest */
    put(c, "k4", 1, 2, "v4");
    assert_null(get(c, "k2", 1, 3));
    assert_string_equal(get(c, "k1", 1, 3), "v1");
    assert_string_equal(get(c, "k3", 1, 3), "v3");
    assert_string_equal(get(c, "k4", 1, 3), "v4");
    struct acache_stats st;
    acache_stats(c, &st);
    assert_int_equal(st.evictions, 1);
    acache_free(c);

    /* the byte budget: each entry is its header, key and answer; answers over a quarter of the
     * budget are never stored */
    c = acache_new(100, 4096);
    char big[1100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    put(c, "big", 1, 0, big);
    assert_null(get(c, "big", 1, 1));
    char v[600];
    memset(v, 'y', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        put(c, k, 1, 0, v);
        acache_stats(c, &st);
        assert_true(st.bytes <= 4096);
    }
    acache_stats(c, &st);
    assert_true(st.entries >= 5 && st.entries < 10);
    assert_non_null(get(c, "k9", 1, 1));
    assert_null(get(c, "k0", 1, 1));
    acache_clear(c);
    acache_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    acache_free(c);
}

/* The model: up to MAXE live entries, the least recently used evicted first. */
#define MAXE 6
#define KEYS 12
struct mentry {
    int key;
    uint64_t gen, expires, used;
    int value;
};

static void test_random_against_model(void **state)
{
    (void)state;
    struct acache *c = acache_new(MAXE, 1 << 20);
    struct mentry m[MAXE];
    int n = 0;
    uint64_t clock = 0, gen = 1, tick = 0;
    unsigned seed = 12345;
    for (int step = 0; step < 200000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 8) % 100;
        int key = (int)((seed >> 16) % KEYS);
        char k[16];
        snprintf(k, sizeof k, "key %d", key);
        clock += (seed >> 4) % 3;
        int at = -1;
        for (int i = 0; i < n; i++)
            if (m[i].key == key)
                at = i;
        if (r < 2) { /* the index changed */
            gen++;
        } else if (r < 45) { /* put */
            int value = (int)(seed % 100000);
            char v[16];
            snprintf(v, sizeof v, "%d", value);
            acache_put(c, k, gen, clock, 50, v, strlen(v));
            if (at >= 0)
                m[at] = m[--n];
            if (n == MAXE) {
                int lru = 0;
                for (int i = 1; i < n; i++)
                    if (m[i].used < m[lru].used)
                        lru = i;
                m[lru] = m[--n];
            }
            m[n++] = (struct mentry){key, gen, clock + 50, ++tick, value};
        } else { /* get */
            size_t len = 0;
            const char *p = acache_get(c, k, gen, clock, &len);
            bool fresh = at >= 0 && m[at].gen == gen && clock < m[at].expires;
            if (!fresh) {
                assert_null(p);
                if (at >= 0)
                    m[at] = m[--n];
            } else {
                assert_non_null(p);
                char v[16];
                snprintf(v, sizeof v, "%d", m[at].value);
                assert_int_equal(len, strlen(v));
                assert_memory_equal(p, v, len);
                m[at].used = ++tick;
            }
        }
        struct acache_stats st;
        acache_stats(c, &st);
        assert_int_equal(st.entries, (size_t)n);
    }
    acache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_generation_age),
        cmocka_unit_test(test_lru_and_budgets),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
