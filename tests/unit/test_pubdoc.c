/*
 * Unit tests for api/pubdoc: the canonical form of one item (docs/publications.md: member order
 * by UTF-8 bytes, minimal escapes, numbers exactly as the database wrote them, what is
 * refused), table-driven; and the document built from snapshot rows (a PGresult made with
 * libpq's own constructors): its exact bytes, hashes, counts and audit head, and the refusals
 * of rows out of order, a missing or repeated audit row and a bad item.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/pubdoc.h"

/* An item as the database wrote it, and its canonical form (NULL: refused, with `error` in
 * the reason). */
struct canon_case {
    const char *in, *out, *error;
};

static const struct canon_case canon_cases[] = {
    /* member order: UTF-8 bytes as unsigned ("z" 7A < "É" C3 89 < "é" C3 A9), nested too */
    {"{\"b\": 1, \"a\": [true, false, null], \"A\": \"x\"}",
     "{\"A\":\"x\",\"a\":[true,false,null],\"b\":1}", NULL},
    {"{\"\xc3\xa9\": 1, \"z\": {\"y\": 2, \"x\": 3}, \"\xc3\x89\": 3}",
     "{\"z\":{\"x\":3,\"y\":2},\"\xc3\x89\":3,\"\xc3\xa9\":1}", NULL},
    {"{}", "{}", NULL},
    {"[]", "[]", NULL},
    {" { \"a\" :\n[ 1 ,\t2 ] } ", "{\"a\":[1,2]}", NULL},
    /* minimal escapes; "/" and non-ASCII literal; escapes of non-ASCII decoded */
    {"\"a\\u0001\\u001F\\b\\t\\n\\f\\r\\\"\\\\\\/\\u00e9\xc3\xa9 \\u2028\"",
     "\"a\\u0001\\u001f\\b\\t\\n\\f\\r\\\"\\\\/\xc3\xa9\xc3\xa9 \xe2\x80\xa8\"", NULL},
    {"\"\\ud83c\\udf89 </script>\"", "\"\xf0\x9f\x8e\x89 </script>\"", NULL},
    /* numbers exactly as written: six decimals kept, integers as they are */
    {"[53.818500, -1.566250, 0.000000, 0, -1, 4500, 9223372036854775807]",
     "[53.818500,-1.566250,0.000000,0,-1,4500,9223372036854775807]", NULL},
    /* refused */
    {"1e5", NULL, "canonical form"},
    {"[1.5E2]", NULL, "canonical form"},
    {"9223372036854775808", NULL, "64 bits"},
    {"{\"a\": 1, \"a\": 2}", NULL, "duplicate"},
    {"{\"a\":", NULL, "not JSON"},
    {"[1] x", NULL, "not JSON"},
    {"\"\\u0000\"", NULL, "NUL"},
    {"\"\xff\"", NULL, "UTF-8"},
};

static char *canonical(const char *in, char *err, size_t errlen)
{
    struct pubdoc_buf b = {0};
    if (!pubdoc_canonical(in, &b, err, errlen)) {
        free(b.p); /* it may hold part of the output */
        return NULL;
    }
    char *s = strndup(b.p, b.len);
    free(b.p);
    return s;
}

static void test_canonical(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof canon_cases / sizeof canon_cases[0]; i++) {
        const struct canon_case *c = &canon_cases[i];
        char err[200] = "";
        char *got = canonical(c->in, err, sizeof err);
        if (c->out) {
            if (!got)
                fail_msg("case %zu (%s): refused: %s", i, c->in, err);
            if (strcmp(got, c->out) != 0)
                fail_msg("case %zu (%s): got %s, want %s", i, c->in, got, c->out);
        } else {
            if (got)
                fail_msg("case %zu (%s): accepted as %s", i, c->in, got);
            if (!strstr(err, c->error))
                fail_msg("case %zu (%s): error \"%s\" lacks \"%s\"", i, c->in, err, c->error);
        }
        free(got);
    }
}

/* Nesting: 32 levels are fine, 33 are refused. */
static void test_depth(void **state)
{
    (void)state;
    char in[80], err[200] = "";
    for (int depth = 32; depth <= 33; depth++) {
        memset(in, '[', (size_t)depth);
        memset(in + depth, ']', (size_t)depth);
        in[2 * depth] = '\0';
        char *got = canonical(in, err, sizeof err);
        if (depth == 32) {
            assert_non_null(got);
            assert_string_equal(got, in);
        } else {
            assert_null(got);
            assert_non_null(strstr(err, "deeper than 32"));
        }
        free(got);
    }
}

/* A snapshot result: rows of (section, item). */
static PGresult *rows(const char *const *cells, int n)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    assert_non_null(r);
    PGresAttDesc attrs[2] = {
        {.name = "section", .typid = 25, .typlen = -1, .atttypmod = -1},
        {.name = "item", .typid = 25, .typlen = -1, .atttypmod = -1},
    };
    assert_true(PQsetResultAttrs(r, 2, attrs));
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 2; c++)
            assert_true(PQsetvalue(r, i, c, (char *)cells[2 * i + c], (int)strlen(cells[2 * i + c])));
    return r;
}

#define HASH "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_build(void **state)
{
    (void)state;
    const char *cells[] = {
        "agreements", "{\"id\": \"f1\", \"price_pence\": 4500}",
        "audit", "{\"seq\": 7, \"hash\": \"" HASH "\"}",
        "commissioners", "{\"code\": \"E1\", \"offers\": [{\"open\": true}, {\"open\": false}], \"lat\": 53.818500}",
        "commissioners", "{\"code\": \"E2\", \"offers\": []}",
        "sites", "{\"private\": true, \"id\": \"d1\", \"lon\": -1.566250}",
    };
    PGresult *r = rows(cells, 5);
    struct pubdoc d;
    char err[256] = "";
    if (!pubdoc_build(r, &d, err, sizeof err))
        fail_msg("pubdoc_build: %s", err);
    const char *want =
        "{\"agreements\":[{\"id\":\"f1\",\"price_pence\":4500}],"
        "\"audit\":{\"hash\":\"" HASH "\",\"seq\":7},"
        "\"commissioners\":[{\"code\":\"E1\",\"lat\":53.818500,\"offers\":[{\"open\":true},{\"open\":false}]},"
        "{\"code\":\"E2\",\"offers\":[]}],"
        "\"format\":\"aqpd-directory/1\",\"organisations\":[],\"qualifications\":[],"
        "\"service_types\":[],\"sites\":[{\"id\":\"d1\",\"lon\":-1.566250,\"private\":true}]}";
    assert_int_equal(d.doc.len, strlen(want));
    assert_memory_equal(d.doc.p, want, d.doc.len);
    /* printf '%s' "$want" | sha256sum; and the same without "audit":{...}, */
    assert_string_equal(d.sha256, "fbdf8f13c25f939906b6bd7e2bc3049ab9032c6edbbc4e7f3f686f31df6cf0ed");
    assert_string_equal(d.content_sha256, "5bb0f04e2b76c5e06618331666bb6bf881cf41e3fa7a771bd45af4e9afa9fdc8");
    assert_string_equal(d.counts, "{\"agreements\":1,\"commissioners\":2,\"offers\":2,\"organisations\":0,"
                                  "\"qualifications\":0,\"service_types\":0,\"sites\":1}");
    assert_true(d.audit_seq == 7);
    assert_string_equal(d.audit_hash, HASH);
    pubdoc_free(&d);
    PQclear(r);
}

/* Rows the document cannot be built from, and the reason given. */
static void test_build_refused(void **state)
{
    (void)state;
    const char *audit = "{\"seq\": 1, \"hash\": \"" HASH "\"}";
    const struct {
        const char *cells[6];
        int n;
        const char *error;
    } cases[] = {
        {{"sites", "{}"}, 1, "no audit row"},
        {{"audit", audit, "audit", audit}, 2, "more than one audit row"},
        {{"audit", audit, "sites", "{}", "commissioners", "{}"}, 3, "row 3: unknown or misordered section \"commissioners\""},
        {{"audit", audit, "zzz", "{}"}, 2, "row 2: unknown or misordered section \"zzz\""},
        {{"audit", "{\"seq\": 1.5, \"hash\": \"" HASH "\"}"}, 1, "audit row 1: the audit row is not"},
        {{"audit", "{\"seq\": 1, \"hash\": \"abc\"}"}, 1, "audit row 1: the audit row is not"},
        {{"audit", audit, "sites", "{\"lat\": 5e1}"}, 2, "sites row 2: number \"5e1\" is not in a canonical form"},
        {{"audit", audit, "sites", "{\"a\": 1, \"a\": 1}"}, 2, "sites row 2: not JSON: duplicate object key \"a\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        PGresult *r = rows(cases[i].cells, cases[i].n);
        struct pubdoc d;
        char err[256] = "";
        if (pubdoc_build(r, &d, err, sizeof err))
            fail_msg("case %zu: built", i);
        if (!strstr(err, cases[i].error))
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].error);
        assert_null(d.doc.p);
        PQclear(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_build_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
