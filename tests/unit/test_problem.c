/*
 * Unit tests for api/problem (RFC 9457 documents) and api/json (generation into an evbuffer,
 * including text that is not valid UTF-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <yajl/yajl_tree.h>

#include "api/json.h"
#include "api/problem.h"

static char *drain(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = test_malloc(n + 1);
    evbuffer_remove(b, s, n);
    s[n] = '\0';
    return s;
}

/* Parses a generated (trusted) document for inspection. */
static yajl_val parse(const char *s)
{
    char err[256];
    yajl_val v = yajl_tree_parse(s, err, sizeof err);
    if (!v)
        fail_msg("not JSON (%s): %s", err, s);
    return v;
}

static const char *str_at(yajl_val v, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val x = yajl_tree_get(v, path, yajl_t_string);
    return x ? YAJL_GET_STRING(x) : NULL;
}

static void test_problem_shape(void **state)
{
    (void)state;
    struct evbuffer *b = evbuffer_new();
    problem_write(b, 404, "not_found", "no such provider", "/v1/providers/9");
    char *s = drain(b);
    yajl_val v = parse(s);
    assert_string_equal(str_at(v, "type"), "urn:aqpd:problem:not_found");
    assert_string_equal(str_at(v, "title"), "Not Found");
    assert_string_equal(str_at(v, "detail"), "no such provider");
    assert_string_equal(str_at(v, "code"), "not_found");
    assert_string_equal(str_at(v, "instance"), "/v1/providers/9");
    const char *sp[] = {"status", NULL};
    yajl_val st = yajl_tree_get(v, sp, yajl_t_number);
    assert_non_null(st);
    assert_int_equal(YAJL_GET_INTEGER(st), 404);
    yajl_tree_free(v);
    test_free(s);
    evbuffer_free(b);
}

static void test_problem_defaults(void **state)
{
    (void)state;
    struct evbuffer *b = evbuffer_new();
    problem_write(b, 503, "database_unavailable", NULL, NULL);
    char *s = drain(b);
    yajl_val v = parse(s);
    assert_string_equal(str_at(v, "title"), "Service Unavailable");
    assert_string_equal(str_at(v, "detail"), "Service Unavailable");
    assert_null(str_at(v, "instance"));
    yajl_tree_free(v);
    test_free(s);
    evbuffer_free(b);
    assert_string_equal(problem_title(413), "Content Too Large");
    assert_string_equal(problem_title(431), "Request Header Fields Too Large");
    assert_string_equal(problem_title(799), "Error");
}

static void test_escaping_and_bad_utf8(void **state)
{
    (void)state;
    struct evbuffer *b = evbuffer_new();
    /* Quotes, control characters and invalid UTF-8 from a request path must not break JSON. */
    problem_write(b, 400, "bad_request", "bad \"x\"\n\x01 \xff\xfe end \xe2\x82\xac", "/a\xc3(");
    char *s = drain(b);
    yajl_val v = parse(s);
    assert_string_equal(str_at(v, "detail"),
                        "bad \"x\"\n\x01 \xef\xbf\xbd\xef\xbf\xbd end \xe2\x82\xac");
    assert_string_equal(str_at(v, "instance"), "/a\xef\xbf\xbd(");
    yajl_tree_free(v);
    test_free(s);
    evbuffer_free(b);
}

static void test_json_helpers(void **state)
{
    (void)state;
    struct evbuffer *b = evbuffer_new();
    yajl_gen g = json_gen_new(b);
    yajl_gen_map_open(g);
    json_kv_str(g, "a", NULL);
    json_kv_int(g, "n", -9007199254740993LL);
    json_kv_bool(g, "t", 1);
    yajl_gen_map_close(g);
    yajl_gen_free(g);
    char *s = drain(b);
    assert_string_equal(s, "{\"a\":null,\"n\":-9007199254740993,\"t\":true}");
    test_free(s);
    evbuffer_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_problem_shape),
        cmocka_unit_test(test_problem_defaults),
        cmocka_unit_test(test_escaping_and_bad_utf8),
        cmocka_unit_test(test_json_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
