/*
 * Unit tests for the route table and matching in api/router: captures, percent-decoding,
 * 404 versus 405, HEAD as GET, the Allow header, and that the OpenAPI document and the route
 * table describe the same API (a route missing from either side fails).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "api/api.h"

static void test_static_routes(void **state)
{
    (void)state;
    char *params[LIMIT_ROUTE_PARAMS] = {0};
    int n = -1;
    bool pm;
    const struct api_route *r = api_route_match("GET", "/healthz", params, &n, &pm);
    assert_non_null(r);
    assert_string_equal(r->pattern, "/healthz");
    assert_int_equal(n, 0);
    assert_true(pm);

    r = api_route_match("HEAD", "/readyz", params, &n, &pm);
    assert_non_null(r);
    assert_string_equal(r->method, "GET");

    r = api_route_match("POST", "/healthz", params, &n, &pm);
    assert_null(r);
    assert_true(pm); /* 405, not 404 */

    r = api_route_match("GET", "/healthz/", params, &n, &pm);
    assert_null(r);
    assert_false(pm);
    r = api_route_match("GET", "/nope", params, &n, &pm);
    assert_null(r);
    assert_false(pm);
    r = api_route_match("GET", "/", params, &n, &pm);
    assert_non_null(r); /* the web page */
    assert_string_equal(r->pattern, "/");
    assert_int_equal(n, 0);
    r = api_route_match("GET", "//", params, &n, &pm);
    assert_null(r);
    assert_false(pm);
    r = api_route_match("POST", "/", params, &n, &pm);
    assert_null(r);
    assert_true(pm);

    /* Assets: one segment per level; the deeper pattern wins only at its depth. */
    r = api_route_match("GET", "/assets/app.js", params, &n, &pm);
    assert_non_null(r);
    assert_string_equal(r->pattern, "/assets/{file}");
    assert_int_equal(n, 1);
    assert_string_equal(params[0], "app.js");
    free(params[0]);
    params[0] = NULL;
    r = api_route_match("GET", "/assets/leaflet/images/layers.png", params, &n, &pm);
    assert_non_null(r);
    assert_string_equal(r->pattern, "/assets/leaflet/images/{file}");
    free(params[0]);
    params[0] = NULL;
    r = api_route_match("GET", "/assets/a/b/c/d", params, &n, &pm);
    assert_null(r);
    assert_false(pm);
}

static void test_allow_header(void **state)
{
    (void)state;
    char buf[128];
    api_allowed_methods("/metrics", buf, sizeof buf);
    assert_string_equal(buf, "GET, HEAD");
    api_allowed_methods("/nothing", buf, sizeof buf);
    assert_string_equal(buf, "");
}

/* ---- OpenAPI document against the route table ---- */

static yajl_val load_openapi(void)
{
    FILE *f = fopen(AQPD_OPENAPI_PATH, "rb");
    assert_non_null(f);
    static char buf[4 * 1024 * 1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char err[512];
    /* A trusted file from the repository, not a request body. */
    yajl_val doc = yajl_tree_parse(buf, err, sizeof err);
    if (!doc)
        fail_msg("api/openapi.json is not JSON: %s", err);
    return doc;
}

static void lower(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

static void test_every_route_documented(void **state)
{
    (void)state;
    yajl_val doc = load_openapi();
    const char *pp[] = {"paths", NULL};
    yajl_val paths = yajl_tree_get(doc, pp, yajl_t_object);
    assert_non_null(paths);
    for (size_t i = 0; i < api_nroutes; i++) {
        char m[16];
        lower(api_routes[i].method, m, sizeof m);
        const char *p[] = {api_routes[i].pattern, m, NULL};
        yajl_val op = yajl_tree_get(paths, p, yajl_t_object);
        if (!op)
            fail_msg("route %s %s is missing from api/openapi.json", api_routes[i].method,
                     api_routes[i].pattern);
        const char *oid[] = {"operationId", NULL};
        const char *resp[] = {"responses", NULL};
        if (!yajl_tree_get(op, oid, yajl_t_string) || !yajl_tree_get(op, resp, yajl_t_object))
            fail_msg("%s %s needs operationId and responses", api_routes[i].method,
                     api_routes[i].pattern);
    }
    yajl_tree_free(doc);
}

static void test_every_documented_operation_routed(void **state)
{
    (void)state;
    static const char *const methods[] = {"get", "put", "post", "delete", "patch", "head",
                                          "options", "trace"};
    yajl_val doc = load_openapi();
    const char *pp[] = {"paths", NULL};
    yajl_val paths = yajl_tree_get(doc, pp, yajl_t_object);
    assert_non_null(paths);
    size_t nops = 0;
    for (size_t i = 0; i < YAJL_GET_OBJECT(paths)->len; i++) {
        const char *path = YAJL_GET_OBJECT(paths)->keys[i];
        yajl_val item = YAJL_GET_OBJECT(paths)->values[i];
        for (size_t k = 0; k < YAJL_GET_OBJECT(item)->len; k++) {
            const char *m = YAJL_GET_OBJECT(item)->keys[k];
            bool is_method = false;
            for (size_t x = 0; x < sizeof methods / sizeof methods[0]; x++)
                is_method |= strcmp(methods[x], m) == 0;
            if (!is_method)
                continue;
            nops++;
            bool found = false;
            for (size_t r = 0; r < api_nroutes; r++) {
                char lm[16];
                lower(api_routes[r].method, lm, sizeof lm);
                found |= strcmp(lm, m) == 0 && strcmp(api_routes[r].pattern, path) == 0;
            }
            if (!found)
                fail_msg("api/openapi.json documents %s %s, which the route table lacks", m, path);
        }
    }
    assert_int_equal(nops, api_nroutes);
    yajl_tree_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_routes),
        cmocka_unit_test(test_allow_header),
        cmocka_unit_test(test_every_route_documented),
        cmocka_unit_test(test_every_documented_operation_routed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
