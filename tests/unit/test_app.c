/*
 * Unit tests for qualify/app: every (state, event) pair of both state machines against the
 * list of legal transitions in data/transitions.txt; anything not listed must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "qualify/app.h"

struct legal {
    char machine[8], from[32], event[32], to[32];
};

static struct legal legal[128];
static int nlegal;

static void load(void)
{
    FILE *f = fopen(AQPD_SOURCE_DIR "/tests/unit/data/transitions.txt", "r");
    assert_non_null(f);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        struct legal *l = &legal[nlegal];
        assert_int_equal(sscanf(line, "%7s %31s %31s %31s", l->machine, l->from, l->event, l->to), 4);
        nlegal++;
    }
    fclose(f);
    assert_true(nlegal > 20);
}

static const struct legal *find(const char *m, const char *from, const char *ev)
{
    for (int i = 0; i < nlegal; i++)
        if (!strcmp(legal[i].machine, m) && !strcmp(legal[i].from, from) &&
            !strcmp(legal[i].event, ev))
            return &legal[i];
    return NULL;
}

static void test_app_machine(void **state)
{
    (void)state;
    int allowed = 0;
    for (int s = 0; s < APP_NSTATES; s++)
        for (int e = 0; e < APP_NEVENTS; e++) {
            enum app_state to;
            bool ok = app_next((enum app_state)s, (enum app_event)e, &to);
            const struct legal *l = find("app", app_state_name(s), app_event_name(e));
            if (ok != (l != NULL))
                fail_msg("app %s --%s--> %s but the table says %s", app_state_name(s),
                         app_event_name(e), ok ? app_state_name(to) : "refused",
                         l ? l->to : "refused");
            if (ok) {
                assert_string_equal(app_state_name(to), l->to);
                allowed++;
            }
        }
    int listed = 0;
    for (int i = 0; i < nlegal; i++)
        listed += !strcmp(legal[i].machine, "app");
    assert_int_equal(allowed, listed);
}

static void test_qual_machine(void **state)
{
    (void)state;
    int allowed = 0;
    for (int s = 0; s < QUAL_NSTATES; s++)
        for (int e = 0; e < QUAL_NEVENTS; e++) {
            enum qual_state to;
            bool ok = qual_next((enum qual_state)s, (enum qual_event)e, &to);
            const struct legal *l = find("qual", qual_state_name(s), qual_event_name(e));
            if (ok != (l != NULL))
                fail_msg("qual %s --%s--> %s but the table says %s", qual_state_name(s),
                         qual_event_name(e), ok ? qual_state_name(to) : "refused",
                         l ? l->to : "refused");
            if (ok) {
                assert_string_equal(qual_state_name(to), l->to);
                allowed++;
            }
        }
    int listed = 0;
    for (int i = 0; i < nlegal; i++)
        listed += !strcmp(legal[i].machine, "qual");
    assert_int_equal(allowed, listed);
}

static void test_names_round_trip(void **state)
{
    (void)state;
    for (int s = 0; s < APP_NSTATES; s++) {
        enum app_state back;
        assert_true(app_state_parse(app_state_name(s), &back));
        assert_int_equal(back, s);
    }
    enum app_state a;
    assert_false(app_state_parse("Draft", &a));
    assert_false(app_state_parse("", &a));
    enum app_state to;
    assert_false(app_next((enum app_state)99, APP_EV_SUBMIT, &to));
    assert_false(app_next(APP_DRAFT, (enum app_event)99, &to));
    enum qual_state q;
    assert_true(qual_state_parse("lapsed", &q));
    assert_int_equal(q, QUAL_LAPSED);
    assert_false(qual_state_parse("expired", &q));
}

int main(void)
{
    load();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_app_machine),
        cmocka_unit_test(test_qual_machine),
        cmocka_unit_test(test_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
