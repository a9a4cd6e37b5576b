/*
 * Unit tests for api/auth (key format, hashing, bearer parsing, roles), api/ratelimit (token
 * buckets) and the pure validators of api/body (dates, UUIDs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "api/auth.h"
#include "api/body.h"
#include "api/ratelimit.h"
#include "daemon/limits.h"

static void test_key_format_and_hash(void **state)
{
    (void)state;
    char k1[AUTH_KEY_LEN + 1], k2[AUTH_KEY_LEN + 1];
    unsigned char h1[32], h2[32], again[32];
    auth_key_new(k1, h1);
    auth_key_new(k2, h2);
    assert_int_equal(strlen(k1), AUTH_KEY_LEN);
    assert_memory_equal(k1, "aqpd_", 5);
    assert_string_not_equal(k1, k2); /* 256 random bits: equal only if RAND_bytes is broken */
    assert_memory_not_equal(h1, h2, 32);
    auth_key_hash(k1, strlen(k1), again);
    assert_memory_equal(h1, again, 32);
    /* The bearer parser accepts exactly what the generator makes, and hashes it the same. */
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Bearer %s", k1);
    unsigned char parsed[32];
    assert_true(auth_parse_bearer(hdr, parsed));
    assert_memory_equal(parsed, h1, 32);
    snprintf(hdr, sizeof hdr, "bearer   %s  ", k1);
    assert_true(auth_parse_bearer(hdr, parsed));
}

static void test_known_hash(void **state)
{
    (void)state;
    /* sha256("abc"), so the stored hash is plain SHA-256 of the key text. */
    unsigned char h[32];
    char hex[65];
    auth_key_hash("abc", 3, h);
    auth_hex(h, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_bearer_rejects(void **state)
{
    (void)state;
    unsigned char h[32];
    char good[AUTH_KEY_LEN + 1];
    auth_key_new(good, h);
    char buf[160];
    const char *bad[] = {
        NULL, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token aqpd_x",
        "Bearer aqpd_short",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(auth_parse_bearer(bad[i], h));
    snprintf(buf, sizeof buf, "Bearer %sA", good); /* one character too long */
    assert_false(auth_parse_bearer(buf, h));
    snprintf(buf, sizeof buf, "Bearer x%s", good + 1); /* wrong prefix */
    assert_false(auth_parse_bearer(buf, h));
    snprintf(buf, sizeof buf, "Bearer %s", good);
    buf[20] = '+'; /* not base64url */
    assert_false(auth_parse_bearer(buf, h));
    buf[20] = '"';
    assert_false(auth_parse_bearer(buf, h));
}

static void test_roles(void **state)
{
    (void)state;
    unsigned r;
    assert_true(auth_role_parse("board", &r));
    assert_int_equal(r, ROLE_BOARD);
    assert_string_equal(auth_role_name(ROLE_COMMISSIONER), "commissioner");
    assert_false(auth_role_parse("admin", &r));
    assert_false(auth_role_parse("Board", &r));
    assert_string_equal(auth_role_name(0), "anonymous");
}

static void test_auth_cache(void **state)
{
    (void)state;
    auth_cache_clear();
    char k1[AUTH_KEY_LEN + 1], k2[AUTH_KEY_LEN + 1];
    unsigned char h1[32], h2[32];
    auth_key_new(k1, h1);
    auth_key_new(k2, h2);
    struct auth_principal p = {.role = ROLE_COMMISSIONER, .key_id = 7}, got;
    snprintf(p.commissioner, sizeof p.commissioner, "E08000035");
    assert_false(auth_cache_get(h1, 100, &got)); /* never seen */
    auth_cache_put(h1, 100, &p);
    assert_true(auth_cache_get(h1, 100, &got));
    assert_int_equal(got.role, ROLE_COMMISSIONER);
    assert_int_equal(got.key_id, 7);
    assert_string_equal(got.commissioner, "E08000035");
    assert_false(auth_cache_get(h2, 100, &got)); /* another key is not this one */
    /* A hash sharing the slot (same first two bytes) but not the rest must miss. */
    unsigned char h3[32];
    memcpy(h3, h1, 32);
    h3[31] ^= 1;
    assert_false(auth_cache_get(h3, 100, &got));
    /* Expiry: valid until LIMIT_AUTH_CACHE_S seconds after it was cached. */
    assert_true(auth_cache_get(h1, 100 + LIMIT_AUTH_CACHE_S - 1, &got));
    assert_false(auth_cache_get(h1, 100 + LIMIT_AUTH_CACHE_S, &got));
    auth_cache_put(h1, 200, &p);
    auth_cache_clear();
    assert_false(auth_cache_get(h1, 200, &got));
}

static void test_ratelimit(void **state)
{
    (void)state;
    const uint64_t s = 1000000000ull;
    struct ratelimit *rl = ratelimit_new(3600, 2); /* one a second, bursts of two */
    unsigned retry = 0;
    assert_true(ratelimit_take(rl, "10.0.0.1", 100 * s, &retry));
    assert_true(ratelimit_take(rl, "10.0.0.1", 100 * s, &retry));
    assert_false(ratelimit_take(rl, "10.0.0.1", 100 * s, &retry));
    assert_int_equal(retry, 1);
    /* Another address has its own bucket. */
    assert_true(ratelimit_take(rl, "10.0.0.2", 100 * s, &retry));
    /* Refills with time, never beyond the burst. */
    assert_true(ratelimit_take(rl, "10.0.0.1", 101 * s, &retry));
    assert_false(ratelimit_take(rl, "10.0.0.1", 101 * s, &retry));
    assert_true(ratelimit_take(rl, "10.0.0.1", 1000 * s, &retry));
    assert_true(ratelimit_take(rl, "10.0.0.1", 1000 * s, &retry));
    assert_false(ratelimit_take(rl, "10.0.0.1", 1000 * s, &retry));
    /* Twenty an hour: the wait is three minutes. */
    ratelimit_set_rate(rl, 20, 1);
    assert_true(ratelimit_take(rl, "10.0.0.9", 5000 * s, &retry));
    assert_false(ratelimit_take(rl, "10.0.0.9", 5000 * s, &retry));
    assert_int_equal(retry, 180);
    ratelimit_free(rl);
}

static void test_validators(void **state)
{
    (void)state;
    assert_true(api_is_date("2026-11-23"));
    assert_true(api_is_date("2028-02-29"));
    assert_false(api_is_date("2027-02-29"));
    assert_false(api_is_date("2100-02-29"));
    assert_true(api_is_date("2000-02-29"));
    assert_false(api_is_date("2026-13-01"));
    assert_false(api_is_date("2026-04-31"));
    assert_false(api_is_date("2026-4-1"));
    assert_false(api_is_date("2026-04-01T00:00:00"));
    assert_false(api_is_date(NULL));
    assert_true(api_is_uuid("1e8fe1a9-5535-47de-92f2-cab94c93e6f6"));
    assert_false(api_is_uuid("1e8fe1a9-5535-47de-92f2-cab94c93e6f"));
    assert_false(api_is_uuid("1e8fe1a9x5535-47de-92f2-cab94c93e6f6"));
    assert_false(api_is_uuid("1e8fe1a9-5535-47de-92f2-cab94c93e6fg"));
    assert_false(api_is_uuid("'; DROP TABLE x; --"));
    assert_true(api_is_timestamp("2026-11-23"));
    assert_true(api_is_timestamp("2026-11-23T10:00:00Z"));
    assert_true(api_is_timestamp("2026-11-23T10:00:00.123456+01:00"));
    assert_false(api_is_timestamp("yesterday"));
    assert_false(api_is_timestamp("2026-11-23T25:00:00Z"));
    assert_false(api_is_timestamp("2026-11-23T10:00:00"));
    assert_false(api_is_timestamp("2026-11-23T10:00:00.Z"));
    assert_false(api_is_timestamp("2026-11-23 10:00:00Z"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_format_and_hash), cmocka_unit_test(test_known_hash),
        cmocka_unit_test(test_bearer_rejects),      cmocka_unit_test(test_roles),
        cmocka_unit_test(test_ratelimit),           cmocka_unit_test(test_validators),
        cmocka_unit_test(test_auth_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
