/*
 * Unit tests for qualify/local: question validation and answer checking, table-driven from
 * local/cases.json (an independent statement of what must pass, fail, be pending or be refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "qualify/local.h"

static jv *cases;

static void load(void)
{
    FILE *f = fopen(AQPD_SOURCE_DIR "/tests/unit/local/cases.json", "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    struct jv_error e;
    if (!jv_parse(buf, n, NULL, &cases, &e))
        fail_msg("cases.json: %s at %zu", e.msg, e.offset);
}

static void test_valid_questions(void **state)
{
    (void)state;
    char err[256] = "";
    if (!local_validate(jv_get(cases, "questions"), err, sizeof err))
        fail_msg("the sample questions should be valid: %s", err);
}

static void test_invalid_questions(void **state)
{
    (void)state;
    const jv *list = jv_get(cases, "invalid_questions");
    assert_true(jv_len(list) >= 10);
    for (size_t i = 0; i < jv_len(list); i++) {
        const jv *c = jv_index(jv_index(list, i), 0);
        char err[256] = "";
        if (local_validate(jv_get(c, "q"), err, sizeof err))
            fail_msg("invalid_questions[%zu] was accepted", i);
        const char *want = jv_str(jv_get(c, "error"), NULL);
        if (!strstr(err, want))
            fail_msg("invalid_questions[%zu]: error \"%s\" lacks \"%s\"", i, err, want);
    }
}

static void test_answers(void **state)
{
    (void)state;
    const jv *qs = jv_get(cases, "questions");
    const jv *list = jv_get(cases, "cases");
    for (size_t i = 0; i < jv_len(list); i++) {
        const jv *c = jv_index(list, i);
        const char *name = jv_str(jv_get(c, "name"), NULL);
        struct crit_report rep;
        char err[256] = "";
        enum local_error why = LOCAL_OK;
        bool ok = local_check(qs, jv_get(c, "answers"), &rep, &why, err, sizeof err);
        const jv *want_err = jv_get(c, "error");
        if (want_err) {
            if (ok)
                fail_msg("%s: accepted, expected error \"%s\"", name, jv_str(want_err, NULL));
            if (!strstr(err, jv_str(want_err, NULL)))
                fail_msg("%s: error \"%s\" lacks \"%s\"", name, err, jv_str(want_err, NULL));
            bool missing = strstr(err, "is required") != NULL;
            assert_int_equal(why, missing ? LOCAL_MISSING : LOCAL_INVALID);
            continue;
        }
        if (!ok)
            fail_msg("%s: refused: %s", name, err);
        assert_int_equal(why, LOCAL_OK);
        assert_int_equal(rep.n, jv_len(qs));
        assert_int_equal(rep.failed, jv_int(jv_get(c, "failed")));
        const jv *outs = jv_get(c, "outcomes");
        for (size_t k = 0; k < jv_len(outs); k++) {
            const char *id;
            const jv *want = jv_member(outs, k, &id, NULL);
            const struct crit_result *r = NULL;
            for (size_t x = 0; x < rep.n; x++)
                if (strcmp(rep.items[x].id, id) == 0)
                    r = &rep.items[x];
            assert_non_null(r);
            if (strcmp(crit_outcome_name(r->outcome), jv_str(want, NULL)) != 0)
                fail_msg("%s: %s is %s, expected %s", name, id, crit_outcome_name(r->outcome),
                         jv_str(want, NULL));
            assert_true((r->outcome == CRIT_FAIL) == (r->reason != NULL));
        }
        crit_report_free(&rep);
    }
}

int main(void)
{
    load();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_questions),
        cmocka_unit_test(test_invalid_questions),
        cmocka_unit_test(test_answers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    jv_free(cases);
    return rc;
}
