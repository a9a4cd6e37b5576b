/*
 * Fuzz-style robustness tests for qualify/ without libFuzzer: a seeded PRNG mutates a corpus
 * (hand-picked JSON plus every rule in tests/unit/rules) and feeds the results to jv_parse,
 * rule_validate, rule_eval and rule_check; a generator also builds random well-formed rules over
 * every operator. Run under the sanitizer build this finds memory errors; in any build it
 * checks invariants that must hold for every input:
 *  - a parsed value dumps to JSON that parses back equal, and dumps identically again;
 *  - a copy is equal to its original;
 *  - rule_check agrees with rule_eval (error / truthiness, same message);
 *  - a structural error found by evaluation (unknown operator, arity, nesting) is also found by
 *    rule_validate, which walks every branch.
 * AQPD_FUZZ_SEED and AQPD_FUZZ_ITERS override the seed and the iteration counts.
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

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static unsigned long env_num(const char *name, unsigned long dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtoul(s, NULL, 0) : dflt;
}

/* ---------------------------------------------------------------- corpus */

struct corpus {
    char **items;
    size_t *lens;
    size_t n, cap;
};

static struct corpus corpus;

static void corpus_add(const char *s, size_t len)
{
    if (corpus.n == corpus.cap) {
        corpus.cap = corpus.cap ? corpus.cap * 2 : 64;
        corpus.items = realloc(corpus.items, corpus.cap * sizeof(char *));
        corpus.lens = realloc(corpus.lens, corpus.cap * sizeof(size_t));
    }
    corpus.items[corpus.n] = malloc(len + 1);
    memcpy(corpus.items[corpus.n], s, len);
    corpus.items[corpus.n][len] = '\0';
    corpus.lens[corpus.n++] = len;
}

static const char *const seeds[] = {
    "null", "true", "0", "-0", "1.5e300", "9223372036854775807", "\"\\ud83d\\ude00\"",
    "\"caf\xc3\xa9\"", "[]", "{}", "[1,[2,[3,[4]]]]", "{\"a\":{\"b\":[null,true,\"x\"]}}",
    "{\"var\":\"a.b.0\"}", "{\"var\":[\"x\",{\"var\":\"a\"}]}",
    "{\"and\":[{\"<\":[0,{\"var\":\"n\"},10]},{\"in\":[\"x\",[\"x\",\"y\"]]}]}",
    "{\"if\":[{\"missing\":[\"a\",\"b\"]},\"no\",{\"==\":[{\"var\":\"a\"},1.0]},\"yes\",\"else\"]}",
    "{\"matches\":[{\"var\":\"urn\"},\"URN\"]}",
    "{\">=\":[{\"days_until\":{\"var\":\"expires\"}},30]}",
    "{\"==\":[{\"register_lookup\":[\"ofsted\",{\"var\":\"urn\"},\"status\"]},\"Active\"]}",
    "{\"or\":[{\"!\":[{\"var\":\"x\"}]},{\"!!\":[[]]},{\"?:\":[1,2,3]}]}",
    "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10}",
};

static const char *dir_of_rules(void)
{
    DIR *d = opendir("rules");
    if (d) {
        closedir(d);
        return "rules";
    }
    return AQPD_SOURCE_DIR "/tests/unit/rules";
}

static void load_corpus(void)
{
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        corpus_add(seeds[i], strlen(seeds[i]));

    const char *dir = dir_of_rules();
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        static char buf[1 << 20];
        size_t len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        jv *doc = NULL;
        struct jv_limits lim = {.max_depth = 256};
        struct jv_error err;
        if (!jv_parse(buf, len, &lim, &doc, &err))
            continue;
        const jv *cases = jv_get(doc, "cases");
        for (size_t i = 0; i < jv_len(cases); i++) {
            size_t dl;
            char *dump = jv_dump(jv_get(jv_index(cases, i), "rule"), &dl);
            corpus_add(dump, dl);
            free(dump);
        }
        jv_free(doc);
    }
    closedir(d);
}

/* ---------------------------------------------------------------- mutation */

static const char *const tokens[] = {
    "{", "}", "[", "]", "\"", "\\", ",", ":", "\\u", "\\ud800", "\\udc00", "\\u0000", "1e999",
    "9223372036854775808", "-", ".", "e", "null", "true", "{\"var\":\"\"}", "{\"!\":[",
    "{\"missing\":[", "{\"<\":[1,2,3]}", "[[[[[[[[", "\xc0\x80", "\xed\xa0\x80", "\xff", "\xf4\x90",
    "{\"a\":1,\"a\":2}", "{\"register_lookup\":[\"ofsted\",", "{\"matches\":[\"x\",\"SWE\"]}",
};

/* Writes a mutation of a corpus entry into out (cap bytes); returns its length. */
static size_t mutate(char *out, size_t cap)
{
    size_t k = rnd_below(corpus.n);
    size_t len = corpus.lens[k] < cap ? corpus.lens[k] : cap;
    memcpy(out, corpus.items[k], len);
    int rounds = 1 + (int)rnd_below(4);
    for (int r = 0; r < rounds; r++) {
        size_t pos = rnd_below(len + 1);
        switch (rnd_below(7)) {
        case 0: /* flip a bit */
            if (len)
                out[rnd_below(len)] ^= (char)(1u << rnd_below(8));
            break;
        case 1: /* replace a byte */
            if (len)
                out[rnd_below(len)] = (char)rnd_below(256);
            break;
        case 2:   /* insert a token */
        case 3: { /* (twice as likely) */
            const char *t = tokens[rnd_below(sizeof(tokens) / sizeof(tokens[0]))];
            size_t tl = strlen(t);
            if (len + tl > cap)
                break;
            memmove(out + pos + tl, out + pos, len - pos);
            memcpy(out + pos, t, tl);
            len += tl;
            break;
        }
        case 4: { /* delete a range */
            size_t dl = rnd_below(len - pos + 1);
            memmove(out + pos, out + pos + dl, len - pos - dl);
            len -= dl;
            break;
        }
        case 5: { /* duplicate a range */
            size_t dl = rnd_below(len - pos + 1);
            if (len + dl > cap)
                break;
            memmove(out + pos + dl, out + pos, len - pos);
            len += dl;
            break;
        }
        default: { /* splice in part of another entry */
            size_t j = rnd_below(corpus.n);
            size_t from = rnd_below(corpus.lens[j] + 1);
            size_t sl = rnd_below(corpus.lens[j] - from + 1);
            if (len + sl > cap)
                break;
            memmove(out + pos + sl, out + pos, len - pos);
            memcpy(out + pos, corpus.items[j] + from, sl);
            len += sl;
            break;
        }
        }
    }
    return len;
}

/* ---------------------------------------------------------------- checks */

static jv *sample_data;
static jv *sample_registers;

static void setup_samples(void)
{
    static const char data[] =
        "{\"a\":1,\"n\":5,\"x\":\"x\",\"urn\":\"SC489416\",\"expires\":\"2025-08-01\","
        "\"list\":[1,\"a\",null,[2]],\"o\":{\"b\":[true,{\"c\":\"\"}]},\"zero\":0}";
    static const char regs[] =
        "{\"ofsted\":{\"SC489416\":{\"status\":\"Active\",\"overall\":\"Good\"},"
        "\"2590934\":{\"status\":\"Suspended\"}},\"swe\":{\"SW1\":{\"status\":\"Registered\"}}}";
    struct jv_error err;
    assert_true(jv_parse(data, strlen(data), NULL, &sample_data, &err));
    assert_true(jv_parse(regs, strlen(regs), NULL, &sample_registers, &err));
}

static bool structural(const char *err)
{
    return strstr(err, "unknown operator") || strstr(err, " takes ") ||
           strstr(err, "nests deeper");
}

/* Evaluates rule against data and checks that the APIs agree. */
static void check_rule(const jv *rule, const jv *data)
{
    char err[RULE_ERRLEN], err2[RULE_ERRLEN], verr[RULE_ERRLEN];
    struct rule_ctx ctx = {.data = data, .registers = sample_registers, .year = 2025,
                           .month = 6, .day = 1, .max_steps = 20000};
    jv *out = NULL;
    bool ok = rule_eval(rule, &ctx, &out, err, sizeof(err));
    enum rule_outcome oc = rule_check(rule, &ctx, err2, sizeof(err2));
    bool valid = rule_validate(rule, verr, sizeof(verr));
    if (ok) {
        if (oc != (rule_truthy(out) ? RULE_PASS : RULE_FAIL)) {
            char *r = jv_dump(rule, NULL);
            fail_msg("rule_check %d disagrees with rule_eval for %s", oc, r);
        }
        jv_free(out);
    } else {
        assert_null(out);
        if (oc != RULE_ERROR || strcmp(err, err2) != 0) {
            char *r = jv_dump(rule, NULL);
            fail_msg("rule_check %d \"%s\" vs rule_eval \"%s\" for %s", oc, err2, err, r);
        }
        if (structural(err) && valid) {
            char *r = jv_dump(rule, NULL);
            fail_msg("rule_eval found \"%s\" but rule_validate accepted %s", err, r);
        }
    }
}

static void check_value(const jv *v)
{
    size_t len;
    char *d = jv_dump(v, &len);
    jv *w = NULL;
    struct jv_error err;
    struct jv_limits lim = {.max_depth = 1000};
    if (!jv_parse(d, len, &lim, &w, &err))
        fail_msg("dump does not parse back (%s at %zu): %s", err.msg, err.offset, d);
    assert_true(jv_equal(v, w));
    char *d2 = jv_dump(w, NULL);
    assert_string_equal(d, d2);
    jv *c = jv_copy(v);
    assert_true(jv_equal(v, c));
    jv_free(c);
    jv_free(w);
    free(d);
    free(d2);
}

static void test_mutated_inputs(void **state)
{
    (void)state;
    unsigned long iters = env_num("AQPD_FUZZ_ITERS", 6000);
    size_t parsed = 0, evaluated_ok = 0;
    static char buf[1 << 14];
    struct jv_limits lim = {.max_bytes = sizeof(buf), .max_depth = 40, .max_string = 512,
                            .max_members = 300, .max_nodes = 5000};
    for (unsigned long i = 0; i < iters; i++) {
        size_t len = mutate(buf, sizeof(buf));
        jv *v = NULL;
        struct jv_error err = {0};
        if (!jv_parse(buf, len, &lim, &v, &err)) {
            assert_null(v);
            if (err.offset > len)
                fail_msg("offset %zu past the end (%zu) for \"%s\": %.*s", err.offset, len,
                         err.msg, (int)len, buf);
            assert_true(strlen(err.msg) > 0);
            continue;
        }
        parsed++;
        check_value(v);
        check_rule(v, sample_data); /* the input as a rule */
        jv *out = NULL;
        char e[RULE_ERRLEN];
        struct rule_ctx ctx = {.data = sample_data, .registers = sample_registers,
                               .year = 2025, .month = 6, .day = 1};
        if (rule_eval(v, &ctx, &out, e, sizeof(e)))
            evaluated_ok++;
        jv_free(out);
        /* the input as data, under a random corpus rule */
        const char *rt = corpus.items[rnd_below(corpus.n)];
        jv *rule = NULL;
        if (jv_parse(rt, strlen(rt), NULL, &rule, &err)) {
            check_rule(rule, v);
            jv_free(rule);
        }
        jv_free(v);
    }
    print_message("%lu mutated inputs: %zu parsed, %zu evaluated without error\n", iters, parsed,
                  evaluated_ok);
    assert_true(parsed > 0);
}

/* ---------------------------------------------------------------- generated rules */

static const char *const gen_ops[] = {
    "var", "missing", "==", "!=", "===", "!==", "<", "<=", ">", ">=", "!", "!!", "and", "or",
    "if", "?:", "in", "matches", "days_until", "register_lookup", "bogus",
};
static const char *const gen_strings[] = {
    "a", "n", "x", "urn", "expires", "list", "list.1", "o.b.1.c", "zero", "", "nope",
    "SC489416", "2590934", "GB-COH", "GB-CHC", "SWE", "URN", "postcode", "IBAN", "ofsted", "swe",
    "status", "2025-08-01", "2024-02-29", "2025-02-29", "SW1A 1AA", "Active",
};

static jv *gen_rule(int depth);

static jv *gen_literal(void)
{
    switch (rnd_below(7)) {
    case 0:
        return jv_new_null();
    case 1:
        return jv_new_bool(rnd() & 1);
    case 2:
        return jv_new_int((int64_t)rnd_below(40) - 10);
    case 3:
        return jv_new_double((double)((int64_t)rnd_below(400) - 100) / 8.0);
    case 4: {
        jv *a = jv_new_array();
        for (size_t i = rnd_below(3); i > 0; i--)
            jv_array_push(a, gen_literal());
        return a;
    }
    default: {
        const char *s = gen_strings[rnd_below(sizeof(gen_strings) / sizeof(gen_strings[0]))];
        jv *v = jv_new_string(s, strlen(s));
        assert_non_null(v);
        return v;
    }
    }
}

static jv *gen_rule(int depth)
{
    if (depth <= 0 || rnd_below(4) == 0)
        return gen_literal();
    const char *op = gen_ops[rnd_below(sizeof(gen_ops) / sizeof(gen_ops[0]))];
    size_t nargs = rnd_below(5);
    jv *args;
    if (nargs == 1 && (rnd() & 1)) {
        args = gen_rule(depth - 1); /* unary form */
    } else {
        args = jv_new_array();
        for (size_t i = 0; i < nargs; i++)
            jv_array_push(args, gen_rule(depth - 1));
    }
    jv *o = jv_new_object();
    assert_true(jv_object_add(o, op, strlen(op), args));
    return o;
}

static void test_generated_rules(void **state)
{
    (void)state;
    unsigned long iters = env_num("AQPD_FUZZ_ITERS", 6000);
    for (unsigned long i = 0; i < iters; i++) {
        jv *rule = gen_rule(1 + (int)rnd_below(7));
        check_rule(rule, sample_data);
        check_rule(rule, NULL);
        check_value(rule);
        jv_free(rule);
    }
}

static int setup(void **state)
{
    (void)state;
    rng_state = env_num("AQPD_FUZZ_SEED", 0x9E3779B97F4A7C15ULL);
    if (!rng_state)
        rng_state = 1;
    load_corpus();
    setup_samples();
    print_message("fuzz seed %#llx, corpus of %zu entries\n", (unsigned long long)rng_state,
                  corpus.n);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < corpus.n; i++)
        free(corpus.items[i]);
    free(corpus.items);
    free(corpus.lens);
    jv_free(sample_data);
    jv_free(sample_registers);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_inputs),
        cmocka_unit_test(test_generated_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
