/*
 * Unit tests for qualify/jv: the bounded parser (limits, NUL, UTF-8, depth, big integers,
 * duplicate keys, trailing garbage, error offsets), numbers kept as written, accessors and
 * paths, builders, equality, and the dump/parse round trip, including trees far deeper than
 * any C stack would survive with recursive walks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qualify/jv.h"

static jv *parse_ok(const char *text)
{
    jv *v = NULL;
    struct jv_error err = {0};
    bool ok = jv_parse(text, strlen(text), NULL, &v, &err);
    if (!ok)
        fail_msg("parse of %s failed at %zu: %s", text, err.offset, err.msg);
    assert_non_null(v);
    return v;
}

/* Parses buf[0..len) expecting failure; checks the message contains want and, unless
 * want_off is (size_t)-1, the reported offset. */
static void parse_bad_n(const char *buf, size_t len, const struct jv_limits *lim,
                        const char *want, size_t want_off)
{
    jv *v = (jv *)1;
    struct jv_error err = {0};
    if (jv_parse(buf, len, lim, &v, &err)) {
        char *d = jv_dump(v, NULL);
        fail_msg("parse unexpectedly succeeded: %s", d);
    }
    assert_null(v);
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want);
    if (want_off != (size_t)-1 && err.offset != want_off)
        fail_msg("error \"%s\" at offset %zu, expected %zu", err.msg, err.offset, want_off);
}

static void parse_bad(const char *text, const char *want)
{
    parse_bad_n(text, strlen(text), NULL, want, (size_t)-1);
}

static void assert_dump(const jv *v, const char *want)
{
    char *d = jv_dump(v, NULL);
    assert_string_equal(d, want);
    free(d);
}

static void test_scalars(void **state)
{
    (void)state;
    jv *v = parse_ok(" null ");
    assert_int_equal(jv_typeof(v), JV_NULL);
    assert_true(jv_is_null(v));
    jv_free(v);

    v = parse_ok("true");
    assert_true(jv_is_bool(v) && jv_bool(v));
    jv_free(v);

    v = parse_ok("-0");
    assert_true(jv_is_int(v));
    assert_int_equal(jv_int(v), 0);
    jv_free(v);

    v = parse_ok("1.0");
    assert_true(jv_is_double(v));
    assert_false(jv_is_int(v));
    assert_true(jv_is_number(v));
    assert_true(jv_double(v) == 1.0);
    jv_free(v);

    v = parse_ok("1e2");
    assert_true(jv_is_double(v));
    assert_true(jv_double(v) == 100.0);
    jv_free(v);

    v = parse_ok("\"caf\\u00e9 \\\"x\\\"\"");
    size_t len;
    const char *s = jv_str(v, &len);
    assert_non_null(s);
    assert_int_equal(len, 9);
    assert_memory_equal(s, "caf\xc3\xa9 \"x\"", 9);
    assert_int_equal(s[len], '\0');
    assert_int_equal(jv_len(v), 9);
    jv_free(v);
}

static void test_integers(void **state)
{
    (void)state;
    jv *v = parse_ok("9223372036854775807");
    assert_true(jv_is_int(v));
    assert_true(jv_int(v) == INT64_MAX);
    jv_free(v);

    v = parse_ok("-9223372036854775808");
    assert_true(jv_int(v) == INT64_MIN);
    jv_free(v);

    parse_bad("9223372036854775808", "64 bits");
    parse_bad("-9223372036854775809", "64 bits");
    parse_bad("[1, 123456789012345678901234567890]", "64 bits");
    parse_bad("1e400", "out of range");
    parse_bad("-1e400", "out of range");

    /* A big number written as a double is a double, not an error. */
    v = parse_ok("9223372036854775808.0");
    assert_true(jv_is_double(v));
    jv_free(v);

    /* Exact comparison between int64 and double: 2^53 + 1 is not 2^53. */
    jv *a = parse_ok("9007199254740993"), *b = parse_ok("9007199254740992.0");
    int cmp = 0;
    assert_true(jv_num_cmp(a, b, &cmp));
    assert_int_equal(cmp, 1);
    assert_false(jv_equal(a, b));
    jv_free(a);
    jv_free(b);

    a = parse_ok("3");
    b = parse_ok("3.0");
    assert_true(jv_equal(a, b));
    jv_free(b);
    b = parse_ok("3.5");
    assert_true(jv_num_cmp(a, b, &cmp));
    assert_int_equal(cmp, -1);
    jv_free(b);
    b = parse_ok("-3.5");
    assert_true(jv_num_cmp(a, b, &cmp));
    assert_int_equal(cmp, 1);
    jv_free(b);
    b = parse_ok("\"3\"");
    assert_false(jv_num_cmp(a, b, &cmp));
    assert_false(jv_equal(a, b));
    jv_free(b);
    jv_free(a);

    a = parse_ok("-9223372036854775808");
    b = parse_ok("-9223372036854775808.0");
    assert_true(jv_num_cmp(a, b, &cmp));
    assert_int_equal(cmp, 0);
    jv_free(b);
    b = parse_ok("-1e19");
    assert_true(jv_num_cmp(a, b, &cmp));
    assert_int_equal(cmp, 1);
    jv_free(b);
    jv_free(a);
}

/* JV_KEEP_NUMBER_TEXT: every number keeps its text, through jv_copy; values, equality and
 * dump are unchanged by it; without the flag, and for built numbers, there is none. */
static void test_number_text(void **state)
{
    (void)state;
    const char *text = "[53.818500, -0, 1E5, 4500, -1.566250, 0.10, 9223372036854775807, \"7\", "
                       "{\"n\": -0.0}]";
    const char *want[] = {"53.818500", "-0", "1E5", "4500", "-1.566250", "0.10",
                          "9223372036854775807"};
    jv *v = NULL;
    struct jv_error err = {0};
    assert_true(jv_parse_opts(text, strlen(text), NULL, JV_KEEP_NUMBER_TEXT, &v, &err));
    jv *c = jv_copy(v);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(jv_number_text(jv_index(v, i)), want[i]);
        assert_string_equal(jv_number_text(jv_index(c, i)), want[i]);
    }
    assert_true(jv_is_double(jv_index(v, 0)));
    assert_true(jv_double(jv_index(v, 0)) == 53.8185);
    assert_true(jv_is_int(jv_index(v, 3)));
    assert_int_equal(jv_int(jv_index(v, 3)), 4500);
    assert_null(jv_number_text(jv_index(v, 7))); /* a string */
    assert_string_equal(jv_number_text(jv_get(jv_index(v, 8), "n")), "-0.0");
    jv *plain = parse_ok(text);
    assert_null(jv_number_text(jv_index(plain, 0)));
    assert_true(jv_equal(v, plain));
    char *d1 = jv_dump(v, NULL), *d2 = jv_dump(plain, NULL);
    assert_string_equal(d1, d2);
    free(d1);
    free(d2);
    jv *built = jv_new_double(53.8185);
    assert_null(jv_number_text(built));
    jv_free(built);
    jv_free(plain);
    jv_free(c);
    jv_free(v);

    /* The flag changes no limit: a number's text is still bounded by max_string. */
    struct jv_limits lim = {.max_string = 8};
    assert_false(jv_parse_opts("123456789", 9, &lim, JV_KEEP_NUMBER_TEXT, &v, &err));
    assert_null(v);
    assert_non_null(strstr(err.msg, "longer than 8"));
}

static void test_nul(void **state)
{
    (void)state;
    parse_bad_n("\"ab\0cd\"", 7, NULL, "NUL", 3);
    parse_bad_n("{}\0", 3, NULL, "NUL", 2);
    parse_bad_n("\0", 1, NULL, "NUL", 0);
    parse_bad("\"ab\\u0000cd\"", "NUL");
    parse_bad("{\"k\\u0000\": 1}", "NUL");

    jv *v = jv_new_string("a\0b", 3);
    assert_null(v);
    jv *o = jv_new_object();
    jv *one = jv_new_int(1);
    assert_false(jv_object_add(o, "a\0b", 3, one));
    jv_free(one);
    jv_free(o);
}

static void test_utf8(void **state)
{
    (void)state;
    parse_bad_n("\"\xff\"", 3, NULL, "UTF-8", 1);
    parse_bad_n("\"ab\xc0\x80\"", 6, NULL, "UTF-8", 3);    /* overlong NUL */
    parse_bad_n("\"\xe0\x80\xaf\"", 5, NULL, "UTF-8", 1);  /* overlong '/' */
    parse_bad_n("\"\xed\xa0\x80\"", 5, NULL, "UTF-8", 1);  /* encoded surrogate */
    parse_bad_n("\"\xf4\x90\x80\x80\"", 6, NULL, "UTF-8", 1); /* past U+10FFFF */
    parse_bad_n("\"\xf5\x80\x80\x80\"", 6, NULL, "UTF-8", 1);
    parse_bad_n("\"\xe2\x82\"", 4, NULL, "UTF-8", 1);     /* truncated */
    parse_bad_n("\"\x80\"", 3, NULL, "UTF-8", 1);         /* stray continuation */
    parse_bad_n("[1]\xc3", 4, NULL, "UTF-8", 3);
    parse_bad("\"\\ud800\"", "surrogate");
    parse_bad("\"\\udc00\"", "surrogate");
    parse_bad("\"\\ud800\\u0041\"", "surrogate");
    parse_bad("\"\\ud800x\"", "surrogate");

    jv *v = parse_ok("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    assert_int_equal(jv_len(v), 9);
    jv_free(v);

    /* A surrogate pair decodes to one 4-byte character. */
    v = parse_ok("\"\\ud83d\\ude00\"");
    size_t len;
    const char *s = jv_str(v, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(s, "\xf0\x9f\x98\x80", 4);
    jv_free(v);

    assert_null(jv_new_string("\xed\xa0\x80", 3));
    assert_true(jv_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    assert_false(jv_utf8_valid("\xf4\x8f\xbf", 3));
}

static char *nested(size_t depth, char open, char close)
{
    char *s = malloc(2 * depth + 1);
    memset(s, open, depth);
    memset(s + depth, close, depth);
    s[2 * depth] = '\0';
    return s;
}

static void test_depth(void **state)
{
    (void)state;
    char *ok = nested(JV_DEFAULT_MAX_DEPTH, '[', ']');
    jv *v = parse_ok(ok);
    jv_free(v);
    free(ok);

    char *deep = nested(JV_DEFAULT_MAX_DEPTH + 1, '[', ']');
    parse_bad(deep, "nesting is deeper than 64");
    free(deep);

    /* 100k levels, only opened: rejected at the limit, nothing left to leak or crash. */
    size_t n = 100000;
    char *open = malloc(n);
    memset(open, '[', n);
    parse_bad_n(open, n, NULL, "deeper", 65);
    struct jv_limits big = {.max_depth = 1000000, .max_bytes = 4u << 20};
    parse_bad_n(open, n, &big, "", (size_t)-1); /* premature end, still no crash */
    free(open);

    /* Objects count too. */
    struct jv_limits three = {.max_depth = 3};
    v = NULL;
    struct jv_error err;
    assert_true(jv_parse("{\"a\":[{}]}", 10, &three, &v, &err));
    jv_free(v);
    parse_bad_n("{\"a\":[{\"b\":[]}]}", 16, &three, "deeper than 3", (size_t)-1);
}

/* Trees deeper than any recursive walk survives: parse, copy, compare, dump and free them. */
static void test_deep_tree_walks(void **state)
{
    (void)state;
    size_t n = 200000;
    char *text = nested(n, '[', ']');
    struct jv_limits lim = {.max_depth = n, .max_bytes = 2 * n, .max_nodes = n};
    jv *v = NULL;
    struct jv_error err;
    assert_true(jv_parse(text, 2 * n, &lim, &v, &err));
    assert_int_equal(jv_count(v, SIZE_MAX), n);
    jv *c = jv_copy(v);
    assert_true(jv_equal(v, c));
    size_t len;
    char *d = jv_dump(c, &len);
    assert_int_equal(len, 2 * n);
    assert_string_equal(d, text);
    free(d);
    jv_free(c);
    jv_free(v);

    /* Built by hand as well, with objects. */
    jv *root = jv_new_int(7);
    for (size_t i = 0; i < n; i++) {
        jv *o = jv_new_object();
        assert_true(jv_object_add(o, "k", 1, root));
        root = o;
    }
    c = jv_copy(root);
    assert_true(jv_equal(root, c));
    jv_free(c);
    jv_free(root);
    free(text);
}

static void test_duplicates(void **state)
{
    (void)state;
    parse_bad_n("{\"a\":1,\"a\":2}", 13, NULL, "duplicate object key \"a\"", 10);
    parse_bad("{\"a\":1,\"b\":{\"x\":1,\"x\":1}}", "duplicate");
    parse_bad("{\"\\u0061\":1,\"a\":2}", "duplicate"); /* same key after unescaping */

    /* Past the hash-index threshold. */
    char buf[4096];
    size_t used = 0;
    used += (size_t)snprintf(buf + used, sizeof(buf) - used, "{");
    for (int i = 0; i < 100; i++)
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "\"k%d\":%d,", i, i);
    used += (size_t)snprintf(buf + used, sizeof(buf) - used, "\"k57\":0}");
    parse_bad(buf, "duplicate object key \"k57\"");

    /* The same key in sibling objects is fine. */
    jv *v = parse_ok("[{\"a\":1},{\"a\":2}]");
    jv_free(v);
}

static void test_trailing_and_grammar(void **state)
{
    (void)state;
    parse_bad("{} x", "trailing garbage");
    parse_bad("1 2", "trailing garbage");
    parse_bad("{}{}", "trailing garbage");
    parse_bad("", "");
    parse_bad("   ", "");
    parse_bad("[1,2", "");
    parse_bad("[1,]", "");
    parse_bad("{\"a\" 1}", "");
    parse_bad("/* c */ 1", "");
    parse_bad("// c\n1", "");
    parse_bad("'a'", "");
    parse_bad("NaN", "");
    parse_bad("01", "");
    parse_bad("\"tab\there\"", "");
    jv *v = parse_ok(" \n\t[ ] \r\n");
    assert_true(jv_is_array(v));
    jv_free(v);
}

static void test_limits(void **state)
{
    (void)state;
    struct jv_limits lim = {.max_bytes = 10};
    jv *v = NULL;
    struct jv_error err;
    assert_true(jv_parse("[1,2,3,45]", 10, &lim, &v, &err));
    jv_free(v);
    parse_bad_n("[1,2,3,456]", 11, &lim, "longer than 10 bytes", 10);

    lim = (struct jv_limits){.max_string = 4};
    assert_true(jv_parse("[\"abcd\"]", 8, &lim, &v, &err));
    jv_free(v);
    parse_bad_n("[\"abcde\"]", 9, &lim, "string is longer than 4", (size_t)-1);
    parse_bad_n("{\"abcde\":1}", 11, &lim, "object key is longer than 4", (size_t)-1);
    parse_bad_n("123456", 6, &lim, "number is longer than 4", 6); /* found at the end */
    /* The limit is on the decoded bytes: 4 escapes of 6 characters are 4 bytes. */
    assert_true(jv_parse("\"\\u0041\\u0042\\u0043\\u0044\"", 26, &lim, &v, &err));
    jv_free(v);

    lim = (struct jv_limits){.max_members = 3};
    assert_true(jv_parse("[1,2,3]", 7, &lim, &v, &err));
    jv_free(v);
    parse_bad_n("[1,2,3,4]", 9, &lim, "more than 3 elements", (size_t)-1);
    parse_bad_n("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 25, &lim, "more than 3 members",
                (size_t)-1);
}

static void test_node_limit(void **state)
{
    (void)state;
    struct jv_limits lim = {.max_nodes = 4};
    jv *v = NULL;
    struct jv_error err;
    assert_true(jv_parse("[1,[2]]", 7, &lim, &v, &err)); /* 4 values */
    jv_free(v);
    parse_bad_n("[1,[2],3]", 9, &lim, "more than 4 values", (size_t)-1);
}

static void test_error_offsets(void **state)
{
    (void)state;
    jv *v = NULL;
    struct jv_error err;
    assert_false(jv_parse("{\"a\": tru}", 10, NULL, &v, &err));
    assert_true(err.offset >= 6 && err.offset <= 10);
    assert_null(strchr(err.msg, '\n'));
    assert_false(jv_parse("[1, 2, x]", 9, NULL, &v, &err));
    assert_int_equal(err.offset, 8); /* just past the offending 'x' at 7 */
    parse_bad_n("", 0, NULL, "premature EOF", 0);
    parse_bad_n("  ", 2, NULL, "premature EOF", 2);
    parse_bad_n("[1", 2, NULL, "premature EOF", 2);
    /* NULL err is allowed. */
    assert_false(jv_parse("[", 1, NULL, &v, NULL));
}

static void test_access_and_path(void **state)
{
    (void)state;
    jv *v = parse_ok("{\"a\":{\"b\":[10,{\"c\":\"x\"},null]},\"n\":null,\"e\":\"\","
                     "\"10\":\"ten\",\"z\":1}");
    assert_int_equal(jv_len(v), 5);
    const char *key;
    size_t klen;
    assert_non_null(jv_member(v, 0, &key, &klen));
    assert_string_equal(key, "a");
    assert_non_null(jv_member(v, 3, &key, &klen));
    assert_string_equal(key, "10");
    assert_null(jv_member(v, 5, &key, &klen));

    const jv *c = jv_path(v, "a.b.1.c", 7);
    assert_string_equal(jv_str(c, NULL), "x");
    assert_true(jv_path(v, "", 0) == v);
    assert_int_equal(jv_int(jv_path(v, "a.b.0", 5)), 10);
    assert_true(jv_is_null(jv_path(v, "a.b.2", 5)));     /* present null */
    assert_null(jv_path(v, "a.b.3", 5));                  /* out of range */
    assert_null(jv_path(v, "a.b.01", 6));                 /* not canonical */
    assert_null(jv_path(v, "a.b.-1", 6));
    assert_null(jv_path(v, "a.b.1.c.d", 9));              /* through a string */
    assert_null(jv_path(v, "a.x", 3));
    assert_null(jv_path(v, "a.", 2));
    assert_true(jv_is_null(jv_path(v, "n", 1)));
    assert_string_equal(jv_str(jv_path(v, "10", 2), NULL), "ten"); /* digits as object key */
    assert_null(jv_path(NULL, "a", 1));

    assert_null(jv_get(v, "missing"));
    assert_non_null(jv_get(v, "z"));
    assert_null(jv_get(jv_get(v, "z"), "a"));
    assert_null(jv_index(v, 0));
    assert_null(jv_index(jv_path(v, "a.b", 3), 3));
    assert_int_equal(jv_len(jv_get(v, "z")), 0);
    assert_null(jv_str(jv_get(v, "z"), NULL));
    assert_false(jv_is_null(NULL));
    assert_int_equal(jv_typeof(NULL), JV_NULL);
    jv_free(v);
}

static void test_builders(void **state)
{
    (void)state;
    jv *o = jv_new_object();
    jv *arr = jv_new_array();
    jv_array_push(arr, jv_new_int(1));
    jv_array_push(arr, jv_new_double(2.5));
    jv_array_push(arr, jv_new_double(1.0 / 0.0)); /* becomes null */
    jv *s = jv_new_string("h\xc3\xa9\n\"\\\x01", 7);
    assert_non_null(s);
    jv_array_push(arr, s);
    assert_true(jv_object_add(o, "list", 4, arr));
    jv *t = jv_new_bool(true);
    assert_true(jv_object_add(o, "ok", 2, t));
    jv *dup = jv_new_null();
    assert_false(jv_object_add(o, "ok", 2, dup));
    jv_free(dup);
    assert_dump(o, "{\"list\":[1,2.5,null,\"h\xc3\xa9\\n\\\"\\\\\\u0001\"],\"ok\":true}");

    /* Many keys: the hash index must find every one, in insertion order. */
    jv *big = jv_new_object();
    char key[16];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(key, sizeof(key), "key%d", i);
        assert_true(jv_object_add(big, key, (size_t)n, jv_new_int(i)));
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_int_equal(jv_int(jv_get(big, key)), i);
        const char *k;
        assert_int_equal(jv_int(jv_member(big, (size_t)i, &k, NULL)), i);
        assert_string_equal(k, key);
    }
    assert_null(jv_get(big, "key2000"));
    jv *c = jv_copy(big);
    assert_int_equal(jv_int(jv_get(c, "key1999")), 1999);
    assert_true(jv_equal(big, c));
    jv_free(c);
    jv_free(big);
    jv_free(o);
}

static void test_equal(void **state)
{
    (void)state;
    jv *a = parse_ok("{\"x\":[1,2,{\"y\":null}],\"z\":\"s\"}");
    jv *b = parse_ok("{\"z\":\"s\",\"x\":[1.0,2,{\"y\":null}]}");
    jv *c = parse_ok("{\"z\":\"s\",\"x\":[1,2,{\"y\":false}]}");
    jv *d = parse_ok("{\"z\":\"s\",\"x\":[1,2,{\"y\":null}],\"w\":1}");
    jv *e = parse_ok("{\"z\":\"s\",\"q\":[1,2,{\"y\":null}]}");
    assert_true(jv_equal(a, b));
    assert_false(jv_equal(a, c));
    assert_false(jv_equal(a, d));
    assert_false(jv_equal(a, e));
    assert_true(jv_equal(NULL, NULL));
    assert_false(jv_equal(a, NULL));
    assert_false(jv_equal(jv_static_null(), jv_static_bool(false)));
    jv_free(a);
    jv_free(b);
    jv_free(c);
    jv_free(d);
    jv_free(e);
}

static void roundtrip(const char *text, const char *canonical)
{
    jv *v = parse_ok(text);
    char *d = jv_dump(v, NULL);
    assert_string_equal(d, canonical);
    jv *w = parse_ok(d);
    assert_true(jv_equal(v, w));
    char *d2 = jv_dump(w, NULL);
    assert_string_equal(d, d2); /* types too: 1.0 stays a double */
    free(d);
    free(d2);
    jv_free(v);
    jv_free(w);
}

static void test_roundtrip(void **state)
{
    (void)state;
    roundtrip(" { \"b\" : [ 1 , 2.5 , -0.0, 1e300, 5.0, 0.1, 1E-7 ] , \"a\" : { } , \"c\": [] } ",
              "{\"b\":[1,2.5,-0.0,1e+300,5.0,0.1,1e-07],\"a\":{},\"c\":[]}");
    roundtrip("[\"\\u00e9\\t\\/\\b\\f\\u001f\"]", "[\"\xc3\xa9\\t/\\u0008\\u000c\\u001f\"]");
    roundtrip("[-9223372036854775808,9223372036854775807,0]",
              "[-9223372036854775808,9223372036854775807,0]");
    roundtrip("{\"\":\"\"}", "{\"\":\"\"}");
    roundtrip("null", "null");
    roundtrip("[true,false,null,[[[]]],{\"x\":{\"y\":{}}}]",
              "[true,false,null,[[[]]],{\"x\":{\"y\":{}}}]");
    roundtrip("0.30000000000000004", "0.30000000000000004");
}

static void test_hash_seed(void **state)
{
    (void)state;
    unsigned char seed[16];
    for (int i = 0; i < 16; i++)
        seed[i] = (unsigned char)(i * 37 + 11);
    jv_set_hash_seed(seed);
    jv *v = parse_ok("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,"
                     "\"j\":10}");
    assert_int_equal(jv_int(jv_get(v, "j")), 10);
    assert_int_equal(jv_int(jv_get(v, "a")), 1);
    assert_null(jv_get(v, "k"));
    jv_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_number_text),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_deep_tree_walks),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_trailing_and_grammar),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_node_limit),
        cmocka_unit_test(test_error_offsets),
        cmocka_unit_test(test_access_and_path),
        cmocka_unit_test(test_builders),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_hash_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
