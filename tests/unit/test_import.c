/*
 * Unit tests for daemon/import: the check that keeps the column names it writes into SQL plain
 * identifiers, over hostile and borderline names and over every column of its static table (it
 * includes import.c to reach both; no database is involved).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/import.c"

static void test_plain_identifier(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool plain;
    } cases[] = {
        {"urn", true},
        {"latest_inspection_published", true},
        {"_x", true},
        {"sa_outcome2", true},
        {"", false},
        {"2x", false},
        {"Urn", false},  /* unquoted it folds to urn: quoting would change its meaning */
        {"urn ", false},
        {"a-b", false},
        {"\"urn\"", false},
        {"urn) FROM ofsted_setting; DROP TABLE ofsted_setting; --", false},
        {"r\xC3\xA9gion", false}, /* non-ASCII */
        {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk", true}, /* 63 */
        {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", false}, /* 64 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (plain_identifier(cases[i].name) != cases[i].plain)
            fail_msg("plain_identifier(\"%s\") should be %s", cases[i].name,
                     cases[i].plain ? "true" : "false");
    }
}

static void test_columns_are_plain(void **state)
{
    (void)state;
    for (size_t c = 0; c < NCOLS; c++) {
        if (!plain_identifier(ocols[c].column))
            fail_msg("ocols[%zu] \"%s\" is not a plain identifier", c, ocols[c].column);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_identifier),
        cmocka_unit_test(test_columns_are_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
