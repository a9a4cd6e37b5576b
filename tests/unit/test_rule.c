/*
 * Unit tests for qualify/rule. Most cases are data: every .json file in tests/unit/rules is one
 * cmocka test that runs its cases (rule, data, registers, today -> result or error, plus what
 * rule_validate says). The C tests below cover what data files cannot express: nesting and
 * step limits on huge rules, large registers, the matchers against the real Ofsted and
 * postcode reference data, and the API's edge cases.
 *
 * Case format (each file: {"description", "today"?, "data"?, "registers"?, "cases": [...]}):
 *   {"name"?, "rule", "data"?, "registers"?, "today"?, "max_steps"?,
 *    "result": <exact expected value, types included> | "error": "<substring of the error>",
 *    "invalid"?: "<substring of rule_validate's error>"}
 * A case without "invalid" must pass rule_validate. "data", "registers" and "today" default to
 * the file's; "today" defaults to 2025-06-01.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qualify/jv.h"
#include "qualify/rule.h"

static size_t total_cases;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static jv *parse_text(const char *text, size_t len)
{
    struct jv_limits lim = {.max_bytes = 16u << 20, .max_depth = 512, .max_nodes = 4000000,
                            .max_members = 1000000};
    jv *v = NULL;
    struct jv_error err;
    if (!jv_parse(text, len, &lim, &v, &err))
        fail_msg("bad JSON at offset %zu: %s", err.offset, err.msg);
    return v;
}

static jv *parse_str(const char *text)
{
    return parse_text(text, strlen(text));
}

static bool parse_today(const jv *v, struct rule_ctx *ctx)
{
    const char *s = jv_str(v, NULL);
    return s && sscanf(s, "%d-%d-%d", &ctx->year, &ctx->month, &ctx->day) == 3;
}

/* The case's value for key, or the file's, or NULL; *present says whether either had it. */
static const jv *field(const jv *c, const jv *doc, const char *key)
{
    const jv *v = jv_get(c, key);
    return v ? v : jv_get(doc, key);
}

/* Runs one case; returns the number of failures (0 or 1), reporting each. */
static int run_case(const char *file, size_t idx, const jv *c, const jv *doc)
{
    char label[200], err[RULE_ERRLEN], verr[RULE_ERRLEN];
    const jv *name = jv_get(c, "name");
    const jv *rule = jv_get(c, "rule");
    const jv *want = jv_get(c, "result");
    const jv *want_err = jv_get(c, "error");
    const jv *want_invalid = jv_get(c, "invalid");
    char *rule_text = jv_dump(rule, NULL);
    int failed = 0;
    jv *out = NULL;

    snprintf(label, sizeof(label), "%s case %zu (%.120s)", file, idx,
             name ? jv_str(name, NULL) : rule_text);
    if (!rule || (!want == !want_err)) {
        print_error("%s: needs \"rule\" and exactly one of \"result\" or \"error\"\n", label);
        free(rule_text);
        return 1;
    }

    struct rule_ctx ctx = {.year = 2025, .month = 6, .day = 1};
    ctx.data = field(c, doc, "data");
    ctx.registers = field(c, doc, "registers");
    const jv *today = field(c, doc, "today");
    if (today && !parse_today(today, &ctx)) {
        print_error("%s: bad \"today\"\n", label);
        free(rule_text);
        return 1;
    }
    ctx.max_steps = (size_t)jv_int(jv_get(c, "max_steps"));

    bool ok = rule_eval(rule, &ctx, &out, err, sizeof(err));
    enum rule_outcome outcome = rule_check(rule, &ctx, verr, sizeof(verr));
    if (want_err) {
        const char *w = jv_str(want_err, NULL);
        if (ok) {
            char *got = jv_dump(out, NULL);
            print_error("%s: expected error \"%s\", got %s\n", label, w, got);
            free(got);
            failed = 1;
        } else if (!strstr(err, w)) {
            print_error("%s: error \"%s\" does not contain \"%s\"\n", label, err, w);
            failed = 1;
        } else if (outcome != RULE_ERROR || strcmp(err, verr) != 0) {
            print_error("%s: rule_check disagrees: %d \"%s\"\n", label, outcome, verr);
            failed = 1;
        }
    } else {
        char *w = jv_dump(want, NULL);
        if (!ok) {
            print_error("%s: expected %s, got error \"%s\"\n", label, w, err);
            failed = 1;
        } else {
            char *got = jv_dump(out, NULL);
            enum rule_outcome expect = rule_truthy(want) ? RULE_PASS : RULE_FAIL;
            if (strcmp(got, w) != 0) {
                print_error("%s: expected %s, got %s\n", label, w, got);
                failed = 1;
            } else if (outcome != expect) {
                print_error("%s: rule_check gave %d, expected %d\n", label, outcome, expect);
                failed = 1;
            }
            free(got);
        }
        free(w);
    }
    jv_free(out);

    bool valid = rule_validate(rule, verr, sizeof(verr));
    if (want_invalid) {
        const char *w = jv_str(want_invalid, NULL);
        if (valid) {
            print_error("%s: rule_validate accepted it, expected \"%s\"\n", label, w);
            failed = 1;
        } else if (!strstr(verr, w)) {
            print_error("%s: rule_validate said \"%s\", expected \"%s\"\n", label, verr, w);
            failed = 1;
        }
    } else if (!valid) {
        print_error("%s: rule_validate rejected it: %s\n", label, verr);
        failed = 1;
    }
    free(rule_text);
    return failed;
}

static void run_rules_file(void **state)
{
    const char *path = *state;
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text)
        fail_msg("cannot read %s", path);
    jv *doc = parse_text(text, len);
    free(text);
    const jv *cases = jv_get(doc, "cases");
    assert_true(jv_is_array(cases));
    assert_true(jv_len(cases) > 0);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int failures = 0;
    for (size_t i = 0; i < jv_len(cases); i++)
        failures += run_case(base, i, jv_index(cases, i), doc);
    total_cases += jv_len(cases);
    print_message("%s: %zu cases, %d failed\n", base, jv_len(cases), failures);
    jv_free(doc);
    assert_int_equal(failures, 0);
}

/* ---------------------------------------------------------------- limits */

/* {"!": {"!": ... true}} with n operators, built without the parser's depth limit. */
static jv *nots(size_t n)
{
    jv *r = jv_new_bool(true);
    for (size_t i = 0; i < n; i++) {
        jv *o = jv_new_object();
        assert_true(jv_object_add(o, "!", 1, r));
        r = o;
    }
    return r;
}

static void test_depth_limit(void **state)
{
    (void)state;
    struct rule_ctx ctx = {.year = 2025, .month = 6, .day = 1};
    char err[RULE_ERRLEN];

    jv *r = nots(RULE_MAX_DEPTH);
    assert_int_equal(rule_check(r, &ctx, err, sizeof(err)), RULE_PASS); /* even count */
    assert_true(rule_validate(r, err, sizeof(err)));
    jv_free(r);

    r = nots(RULE_MAX_DEPTH + 1);
    assert_int_equal(rule_check(r, &ctx, err, sizeof(err)), RULE_ERROR);
    assert_non_null(strstr(err, "nests deeper than 64"));
    assert_false(rule_validate(r, err, sizeof(err)));
    assert_non_null(strstr(err, "nests deeper than 64"));
    jv_free(r);

    /* 200k levels: an error, not a stack overflow, and the message stays bounded. */
    r = nots(200000);
    jv *out = NULL;
    assert_false(rule_eval(r, &ctx, &out, err, sizeof(err)));
    assert_null(out);
    assert_non_null(strstr(err, "nests deeper"));
    assert_false(rule_validate(r, err, sizeof(err)));
    jv_free(r);

    /* Arrays count as nesting too. */
    jv *a = jv_new_int(1);
    for (int i = 0; i < RULE_MAX_DEPTH + 1; i++) {
        jv *b = jv_new_array();
        jv_array_push(b, a);
        a = b;
    }
    assert_false(rule_eval(a, &ctx, &out, err, sizeof(err)));
    assert_non_null(strstr(err, "nests deeper"));
    jv_free(a);
}

static void test_step_limit(void **state)
{
    (void)state;
    char err[RULE_ERRLEN];
    jv *out = NULL;
    struct rule_ctx ctx = {.year = 2025, .month = 6, .day = 1, .max_steps = 500};

    jv *args = jv_new_array();
    for (int i = 0; i < 1000; i++)
        jv_array_push(args, jv_new_bool(true));
    jv *r = jv_new_object();
    assert_true(jv_object_add(r, "and", 3, args));
    assert_false(rule_eval(r, &ctx, &out, err, sizeof(err)));
    assert_non_null(strstr(err, "exceeds 500 steps"));
    ctx.max_steps = 0; /* default */
    assert_true(rule_eval(r, &ctx, &out, err, sizeof(err)));
    assert_true(jv_bool(out));
    jv_free(out);
    jv_free(r);

    /* Copying data into a computed array is charged: 100 copies of 10k values is refused. */
    jv *data = jv_new_array();
    for (int i = 0; i < 10000; i++)
        jv_array_push(data, jv_new_int(i));
    r = jv_new_array();
    for (int i = 0; i < 100; i++)
        jv_array_push(r, parse_str("{\"var\":\"\"}"));
    ctx.data = data;
    assert_false(rule_eval(r, &ctx, &out, err, sizeof(err)));
    assert_non_null(strstr(err, "exceeds 100000 steps"));
    jv_free(r);
    jv_free(data);
}

static void test_large_register(void **state)
{
    (void)state;
    char key[32], err[RULE_ERRLEN];
    jv *ofsted = jv_new_object();
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof(key), "SC%06d", i);
        jv *entry = jv_new_object();
        assert_true(jv_object_add(entry, "registration_status", 19,
                                  jv_new_string(i % 7 ? "Active" : "Suspended",
                                                i % 7 ? 6 : 9)));
        assert_true(jv_object_add(ofsted, key, (size_t)n, entry));
    }
    jv *regs = jv_new_object();
    assert_true(jv_object_add(regs, "ofsted", 6, ofsted));
    jv *rule = parse_str("{\"==\":[{\"register_lookup\":[\"ofsted\",{\"var\":\"urn\"},"
                         "\"registration_status\"]},\"Active\"]}");
    for (int i = 0; i + 1 < 20000; i += 7) {
        for (int d = 0; d < 2; d++) {
            char data[64];
            snprintf(data, sizeof(data), "{\"urn\":\"SC%06d\"}", i + d);
            jv *answers = parse_str(data);
            struct rule_ctx ctx = {.data = answers, .registers = regs, .year = 2025, .month = 6,
                                   .day = 1};
            enum rule_outcome got = rule_check(rule, &ctx, err, sizeof(err));
            if (got != ((i + d) % 7 ? RULE_PASS : RULE_FAIL))
                fail_msg("%s: got %d (%s)", data, got, err);
            jv_free(answers);
        }
    }
    jv_free(rule);
    jv_free(regs);
}

/* ---------------------------------------------------------------- real reference data */

static FILE *open_shared(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/../shared/data/%s", AQPD_SOURCE_DIR, rel);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(path, sizeof(path), "%s/shared/data/%s", AQPD_SOURCE_DIR, rel);
        f = fopen(path, "r");
    }
    return f;
}

/* Every URN in Ofsted's published provider lists is a "URN". */
static void test_real_ofsted_urns(void **state)
{
    (void)state;
    static const char *const files[] = {
        "ofsted/childrens_social_care_data_in_england_2025/Provider_level_at_31_Mar_2025.csv",
        "ofsted/childrens_social_care_data_in_england_2025/Provider_level_in_year_2024-25.csv",
        "ofsted/childrens_social_care_data_in_england_2025/SA_Premises_at_31_Mar_2025.csv",
    };
    size_t checked = 0;
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
        FILE *f = open_shared(files[k]);
        if (!f)
            skip();
        char line[8192];
        bool header = true;
        while (fgets(line, sizeof(line), f)) {
            if (header) {
                header = false;
                continue;
            }
            /* Column 2; column 1 is a web link or fixed text without commas or quotes. */
            char *a = strchr(line, ',');
            char *b = a ? strchr(a + 1, ',') : NULL;
            assert_non_null(b);
            size_t len = (size_t)(b - a - 1);
            if (rule_matches("URN", a + 1, len) != 1)
                fail_msg("%s: URN \"%.*s\" does not match", files[k], (int)len, a + 1);
            checked++;
        }
        fclose(f);
    }
    print_message("%zu Ofsted URNs match\n", checked);
    assert_true(checked > 15000);
}

/* Splits a CSV line in place into at most max fields (RFC 4180 quoting); returns the count. */
static size_t csv_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *r = line, *w = line;
    line[strcspn(line, "\r\n")] = '\0';
    while (n < max) {
        fields[n++] = w;
        if (*r == '"') {
            r++;
            while (*r) {
                if (*r == '"') {
                    if (r[1] != '"')
                        break;
                    r++; /* "" is one quote */
                }
                *w++ = *r++;
            }
            if (*r == '"')
                r++;
        } else {
            while (*r && *r != ',')
                *w++ = *r++;
        }
        if (*r != ',') {
            *w = '\0';
            break;
        }
        *w++ = '\0';
        r++;
    }
    return n;
}

/* Every postcode district in use (the reference list also keeps retired ones such as W1M and
 * NPT, with no active postcodes) forms a valid postcode with an inward code. */
static void test_real_postcode_districts(void **state)
{
    (void)state;
    FILE *f = open_shared("postcodes/postcode_districts.csv");
    if (!f)
        skip();
    char line[8192], *fields[12];
    size_t checked = 0;
    bool header = true;
    while (fgets(line, sizeof(line), f)) {
        if (header) {
            header = false;
            continue;
        }
        /* Postcode, Latitude, Longitude, Easting, Northing, Grid Reference, Town/Area, Region,
         * Postcodes, Active postcodes, ... */
        assert_true(csv_fields(line, fields, 12) >= 10);
        if (atoi(fields[9]) == 0)
            continue;
        if (strcmp(fields[0], "GIR") == 0) { /* Girobank: the one postcode is GIR 0AA */
            assert_int_equal(rule_matches("postcode", "GIR 0AA", 7), 1);
            assert_int_equal(rule_matches("postcode", "GIR 1AB", 7), 0);
            continue;
        }
        char pc[32];
        int n = snprintf(pc, sizeof(pc), "%s 1AB", fields[0]);
        if (rule_matches("postcode", pc, (size_t)n) != 1)
            fail_msg("postcode district %s: \"%s\" does not match", fields[0], pc);
        n = snprintf(pc, sizeof(pc), "%s1AB", fields[0]);
        assert_int_equal(rule_matches("postcode", pc, (size_t)n), 1);
        checked++;
    }
    fclose(f);
    print_message("%zu postcode districts in use match\n", checked);
    assert_true(checked > 2500);
}

/* ---------------------------------------------------------------- API edges */

static void test_api_edges(void **state)
{
    (void)state;
    char err[RULE_ERRLEN];
    jv *out = (jv *)1;
    jv *rule = parse_str("{\"var\":\"x\"}");
    struct rule_ctx ctx = {.year = 2025, .month = 6, .day = 1};

    assert_false(rule_eval(rule, NULL, &out, err, sizeof(err)));
    assert_null(out);
    assert_non_null(strstr(err, "no evaluation context"));
    assert_false(rule_eval(NULL, &ctx, &out, err, sizeof(err)));
    assert_non_null(strstr(err, "no rule"));
    assert_int_equal(rule_check(NULL, &ctx, err, sizeof(err)), RULE_ERROR);
    assert_false(rule_validate(NULL, err, sizeof(err)));

    /* A NULL or tiny error buffer is fine. */
    jv *bad = parse_str("{\"nope\":1}");
    assert_false(rule_eval(bad, &ctx, &out, NULL, 0));
    char tiny[8];
    assert_false(rule_eval(bad, &ctx, &out, tiny, sizeof(tiny)));
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    jv_free(bad);

    struct rule_ctx bad_date = {.year = 2025, .month = 2, .day = 29};
    assert_false(rule_eval(rule, &bad_date, &out, err, sizeof(err)));
    assert_non_null(strstr(err, "2025-02-29 is not a valid date"));

    /* The result is the caller's: it outlives the data it was read from. */
    jv *data = parse_str("{\"x\":{\"deep\":[1,2,\"three\"]}}");
    ctx.data = data;
    assert_true(rule_eval(rule, &ctx, &out, err, sizeof(err)));
    jv_free(data);
    char *d = jv_dump(out, NULL);
    assert_string_equal(d, "{\"deep\":[1,2,\"three\"]}");
    free(d);
    jv_free(out);

    /* NULL data reads as null. */
    ctx.data = NULL;
    assert_true(rule_eval(rule, &ctx, &out, err, sizeof(err)));
    assert_true(jv_is_null(out));
    jv_free(out);
    jv_free(rule);

    assert_int_equal(rule_matches("IBAN", "x", 1), -1);
    assert_int_equal(rule_matches("URN", "SC489416", 8), 1);
    assert_int_equal(rule_matches("URN", "SC489416", 7), 0); /* length is honoured */
    assert_false(rule_truthy(NULL));
}

/* ---------------------------------------------------------------- main */

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int json_only(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_step_limit),
        cmocka_unit_test(test_large_register),
        cmocka_unit_test(test_real_ofsted_urns),
        cmocka_unit_test(test_real_postcode_districts),
        cmocka_unit_test(test_api_edges),
    };
    const char *dir = "rules";
    struct dirent **names = NULL;
    int n = scandir(dir, &names, json_only, by_name);
    if (n <= 0) {
        dir = AQPD_SOURCE_DIR "/tests/unit/rules";
        n = scandir(dir, &names, json_only, by_name);
    }
    if (n <= 0) {
        fprintf(stderr, "no rule case files in ./rules or %s\n", dir);
        return 1;
    }
    size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
    struct CMUnitTest *tests = calloc((size_t)n + nfixed, sizeof(*tests));
    for (int i = 0; i < n; i++) {
        size_t plen = strlen(dir) + strlen(names[i]->d_name) + 2;
        char *path = malloc(plen);
        snprintf(path, plen, "%s/%s", dir, names[i]->d_name);
        tests[i] = (struct CMUnitTest){.name = strdup(names[i]->d_name),
                                       .test_func = run_rules_file,
                                       .initial_state = path};
        free(names[i]);
    }
    free(names);
    memcpy(tests + n, fixed, sizeof(fixed));
    int rc = _cmocka_run_group_tests("test_rule", tests, (size_t)n + nfixed, NULL, NULL);
    printf("rule cases from data files: %zu\n", total_cases);
    for (int i = 0; i < n; i++) {
        free((void *)tests[i].name);
        free(tests[i].initial_state);
    }
    free(tests);
    return rc;
}
