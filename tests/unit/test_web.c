/*
 * Unit tests for api/web: If-None-Match matching (lists, weak tags, "*", malformed headers)
 * and the page's Content-Security-Policy with and without a tile server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "api/api.h"

static void test_etag_matches(void **state)
{
    (void)state;
    const char *tag = "\"0123456789abcdef0123456789abcdef\"";
    struct {
        const char *header;
        bool match;
    } cases[] = {
        {"\"0123456789abcdef0123456789abcdef\"", true},
        {"W/\"0123456789abcdef0123456789abcdef\"", true}, /* weak comparison */
        {"\"other\", \"0123456789abcdef0123456789abcdef\"", true},
        {"\"other\",W/\"0123456789abcdef0123456789abcdef\" , \"x\"", true},
        {"*", true},
        {" * ", true},
        {"", false},
        {"\"other\"", false},
        {"\"0123456789abcdef0123456789abcde\"", false},   /* a prefix */
        {"\"0123456789abcdef0123456789abcdef0\"", false}, /* longer */
        {"0123456789abcdef0123456789abcdef", false},      /* unquoted */
        {"\"0123456789abcdef0123456789abcdef", false},    /* unterminated */
        {"\"x\" junk, \"0123456789abcdef0123456789abcdef\"", false}, /* malformed list */
        {"*, \"x\"", false},
        {"\"x\", *", false},
        {"w/\"0123456789abcdef0123456789abcdef\"", false}, /* W is case-sensitive */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (web_etag_matches(cases[i].header, tag) != cases[i].match)
            fail_msg("If-None-Match: %s: expected %s", cases[i].header,
                     cases[i].match ? "a match" : "no match");
    assert_false(web_etag_matches(NULL, tag));
    assert_false(web_etag_matches("*", NULL));
}

static void test_csp(void **state)
{
    (void)state;
    char csp[1024];
    web_csp("", csp, sizeof csp);
    assert_string_equal(csp, "default-src 'none'; script-src 'self'; style-src 'self'; "
                             "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                             "form-action 'self'; frame-ancestors 'none'");
    web_csp(NULL, csp, sizeof csp);
    assert_non_null(strstr(csp, "img-src 'self'; "));
    web_csp("https://{s}.tile.example.org/{z}/{x}/{y}.png", csp, sizeof csp);
    assert_non_null(strstr(csp, "img-src 'self' https://*.tile.example.org; connect-src 'self';"));
    /* Nothing unvalidated reaches the header. */
    web_csp("https://evil.org; script-src 'unsafe-inline'/{z}/{x}/{y}", csp, sizeof csp);
    assert_null(strstr(csp, "evil"));
    assert_null(strstr(csp, "unsafe"));
    /* Never inline code or styles, whatever the tile server. */
    assert_null(strstr(csp, "unsafe-inline"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etag_matches),
        cmocka_unit_test(test_csp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
