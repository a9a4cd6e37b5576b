/*
 * Unit tests for daemon/csv: the RFC 4180 reader. Table-driven: each case is an input and the
 * records it must give, written as one string per record ("LINE|field|field…", or
 * "LINE!error text" for a CSV_BAD record), so a case reads like the file it stands for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/csv.h"

/* Renders every record of `in` (len bytes) as "LINE|f1|f2" or "LINE!error", joined by "\n".
 * Field bytes '|' and '\n' are shown as they are (cases avoid ambiguity); NUL as "\\0". */
static char *render(const char *in, size_t len)
{
    struct csv_reader r;
    struct csv_record rec;
    size_t cap = 4096, n = 0;
    char *out = test_malloc(cap);
    out[0] = '\0';
    csv_init(&r, in, len);
    enum csv_status st;
    while ((st = csv_next(&r, &rec)) != CSV_EOF) {
        char head[64];
        int k = snprintf(head, sizeof head, "%s%lu%s", n ? "\n" : "", rec.line,
                         st == CSV_BAD ? "!" : "");
        assert_true(n + (size_t)k + 1 < cap);
        memcpy(out + n, head, (size_t)k);
        n += (size_t)k;
        if (st == CSV_BAD) {
            assert_non_null(rec.error);
            size_t el = strlen(rec.error);
            assert_true(n + el + 1 < cap);
            memcpy(out + n, rec.error, el);
            n += el;
        } else {
            assert_null(rec.error);
            for (size_t i = 0; i < rec.nfields; i++) {
                assert_true(n + 2 * rec.len[i] + 2 < cap);
                out[n++] = '|';
                for (size_t j = 0; j < rec.len[i]; j++) {
                    if (rec.field[i][j] == '\0') {
                        out[n++] = '\\';
                        out[n++] = '0';
                    } else {
                        out[n++] = rec.field[i][j];
                    }
                }
                assert_int_equal(rec.field[i][rec.len[i]], '\0'); /* NUL-terminated */
            }
        }
        out[n] = '\0';
    }
    /* EOF is sticky. */
    assert_int_equal(csv_next(&r, &rec), CSV_EOF);
    csv_free(&r);
    return out;
}

struct tcase {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
};

static const struct tcase cases[] = {
    {"empty input", "", 0, ""},
    {"only newlines", "\n\r\n\n", 0, ""},
    {"one field", "a", 0, "1|a"},
    {"simple", "a,b,c\n1,2,3\n", 0, "1|a|b|c\n2|1|2|3"},
    {"no final newline", "a,b\n1,2", 0, "1|a|b\n2|1|2"},
    {"CRLF", "a,b\r\n1,2\r\n", 0, "1|a|b\n2|1|2"},
    {"lone CR ends a record", "a,b\r1,2\r", 0, "1|a|b\n2|1|2"},
    {"empty fields", ",,\n,a,\n", 0, "1|||\n2||a|"},
    {"trailing comma at EOF", "a,", 0, "1|a|"},
    {"blank lines skipped, lines still counted", "a\n\n\nb\r\n\r\nc", 0, "1|a\n4|b\n6|c"},
    {"BOM skipped", "\xEF\xBB\xBFURN,Name\n1,x\n", 0, "1|URN|Name\n2|1|x"},
    {"BOM only at the start", "a\n\xEF\xBB\xBF" "b\n", 0, "1|a\n2|\xEF\xBB\xBF" "b"},
    {"quoted", "\"a\",\"b c\"\n", 0, "1|a|b c"},
    {"quoted empty", "\"\",x,\"\"\n", 0, "1||x|"},
    {"quoted comma", "\"Bournemouth, Christchurch & Poole\",E06000058\n", 0,
     "1|Bournemouth, Christchurch & Poole|E06000058"},
    {"doubled quote", "\"say \"\"hi\"\"\",\"\"\"\"\n", 0, "1|say \"hi\"|\""},
    {"newline inside quotes", "\"a\nb\",c\nd,e\n", 0, "1|a\nb|c\n3|d|e"},
    {"CRLF inside quotes kept", "\"a\r\nb\",c\r\nd\r\n", 0, "1|a\r\nb|c\n3|d"},
    {"many lines inside quotes", "x\n\"1\n2\n3\n\",y\nz", 0, "1|x\n2|1\n2\n3\n|y\n6|z"},
    {"spaces kept", " a , b \n", 0, "1| a | b "},
    {"UTF-8 kept", "17\xE2\x80\x93" "19 Monson,\xC3\xA9\n", 0,
     "1|17\xE2\x80\x93" "19 Monson|\xC3\xA9"},
    {"quote in unquoted field", "a,b\"c,d\ne,f\n", 0,
     "1!a quote inside an unquoted field (quote the whole field and double the quote)\n2|e|f"},
    {"text after closing quote", "\"a\"b,c\nd\n", 0,
     "1!text after the closing quote of a quoted field\n2|d"},
    {"space after closing quote", "\"a\" ,c\nd\n", 0,
     "1!text after the closing quote of a quoted field\n2|d"},
    {"unterminated quote", "a\n\"b,c\nd\n", 0,
     "1|a\n2!quoted field not closed before the end of the file"},
    {"good after bad", "1,2\n3,\"4\"x\n5,6\n", 0,
     "1|1|2\n2!text after the closing quote of a quoted field\n3|5|6"},
    {"NUL byte is data", "a\0b,c\n", 6, "1|a\\0b|c"},
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct tcase *c = &cases[i];
        char *got = render(c->in, c->len ? c->len : strlen(c->in));
        if (strcmp(got, c->want) != 0)
            fail_msg("case \"%s\":\n want: [%s]\n got:  [%s]", c->name, c->want, got);
        test_free(got);
    }
}

static void test_too_many_fields(void **state)
{
    (void)state;
    size_t n = CSV_MAX_FIELDS + 1; /* commas: n + 1 fields */
    char *in = test_malloc(n + 16);
    memset(in, ',', n);
    memcpy(in + n, "\nok\n", 5);
    char *got = render(in, n + 4);
    assert_string_equal(got, "1!too many fields in one record\n2|ok");
    test_free(got);
    /* Exactly the limit is fine. */
    memcpy(in + CSV_MAX_FIELDS - 1, "\n", 2);
    struct csv_reader r;
    struct csv_record rec;
    csv_init(&r, in, CSV_MAX_FIELDS);
    assert_int_equal(csv_next(&r, &rec), CSV_RECORD);
    assert_int_equal(rec.nfields, CSV_MAX_FIELDS);
    csv_free(&r);
    test_free(in);
}

/* Fields stay valid until the next call, across buffer growth; long fields work. */
static void test_long_field_and_growth(void **state)
{
    (void)state;
    size_t big = 100000;
    char *in = test_malloc(big + 64);
    size_t n = 0;
    in[n++] = '"';
    for (size_t i = 0; i < big; i++)
        in[n++] = (i % 1000 == 999) ? '\n' : 'x';
    memcpy(in + n, "\",\"q\"\"\",z\nlast", 14);
    n += 14;
    struct csv_reader r;
    struct csv_record rec;
    csv_init(&r, in, n);
    assert_int_equal(csv_next(&r, &rec), CSV_RECORD);
    assert_int_equal(rec.line, 1);
    assert_int_equal(rec.nfields, 3);
    assert_int_equal(rec.len[0], big);
    assert_int_equal(rec.field[0][0], 'x');
    assert_int_equal(rec.field[0][999], '\n');
    assert_string_equal(rec.field[1], "q\"");
    assert_string_equal(rec.field[2], "z");
    assert_int_equal(csv_next(&r, &rec), CSV_RECORD);
    assert_int_equal(rec.line, 1 + big / 1000 + 1);
    assert_string_equal(rec.field[0], "last");
    assert_int_equal(csv_next(&r, &rec), CSV_EOF);
    csv_free(&r);
    test_free(in);
}

/* The reader never reads past `len`: the input is not NUL-terminated. */
static void test_no_overread(void **state)
{
    (void)state;
    static const char *const ins[] = {"a,\"b", "\"", "a,", "\"x\"", "\r", "a\r", "\"\"\""};
    for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
        size_t n = strlen(ins[i]);
        char *copy = malloc(n ? n : 1); /* exactly n bytes: ASan catches an overread */
        memcpy(copy, ins[i], n);
        char *got = render(copy, n);
        test_free(got);
        free(copy);
    }
}

/* The real Ofsted header and one row with a quoted comma (the shape of the 2025 file). */
static void test_ofsted_shape(void **state)
{
    (void)state;
    const char *in =
        "\xEF\xBB\xBFWeb link,URN,Provision type,Name,Local authority\r\n"
        "Ofsted Social Care Provider Webpage,SC039424,Children's home,REDACTED,Leeds\r\n"
        "Ofsted Social Care Provider Webpage,2590934,Independent Fostering Agency,"
        "\"Foster Care, \"\"North\"\" Ltd\",\"Bournemouth, Christchurch & Poole\"\r\n";
    char *got = render(in, strlen(in));
    assert_string_equal(got, "1|Web link|URN|Provision type|Name|Local authority\n"
                             "2|Ofsted Social Care Provider Webpage|SC039424|Children's home|"
                             "REDACTED|Leeds\n"
                             "3|Ofsted Social Care Provider Webpage|2590934|Independent Fostering "
                             "Agency|Foster Care, \"North\" Ltd|Bournemouth, Christchurch & Poole");
    test_free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_long_field_and_growth),
        cmocka_unit_test(test_no_overread),
        cmocka_unit_test(test_ofsted_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
