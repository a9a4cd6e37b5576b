/*
 * Unit tests for daemon/cfg: defaults, file parsing, environment override, validation, and
 * the error messages that name the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/cfg.h"
#include "daemon/limits.h"

static void test_defaults(void **state)
{
    (void)state;
    struct cfg c;
    cfg_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8443");
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8443);
    assert_int_equal(c.max_body_bytes, 1024 * 1024);
    assert_int_equal(c.max_header_bytes, LIMIT_MAX_HEADER_BYTES);
    assert_int_equal(c.pool_size, LIMIT_POOL_SIZE);
    assert_null(c.database_url);
    assert_true(c.search_index);
    cfg_free(&c);
}

static void test_parse_text(void **state)
{
    (void)state;
    struct cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    const char *text = "# comment\n"
                       "database_url = host=/tmp dbname=x   \n"
                       "\n"
                       "  listen=0.0.0.0:0  # trailing comment\n"
                       "max_body_bytes = 2048\n"
                       "log_level = debug";
    assert_true(cfg_parse_text(&c, text, "t.conf", err, sizeof err));
    assert_string_equal(c.database_url, "host=/tmp dbname=x");
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 0);
    assert_int_equal(c.max_body_bytes, 2048);
    assert_string_equal(c.log_level, "debug");
    cfg_free(&c);
}

static void expect_error(const char *text, const char *needle)
{
    struct cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    assert_false(cfg_parse_text(&c, text, "t.conf", err, sizeof err));
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
    cfg_free(&c);
}

static void test_bad_values_name_the_key(void **state)
{
    (void)state;
    expect_error("listen = localhost", "t.conf:1: listen:");
    expect_error("listen = host:99999", "listen:");
    expect_error("listen = :8443", "listen:");
    expect_error("listen = ::1:8443", "listen:");
    expect_error("\nmax_body_bytes = 10", "t.conf:2: max_body_bytes:");
    expect_error("max_body_bytes = 12abc", "max_body_bytes:");
    expect_error("max_body_bytes = -5", "max_body_bytes:");
    expect_error("pool_size = 0", "pool_size:");
    expect_error("pool_size = 99999999999999999999999", "pool_size:");
    expect_error("log_level = loud", "log_level:");
    expect_error("no_such_key = 1", "no_such_key: unknown key");
    expect_error("just text", "t.conf:1: expected");
    expect_error("tls_cert =", "tls_cert: empty value");
    expect_error("search_index = yes", "t.conf:1: search_index: \"yes\" is not true or false");
    expect_error("search_index = 0", "search_index:");
    expect_error("search_index =", "search_index:");
}

static void test_booleans(void **state)
{
    (void)state;
    struct cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    assert_true(cfg_parse_text(&c, "search_index = false\n", "t.conf", err, sizeof err));
    assert_false(c.search_index);
    assert_true(cfg_parse_text(&c, "search_index = true\n", "t.conf", err, sizeof err));
    assert_true(c.search_index);
    /* A refused value leaves the old one. */
    assert_false(cfg_set(&c, "search_index", "False", err, sizeof err));
    assert_true(c.search_index);
    cfg_free(&c);
}

static void test_listen_forms(void **state)
{
    (void)state;
    char *host = NULL;
    uint16_t port = 1;
    assert_true(cfg_parse_listen("[::1]:0", &host, &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    free(host);
    assert_true(cfg_parse_listen("localhost:65535", &host, &port));
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 65535);
    free(host);
    assert_false(cfg_parse_listen("localhost:65536", &host, &port));
    assert_false(cfg_parse_listen("[::1]8443", &host, &port));
    assert_false(cfg_parse_listen("bad host:1", &host, &port));
}

static const char *fake_env(const char *name)
{
    if (strcmp(name, "AQPD_LISTEN") == 0)
        return "127.0.0.1:9999";
    if (strcmp(name, "AQPD_DATABASE_URL") == 0)
        return "postgresql:///env";
    if (strcmp(name, "AQPD_MAX_CONNECTIONS") == 0)
        return "77";
    return NULL;
}

static const char *bad_env(const char *name)
{
    return strcmp(name, "AQPD_IDLE_TIMEOUT_S") == 0 ? "forever" : NULL;
}

static void test_tile_url(void **state)
{
    (void)state;
    struct {
        const char *url;
        const char *origin; /* NULL: refused */
    } cases[] = {
        {"", ""},
        {"https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"},
        {"https://{s}.tile.example.org/{z}/{x}/{y}{r}.png", "https://*.tile.example.org"},
        {"https://tiles.example.org:8443/v1/{z}/{y}/{x}?key=abc&style=light",
         "https://tiles.example.org:8443"},
        {"http://tile.openstreetmap.org/{z}/{x}/{y}.png", NULL},    /* not https */
        {"https://tile.openstreetmap.org/{z}/{x}.png", NULL},       /* no {y} */
        {"https://tile.openstreetmap.org", NULL},                   /* no path */
        {"https:///{z}/{x}/{y}.png", NULL},                         /* no host */
        {"https://{s}./{z}/{x}/{y}.png", NULL},                     /* nothing after {s}. */
        {"https://a.{s}.example.org/{z}/{x}/{y}.png", NULL},        /* {s} not first */
        {"https://tile.example.org:/{z}/{x}/{y}.png", NULL},        /* empty port */
        {"https://tile.example.org:80a/{z}/{x}/{y}.png", NULL},     /* bad port */
        {"https://evil.org; script-src */{z}/{x}/{y}", NULL},       /* CSP injection */
        {"https://t.example.org/{z}/{x}/{y}.png\r\nX-Evil: 1", NULL}, /* header injection */
        {"https://t.example.org/{z}/{x}/{y}\".png", NULL},
        {"https://t.example.org/{z}/{x}/{y},.png", NULL},
        {"https://t_x.example.org/{z}/{x}/{y}.png", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char origin[CFG_TILE_URL_MAX + 1] = "unchanged";
        bool ok = cfg_tile_origin(cases[i].url, origin, sizeof origin);
        if (ok != (cases[i].origin != NULL))
            fail_msg("tile_url \"%s\": expected %s", cases[i].url,
                     cases[i].origin ? "accepted" : "refused");
        if (ok && strcmp(origin, cases[i].origin) != 0)
            fail_msg("tile_url \"%s\": origin \"%s\", expected \"%s\"", cases[i].url, origin,
                     cases[i].origin);
    }
    char long_url[CFG_TILE_URL_MAX + 64];
    snprintf(long_url, sizeof long_url, "https://t.example.org/{z}/{x}/{y}/%0*d", CFG_TILE_URL_MAX, 0);
    char origin[64];
    assert_false(cfg_tile_origin(long_url, origin, sizeof origin));

    struct cfg c;
    char err[512] = "";
    cfg_defaults(&c);
    assert_string_equal(c.tile_url, "");
    assert_string_equal(c.tile_attribution, "");
    assert_true(cfg_parse_text(&c,
                               "tile_url = https://tile.openstreetmap.org/{z}/{x}/{y}.png\n"
                               "tile_attribution = (c) OpenStreetMap contributors\n",
                               "t.conf", err, sizeof err));
    assert_string_equal(c.tile_url, "https://tile.openstreetmap.org/{z}/{x}/{y}.png");
    assert_string_equal(c.tile_attribution, "(c) OpenStreetMap contributors");
    assert_true(cfg_parse_text(&c, "tile_url =\ntile_attribution =\n", "t.conf", err, sizeof err));
    assert_string_equal(c.tile_url, "");
    cfg_free(&c);
    expect_error("tile_url = http://tile.openstreetmap.org/{z}/{x}/{y}.png", "t.conf:1: tile_url:");
    expect_error("tile_url = https://x.org/{z}/{x}.png", "tile_url:");
}

static void test_env_overrides_file(void **state)
{
    (void)state;
    struct cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    assert_true(cfg_parse_text(&c, "listen = 127.0.0.1:1\ndatabase_url = file\n", "f", err,
                               sizeof err));
    assert_true(cfg_apply_env(&c, fake_env, err, sizeof err));
    assert_int_equal(c.listen_port, 9999);
    assert_string_equal(c.database_url, "postgresql:///env");
    assert_int_equal(c.max_connections, 77);
    assert_false(cfg_apply_env(&c, bad_env, err, sizeof err));
    assert_non_null(strstr(err, "AQPD_IDLE_TIMEOUT_S"));
    assert_non_null(strstr(err, "idle_timeout_s"));
    cfg_free(&c);
}

static void test_validate(void **state)
{
    (void)state;
    struct cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    assert_false(cfg_validate(&c, false, err, sizeof err));
    assert_non_null(strstr(err, "database_url"));
    assert_true(cfg_set(&c, "database_url", "postgresql:///x", err, sizeof err));
    assert_true(cfg_validate(&c, false, err, sizeof err));
    assert_false(cfg_validate(&c, true, err, sizeof err));
    assert_non_null(strstr(err, "tls_cert"));
    assert_true(cfg_set(&c, "tls_cert", "/nonexistent/cert.pem", err, sizeof err));
    assert_true(cfg_set(&c, "tls_key", "/nonexistent/key.pem", err, sizeof err));
    assert_false(cfg_validate(&c, true, err, sizeof err));
    assert_non_null(strstr(err, "tls_cert: cannot read /nonexistent/cert.pem"));
    cfg_free(&c);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/aqpd-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "database_url = postgresql:///f\nshutdown_grace_s = 3\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct cfg c;
    char err[256] = "";
    cfg_defaults(&c);
    assert_true(cfg_load_file(&c, path, err, sizeof err));
    assert_int_equal(c.shutdown_grace_s, 3);
    cfg_free(&c);
    unlink(path);
    cfg_defaults(&c);
    assert_false(cfg_load_file(&c, path, err, sizeof err));
    assert_non_null(strstr(err, path));
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_parse_text),
        cmocka_unit_test(test_bad_values_name_the_key), cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_env_overrides_file), cmocka_unit_test(test_validate),
        cmocka_unit_test(test_load_file),         cmocka_unit_test(test_tile_url),
        cmocka_unit_test(test_booleans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
