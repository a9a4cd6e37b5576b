/*
 * Unit tests for daemon/geoimport: the name key, the alias table, outward codes, decimals, and the
 * commissioner matcher run over small in-memory copies of the four source files (it includes
 * geoimport.c to reach the matcher; no database is involved).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/geoimport.c"

static void test_name_key(void **state)
{
    (void)state;
    static const struct {
        const char *in, *key; /* key NULL: refused */
    } cases[] = {
        {"Leeds", "leeds"},
        {"  Leeds\t", "leeds"},
        {"St. Helens", "st helens"},
        {"St Helens", "st helens"},
        {"Telford & Wrekin", "telford and wrekin"},
        {"Telford and Wrekin", "telford and wrekin"},
        {"Hammersmith &Fulham", "hammersmith and fulham"},
        {"Bournemouth, Christchurch & Poole", "bournemouth christchurch and poole"},
        {"Bournemouth, Christchurch and Poole", "bournemouth christchurch and poole"},
        {"Stockton-on-Tees", "stockton on tees"},
        {"Southend-on-Sea", "southend on sea"},
        {"Southend on Sea", "southend on sea"},
        {"Bristol, City of", "bristol city of"},
        {"BRISTOL, CITY OF", "bristol city of"},
        {"King's Lynn", "kings lynn"},
        {"King\xE2\x80\x99s Lynn", "kings lynn"}, /* U+2019 */
        {"Ynys M\xC3\xB4n", "ynys m\xC3\xB4n"},   /* bytes beyond ASCII are kept */
        {"A&B", "a and b"},
        {"&", "and"},
        {"E08000035", "e08000035"},
        {"", NULL},
        {" ... ", NULL},
        {"'", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[GEOIMPORT_KEY_MAX];
        bool ok = geoimport_name_key(cases[i].in, strlen(cases[i].in), key, sizeof key);
        if (!cases[i].key) {
            if (ok)
                fail_msg("\"%s\": expected no key, got \"%s\"", cases[i].in, key);
            assert_string_equal(key, "");
            continue;
        }
        if (!ok || strcmp(key, cases[i].key) != 0)
            fail_msg("\"%s\": expected \"%s\", got \"%s\" (%d)", cases[i].in, cases[i].key, key,
                     ok);
    }
    /* Too long for the buffer: refused, never truncated. */
    char small[6];
    assert_true(geoimport_name_key("Leeds", 5, small, sizeof small));
    assert_string_equal(small, "leeds");
    assert_true(geoimport_name_key("Leeds!", 6, small, sizeof small));
    assert_string_equal(small, "leeds");
    assert_false(geoimport_name_key("Leeds x", 7, small, sizeof small));
    assert_string_equal(small, "");
    assert_false(geoimport_name_key("a & b", 5, small, sizeof small));
}

static void test_alias_table(void **state)
{
    (void)state;
    /* Each entry is a key (so it can match), and none is a key another entry also has. */
    for (size_t i = 0; i < NNAME_ALIASES; i++) {
        char key[GEOIMPORT_KEY_MAX];
        assert_true(geoimport_name_key(name_aliases[i].key, strlen(name_aliases[i].key), key,
                                       sizeof key));
        assert_string_equal(key, name_aliases[i].key);
        assert_true(la_code(name_aliases[i].code));
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(name_aliases[i].key, name_aliases[k].key);
    }
    /* Ofsted's spellings (data/SOURCES.md) that normalising alone does not match. */
    static const char *const ofsted[][2] = {{"Bristol", "E06000023"},
                                           {"Durham", "E06000047"},
                                           {"Herefordshire", "E06000019"},
                                           {"Kingston upon Hull", "E06000010"}};
    for (size_t i = 0; i < 4; i++) {
        char key[GEOIMPORT_KEY_MAX];
        assert_true(geoimport_name_key(ofsted[i][0], strlen(ofsted[i][0]), key, sizeof key));
        const char *code = geoimport_name_alias(key);
        assert_non_null(code);
        assert_string_equal(code, ofsted[i][1]);
    }
    assert_null(geoimport_name_alias("leeds"));
    assert_null(geoimport_name_alias("Bristol")); /* keys only */
}

static void test_outcode(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out; /* out NULL: refused */
    } cases[] = {
        {"LS6", "LS6"},         {"ls6", "LS6"},         {" LS6 ", "LS6"},
        {"LS6 3QR", "LS6"},     {"ls6 3qr", "LS6"},     {"LS63QR", "LS6"},
        {"LS6  3QR", "LS6"},    {"SW1A", "SW1A"},       {"SW1A 1AA", "SW1A"},
        {"EC1A1BB", "EC1A"},    {"M1", "M1"},           {"M1 1AE", "M1"},
        {"W1E", "W1E"},         {"AB10", "AB10"},       {"B33 8TH", "B33"},
        {"CR2 6XH", "CR2"},     {"DN55 1PT", "DN55"},   {"GIR", NULL},
        {"GIR 0AA", NULL},      {"NPT", NULL},          {"LS", NULL},
        {"6LS", NULL},          {"L", NULL},            {"", NULL},
        {"   ", NULL},          {"LS6 3Q", NULL},       {"LS6 3QR X", NULL},
        {"LS6 QQR", NULL},      {"LS123", NULL},        {"AB1 0", NULL},
        {"SW1AA", NULL},        {"LS6-3QR", NULL},      {"L\xC3\x9C" "6", NULL},
        {"ABC1", NULL},         {"A1AA", NULL},         {"LS6 3QR LS6 3QR", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[5] = "";
        bool ok = geoimport_outcode(cases[i].in, strlen(cases[i].in), out);
        if (!cases[i].out) {
            if (ok)
                fail_msg("\"%s\": expected refusal, got \"%s\"", cases[i].in, out);
            continue;
        }
        if (!ok || strcmp(out, cases[i].out) != 0)
            fail_msg("\"%s\": expected \"%s\", got \"%s\" (%d)", cases[i].in, cases[i].out, out,
                     ok);
    }
}

static void test_decimal(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool ok;
        double v;
    } cases[] = { /* within [-2, 2] */
        {"1.56625", true, 1.56625}, {"-1.56625", true, -1.56625}, {"0", true, 0},
        {"-0.5", true, -0.5},       {"2", true, 2},               {"-2.000", true, -2},
        {"", false, 0},             {"-", false, 0},              {"1.", false, 0},
        {".5", false, 0},           {"1e0", false, 0},            {"+1", false, 0},
        {" 1", false, 0},           {"1 ", false, 0},             {"1.2.3", false, 0},
        {"nan", false, 0},          {"inf", false, 0},            {"2.0001", false, 0},
        {"-2.0001", false, 0},      {"0x1", false, 0},            {"1,5", false, 0},
        {"000000000000000000000000000000001", false, 0}, /* longer than any coordinate */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -99;
        bool ok = geoimport_decimal(cases[i].in, strlen(cases[i].in), -2, 2, &v);
        if (ok != cases[i].ok)
            fail_msg("\"%s\": expected %s", cases[i].in, cases[i].ok ? "a number" : "refusal");
        if (ok && v != cases[i].v)
            fail_msg("\"%s\": expected %g, got %g", cases[i].in, cases[i].v, v);
    }
}

/* ---- the matcher, over small copies of the four files ---- */

static const char las_csv[] =
    "new_la_code,la_name,date_of_operation,date_of_termination,parent_geography_code,"
    "entity_code,entity_description,status,old_la_code\n"
    "E08000035,Leeds,01/01/2009,,E12000003,E08,Metropolitan Districts,live,383\n"        /* 2 */
    "E08000016,Barnsley,01/01/2009,30/04/2025,E12000003,E08,Metropolitan Districts,"
    "terminated,370\n"                                                                    /* 3 */
    "E08000038,Barnsley,01/05/2025,,E12000003,E08,Metropolitan Districts,live,370\n"     /* 4 */
    "E06000023,\"Bristol, City of\",01/01/2009,,E12000009,E06,Unitary Authorities,live,801\n"
    "E06000047,County Durham,01/04/2009,,E12000001,E06,Unitary Authorities,live,840\n"   /* 6 */
    "E10000016,Kent,01/01/2009,,E12000008,E10,Counties,live,886\n"                      /* 7 */
    "E06000061 / E06000062,North and West Northamptonshire,01/04/2021,,E12000004,E06,"
    "Unitary Authorities,live,940 / 941\n"                                                /* 8 */
    "z,BFPO,,,z,z,z,live,z\n"                                                             /* 9 */
    "E10000010,Durham,01/01/2009,31/03/2009,E12000001,E10,Counties,terminated,x\n"      /* 10 */
    "E09000033,Westminster,01/01/2009,,E12000007,E09,London Boroughs,live,213\n"         /* 11 */
    "E09000001,City of London,01/01/2009,,E12000007,E09,London Boroughs,live\n";       /* 12 */

static const char regions_csv[] = "region_code,region_name\n"
                                  "E12000001,North East\n"
                                  "E12000003,Yorkshire and The Humber\n"
                                  "E12000007,London\n"
                                  "E12000008,South East\n"
                                  "E12000009,South West\n"
                                  "E13000001,Inner London\n";

static const char ons_csv[] =
    "FID,CTYUA24CD,CTYUA24NM,CTYUA24NMW,BNG_E,BNG_N,LONG,LAT,GlobalID\n"
    "1,E08000035,Leeds, ,1,1,-1.50736,53.82273,x\n"                  /* 2 */
    "2,E08000016,Barnsley, ,1,1,-1.54926,53.52577,x\n"               /* 3: an old code */
    "3,E06000023,\"Bristol, City of\", ,1,1,-2.57742,51.47115,x\n"   /* 4 */
    "4,E06000047,County Durham, ,1,1,-1.84048,54.68561,x\n"          /* 5 */
    "5,E10000016,Kent, ,1,1,0.72137,51.19296,x\n"                    /* 6 */
    "6,W06000015,Cardiff, ,1,1,-3.2,51.5,x\n"                        /* 7: Wales */
    "7,E06000099,Atlantis, ,1,1,-1.0,52.0,x\n"                       /* 8: no such LA */
    "8,E09000033,Westminster Abbey, ,1,1,-0.15,51.5,x\n"             /* 9: names disagree */
    "9,E08000035,Leeds, ,1,1,-1.5,53.8,x\n"                          /* 10: twice */
    "10,E06000098,Lost, ,1,1,-20.0,52.0,x\n"                         /* 11: not in England */
    "11,E08000038,Barnsley, ,1,1,-1.5,53.5,x\n";                     /* 12: Barnsley again */

static const char ofs_csv[] =
    "Web link,Local authority area code,Local authority name,Ofsted region,Inspection date,"
    "Publication date,Overall effectiveness,Leaders,Help,Care,Leavers\n"
    "https://reports.ofsted.gov.uk/provider/44/383,E08000035,Leeds,\"North East, Yorkshire and "
    "the Humber\",2022-02-21T00:00:00,2022-05-09T00:00:00,Outstanding,a,b,c,d\n"         /* 2 */
    "https://reports.ofsted.gov.uk/provider/44/370,E08000016,Barnsley,x,2023-09-11T00:00:00,"
    "2023-10-27T00:00:00,Good,a,b,c,d\n"                                                 /* 3 */
    "https://reports.ofsted.gov.uk/provider/44/801,E06000023,Bristol,x,2023-01-01T00:00:00,"
    "2023-02-01T00:00:00,Good,a,b,c,d\n"                                                 /* 4 */
    "https://reports.ofsted.gov.uk/provider/44/840,E06999999,Durham,x,2023-01-01T00:00:00,"
    "2023-02-01T00:00:00,Inadequate,a,b,c,d\n"               /* 5: unknown code, known name */
    "https://reports.ofsted.gov.uk/provider/44/999,E06000050,Cheshire West,x,2023-01-01,"
    "2023-02-01,Good,a,b,c,d\n"                                                          /* 6 */
    "https://reports.ofsted.gov.uk/provider/44/886,E10000016,Kent,x,2022-05-09,2022-07-05,"
    "Great,a,b,c,d\n"                                               /* 7: not a grade */
    "https://reports.ofsted.gov.uk/provider/44/383,E08000035X,Leeds,x,2022-02-21,2022-05-09,"
    "Good,a,b,c,d\n";                                               /* 8: not a code */

static void feed(struct crun *r, struct src *s, const char *label, const char *text,
                 const char *const *headers, size_t n, row_fn fn)
{
    s->rel = s->label = label;
    s->path = xstrdup(label);
    s->data = xstrdup(text);
    s->len = strlen(text);
    assert_true(src_rows(s, headers, n, "a test file", fn, c_bad, r));
}

static bool has_msg(const struct msgs *m, const char *needle)
{
    for (size_t i = 0; i < m->n; i++)
        if (strstr(m->v[i], needle))
            return true;
    return false;
}

static bool has_reject(const struct ingest_rejects *rej, unsigned long line, const char *needle)
{
    for (size_t i = 0; i < rej->n; i++)
        if (rej->v[i].line == line && strstr(rej->v[i].reason, needle))
            return true;
    return false;
}

static void dump(const struct crun *r)
{
    for (size_t i = 0; i < r->unmatched.n; i++)
        print_message("unmatched: %s\n", r->unmatched.v[i]);
    for (size_t i = 0; i < r->notes.n; i++)
        print_message("note: %s\n", r->notes.v[i]);
    for (size_t i = 0; i < r->rej.n; i++)
        print_message("reject: line %lu: %s\n", r->rej.v[i].line, r->rej.v[i].reason);
}

static void test_match(void **state)
{
    (void)state;
    struct crun r = {.dir = "test"};
    feed(&r, &r.las, "las", las_csv, las_headers, NELEM(las_headers), c_las_row);
    feed(&r, &r.regions, "regions", regions_csv, region_headers, NELEM(region_headers),
         c_region_row);
    feed(&r, &r.ons, "ons", ons_csv, ons_headers, NELEM(ons_headers), c_ons_row);
    feed(&r, &r.ofs, "ofsted", ofs_csv, ofs_headers, NELEM(ofs_headers), c_ofs_row);
    comm_match(&r);
    dump(&r);

    /* DfE: 7 live authorities (the combined row and BFPO skipped), one with a short row. */
    assert_int_equal(r.ncomm, 6);
    assert_int_equal(r.dfe_skipped.n, 2);
    assert_true(has_msg(&r.unmatched, "las line 12: rejected: 8 fields where the header has 9"));
    assert_int_equal(r.nreg, 5);

    /* Barnsley: the ONS and Ofsted rows carry the old code and join through it. */
    assert_int_equal(r.ncode_alias, 1);
    const struct alias *a = alias_find(&r, "code", "E08000016");
    assert_non_null(a);
    assert_string_equal(a->code, "E08000038");
    struct comm *c = comm_by_code(&r, "E08000038");
    assert_non_null(c);
    assert_non_null(c->ons);
    assert_string_equal(c->ons->lat, "53.52577");
    assert_non_null(c->ofs);
    assert_string_equal(c->ofs->judgement, "Good");
    assert_true(has_msg(&r.notes, "code E08000016 (ons) is E08000038 Barnsley, its successor"));
    assert_null(comm_by_code(&r, "E08000016"));
    assert_ptr_equal(comm_resolve_code(&r, "E08000016"), c);

    /* Bristol: Ofsted's "Bristol" through the alias table, kept as a name alias. */
    c = comm_by_code(&r, "E06000023");
    assert_non_null(c->ofs);
    assert_true(has_msg(&r.notes, "name \"Bristol\" (ofsted) is \"Bristol, City of\" (E06000023) "
                                  "through the alias table"));
    a = alias_find(&r, "name", "bristol");
    assert_non_null(a);
    assert_string_equal(a->code, "E06000023");

    /* Durham: Ofsted's row has an unknown code; joined by its name alone, and said so. */
    c = comm_by_code(&r, "E06000047");
    assert_non_null(c->ofs);
    assert_string_equal(c->ofs->judgement, "Inadequate");
    assert_true(has_msg(&r.notes, "unknown code E06999999; joined to E06000047 by its name"));

    /* Leeds: matched exactly; its second ONS row is rejected. */
    c = comm_by_code(&r, "E08000035");
    assert_non_null(c->ons);
    assert_int_equal(c->ons->line, 2);
    assert_string_equal(c->region->name, "Yorkshire and The Humber");
    assert_int_equal(c->la->la_number, 383);
    assert_true(has_reject(&r.rej, 10, "E08000035 is already on line 2"));

    /* Left over, each named: */
    assert_true(has_reject(&r.rej, 8, "E06000099 Atlantis: no live local authority"));
    assert_true(has_reject(&r.rej, 9, "the names do not agree"));
    assert_true(has_reject(&r.rej, 11, "is not a point in England"));
    assert_true(has_reject(&r.rej, 12, "E08000038 already has its centroid from line 3"));
    assert_int_equal(r.rej.n, 5);
    assert_int_equal(r.ons_elsewhere, 1);
    assert_true(has_msg(&r.unmatched, "ofsted line 6: E06000050 \"Cheshire West\": no "
                                      "commissioner has this code or name"));
    assert_true(has_msg(&r.unmatched, "ofsted line 7: rejected: Overall effectiveness"));
    assert_true(has_msg(&r.unmatched, "E10000016 Kent: no judgement"));
    assert_true(has_msg(&r.unmatched, "ofsted line 8: rejected: Local authority area code: "
                                      "\"E08000035X\" is not an upper-tier code"));
    assert_string_equal(comm_by_code(&r, "E08000035")->ofs->judgement, "Outstanding");
    assert_true(has_msg(&r.unmatched, "E09000033 Westminster: no centroid"));
    assert_true(has_msg(&r.unmatched, "alias table: \"herefordshire\" names E06000019, which is "
                                      "not loaded"));

    /* Loaded: Leeds, Barnsley, Bristol, Durham, Kent; all but Kent with a judgement. */
    assert_int_equal(r.loaded, 5);
    assert_int_equal(r.matched, 4);
    /* Every ONS row in England is loaded or rejected: the import record's CHECK holds. */
    assert_int_equal(r.ons.records - r.ons_elsewhere, r.loaded + r.rej.n);
    crun_free(&r);
}

/* The shipped files: 153 matched, nothing unmatched (tests/integration/import_geography.sh loads
 * them into a database). */
static void test_shipped_data(void **state)
{
    (void)state;
    struct crun r = {.dir = AQPD_SOURCE_DIR "/data"};
    struct {
        struct src *s;
        const char *rel;
        const char *const *headers;
        size_t n;
        row_fn fn;
    } files[] = {
        {&r.las, F_LAS, las_headers, NELEM(las_headers), c_las_row},
        {&r.regions, F_REGIONS, region_headers, NELEM(region_headers), c_region_row},
        {&r.ons, F_ONS, ons_headers, NELEM(ons_headers), c_ons_row},
        {&r.ofs, F_OFSTED, ofs_headers, NELEM(ofs_headers), c_ofs_row},
    };
    for (size_t i = 0; i < NELEM(files); i++) {
        files[i].s->rel = files[i].s->label = files[i].rel;
        files[i].s->path = xprintf("%s/%s", r.dir, files[i].rel);
        assert_true(src_read(files[i].s));
        assert_true(src_rows(files[i].s, files[i].headers, files[i].n, "x", files[i].fn, c_bad,
                             &r));
    }
    comm_match(&r);
    if (r.unmatched.n || r.rej.n)
        dump(&r);
    assert_int_equal(r.unmatched.n, 0);
    assert_int_equal(r.rej.n, 0);
    assert_int_equal(r.ncomm, 153);
    assert_int_equal(r.loaded, 153);
    assert_int_equal(r.matched, 153);
    assert_int_equal(r.nreg, 9);
    assert_int_equal(r.ncode_alias, 7);
    assert_int_equal(r.nname_alias, 4);
    size_t by_key = 0, by_alias = 0;
    for (size_t i = 0; i < r.notes.n; i++) {
        by_key += strstr(r.notes.v[i], "once normalised") != NULL;
        by_alias += strstr(r.notes.v[i], "through the alias table") != NULL;
    }
    assert_int_equal(by_key, 4);   /* St Helens, Telford & Wrekin, Hammersmith & Fulham, BCP */
    assert_int_equal(by_alias, 4); /* Bristol, Durham, Herefordshire, Kingston upon Hull */
    crun_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_key),    cmocka_unit_test(test_alias_table),
        cmocka_unit_test(test_outcode),     cmocka_unit_test(test_decimal),
        cmocka_unit_test(test_match),       cmocka_unit_test(test_shipped_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
