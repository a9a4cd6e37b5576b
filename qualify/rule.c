/*
 * rule: the criteria rule evaluator (JsonLogic subset + matches, days_until, register_lookup),
 * its static validator, and the identifier format matchers. Semantics are specified in
 * rule.h; this file owns only their implementation. No I/O, no clock: "today" comes from the
 * caller.
 *
 * Evaluation never copies the inputs to compute: a result is either borrowed (a pointer into
 * the rule, the data, a register or a static constant) or owned (computed here), tracked by
 * struct val. Only the final result of rule_eval is copied out.
 */
#include "qualify/rule.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qualify/xalloc.h"

/* An evaluated value: v is always set on success; own is v when this evaluation owns it. */
struct val {
    const jv *v;
    jv *own;
};

/* One step of the JSON Pointer to where evaluation is: an object key or an array index. */
struct seg {
    const char *key; /* NULL for an index */
    size_t klen;
    size_t idx;
};

struct ev {
    const jv *data;
    const jv *registers;
    int64_t today; /* days since 1970-01-01 */
    size_t steps, max_steps;
    unsigned nest;     /* operators and array literals entered */
    char *err;
    size_t errlen;
    struct seg path[2 * RULE_MAX_DEPTH + 4];
    size_t plen;
};

struct op;
typedef bool (*op_fn)(struct ev *e, const struct op *o, const jv *args, size_t n,
                      struct val *out);

struct op {
    const char *name;
    size_t min, max;
    op_fn fn;
};

static bool eval(struct ev *e, const jv *r, struct val *out);

/* ---------------------------------------------------------------- errors and paths */

static void path_push_key(struct ev *e, const char *key, size_t klen)
{
    if (e->plen < sizeof(e->path) / sizeof(e->path[0]))
        e->path[e->plen] = (struct seg){.key = key, .klen = klen};
    e->plen++;
}

static void path_push_idx(struct ev *e, size_t i)
{
    if (e->plen < sizeof(e->path) / sizeof(e->path[0]))
        e->path[e->plen] = (struct seg){.key = NULL, .idx = i};
    e->plen++;
}

static void path_pop(struct ev *e)
{
    e->plen--;
}

/* Appends text to dst (cap bytes), truncating; keeps dst NUL-terminated. */
static void cat(char *dst, size_t cap, size_t *used, const char *s, size_t n)
{
    if (*used + 1 >= cap)
        return;
    size_t room = cap - 1 - *used;
    if (n > room)
        n = room;
    memcpy(dst + *used, s, n);
    *used += n;
    dst[*used] = '\0';
}

/* Writes up to max bytes of a rule-supplied name for a message: cut at a UTF-8 character
 * boundary, control characters shown as '?'. */
static void quote_name(char *out, size_t outlen, const char *s, size_t len)
{
    const size_t max = 40;
    size_t o = 0, i = 0;
    while (i < len && i < max && o + 5 < outlen) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (i + n > len || i + n > max)
            break;
        for (size_t k = 0; k < n; k++)
            out[o++] = (unsigned char)s[i + k] < 0x20 ? '?' : s[i + k];
        i += n;
    }
    if (i < len && o + 4 <= outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

__attribute__((format(printf, 2, 3))) static bool rerr(struct ev *e, const char *fmt, ...)
{
    char msg[RULE_ERRLEN], where[RULE_ERRLEN];
    size_t used = 0;
    va_list ap;

    if (!e->err || e->errlen == 0)
        return false;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    where[0] = '\0';
    size_t shown = e->plen < sizeof(e->path) / sizeof(e->path[0])
                       ? e->plen
                       : sizeof(e->path) / sizeof(e->path[0]);
    for (size_t i = 0; i < shown; i++) {
        const struct seg *s = &e->path[i];
        cat(where, sizeof(where), &used, "/", 1);
        if (s->key) {
            char q[64];
            quote_name(q, sizeof(q), s->key, s->klen);
            for (const char *p = q; *p; p++) {
                if (*p == '~')
                    cat(where, sizeof(where), &used, "~0", 2);
                else if (*p == '/')
                    cat(where, sizeof(where), &used, "~1", 2);
                else
                    cat(where, sizeof(where), &used, p, 1);
            }
        } else {
            char num[24];
            int n = snprintf(num, sizeof(num), "%zu", s->idx);
            cat(where, sizeof(where), &used, num, (size_t)n);
        }
    }
    snprintf(e->err, e->errlen, "%s (at %s)", msg, used ? where : "the rule's root");
    return false;
}

/* ---------------------------------------------------------------- values */

static void val_free(struct val *v)
{
    jv_free(v->own);
    v->own = NULL;
    v->v = NULL;
}

static bool val_borrow(struct val *out, const jv *v)
{
    out->v = v ? v : jv_static_null();
    out->own = NULL;
    return true;
}

static bool val_own(struct val *out, jv *v)
{
    out->v = v;
    out->own = v;
    return true;
}

static bool val_bool(struct val *out, bool b)
{
    return val_borrow(out, jv_static_bool(b));
}

bool rule_truthy(const jv *v)
{
    switch (jv_typeof(v)) {
    case JV_BOOL:
        return jv_bool(v);
    case JV_INT:
        return jv_int(v) != 0;
    case JV_NUMBER:
        return jv_double(v) != 0.0;
    case JV_STRING:
    case JV_ARRAY:
        return jv_len(v) > 0;
    case JV_OBJECT:
        return true;
    default:
        return false;
    }
}

/* Arguments: an array of them, or one non-array argument. */
static size_t nargs(const jv *args)
{
    return jv_is_array(args) ? jv_len(args) : 1;
}

static const jv *arg(const jv *args, size_t i)
{
    return jv_is_array(args) ? jv_index(args, i) : args;
}

/* Evaluates argument i of operation o, with the error path pointing at it. */
static bool eval_arg(struct ev *e, const struct op *o, const jv *args, size_t i, struct val *out)
{
    path_push_key(e, o->name, strlen(o->name));
    if (jv_is_array(args))
        path_push_idx(e, i);
    bool ok = eval(e, arg(args, i), out);
    if (jv_is_array(args))
        path_pop(e);
    path_pop(e);
    return ok;
}

/* Evaluates all n arguments into vals[0..n); on failure frees what it evaluated. */
static bool eval_all(struct ev *e, const struct op *o, const jv *args, size_t n, struct val *vals)
{
    for (size_t i = 0; i < n; i++) {
        if (!eval_arg(e, o, args, i, &vals[i])) {
            while (i > 0)
                val_free(&vals[--i]);
            return false;
        }
    }
    return true;
}

static void free_all(struct val *vals, size_t n)
{
    for (size_t i = 0; i < n; i++)
        val_free(&vals[i]);
}

/* Charges the work of copying v to the step budget, then copies it. */
static bool charge_copy(struct ev *e, const jv *v, jv **out)
{
    size_t room = e->max_steps > e->steps ? e->max_steps - e->steps : 0;
    size_t n = jv_count(v, room == SIZE_MAX ? room : room + 1);
    if (n > room)
        return rerr(e, "rule evaluation exceeds %zu steps", e->max_steps);
    e->steps += n;
    *out = jv_copy(v);
    return true;
}

/* Decimal text of a non-negative integer key ("var": 0, register keys given as numbers). */
static size_t int_key(int64_t i, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%" PRId64, i);
    return n < 0 ? 0 : (size_t)n;
}

/* Looks up a var-style path (string, integer, or null for the root) in data.
 * Returns 1 with *found set (NULL when missing), or 0 if path has the wrong type. */
static int lookup_path(const jv *data, const jv *path, const jv **found)
{
    char num[24];
    size_t len;
    const char *s;

    switch (jv_typeof(path)) {
    case JV_NULL:
        *found = data;
        return 1;
    case JV_STRING:
        s = jv_str(path, &len);
        *found = jv_path(data, s, len);
        return 1;
    case JV_INT:
        if (jv_int(path) < 0) {
            *found = NULL;
            return 1;
        }
        len = int_key(jv_int(path), num, sizeof(num));
        *found = jv_path(data, num, len);
        return 1;
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------- operators */

static bool op_var(struct ev *e, const struct op *o, const jv *args, size_t n, struct val *out)
{
    struct val p;
    const jv *found;

    if (n == 0)
        return val_borrow(out, e->data);
    if (!eval_arg(e, o, args, 0, &p))
        return false;
    int ok = lookup_path(e->data, p.v, &found);
    val_free(&p);
    if (!ok)
        return rerr(e, "var: the path must be a string, an integer or null");
    if (found)
        return val_borrow(out, found);
    if (n >= 2)
        return eval_arg(e, o, args, 1, out);
    return val_borrow(out, NULL);
}

static bool op_missing(struct ev *e, const struct op *o, const jv *args, size_t n,
                       struct val *out)
{
    struct val *vals = xcalloc(n, sizeof(*vals));
    bool ok = false;
    jv *res = jv_new_array();

    if (!eval_all(e, o, args, n, vals)) {
        free(vals);
        jv_free(res);
        return false;
    }
    bool listed = n >= 1 && jv_is_array(vals[0].v);
    size_t nkeys = listed ? jv_len(vals[0].v) : n;
    for (size_t i = 0; i < nkeys; i++) {
        const jv *key = listed ? jv_index(vals[0].v, i) : vals[i].v;
        const jv *found;
        if (!lookup_path(e->data, key, &found) || jv_is_null(key)) {
            rerr(e, "missing: keys must be strings or integers");
            goto done;
        }
        if (!found || jv_is_null(found) || (jv_is_string(found) && jv_len(found) == 0)) {
            if (++e->steps > e->max_steps) {
                rerr(e, "rule evaluation exceeds %zu steps", e->max_steps);
                goto done;
            }
            jv_array_push(res, jv_copy(key));
        }
    }
    ok = true;
done:
    free_all(vals, n);
    free(vals);
    if (!ok) {
        jv_free(res);
        return false;
    }
    return val_own(out, res);
}

static bool op_eq(struct ev *e, const struct op *o, const jv *args, size_t n, struct val *out)
{
    struct val v[2];
    (void)n;
    if (!eval_all(e, o, args, 2, v))
        return false;
    bool eq = jv_equal(v[0].v, v[1].v);
    free_all(v, 2);
    return val_bool(out, o->name[0] == '!' ? !eq : eq);
}

/* Orders a and b if they are both numbers or both strings; false if they are not ordered. */
static bool order(const jv *a, const jv *b, int *cmp)
{
    if (jv_num_cmp(a, b, cmp))
        return true;
    if (jv_is_string(a) && jv_is_string(b)) {
        size_t la, lb;
        const char *sa = jv_str(a, &la), *sb = jv_str(b, &lb);
        int c = memcmp(sa, sb, la < lb ? la : lb);
        *cmp = c < 0 ? -1 : c > 0 ? 1 : la < lb ? -1 : la > lb;
        return true;
    }
    return false;
}

static bool op_cmp(struct ev *e, const struct op *o, const jv *args, size_t n, struct val *out)
{
    struct val v[3];
    bool result = true;
    if (!eval_all(e, o, args, n, v))
        return false;
    for (size_t i = 0; i + 1 < n && result; i++) {
        int c;
        if (!order(v[i].v, v[i + 1].v, &c))
            result = false;
        else if (strcmp(o->name, "<") == 0)
            result = c < 0;
        else if (strcmp(o->name, "<=") == 0)
            result = c <= 0;
        else if (strcmp(o->name, ">") == 0)
            result = c > 0;
        else
            result = c >= 0;
    }
    free_all(v, n);
    return val_bool(out, result);
}

static bool op_not(struct ev *e, const struct op *o, const jv *args, size_t n, struct val *out)
{
    struct val v;
    (void)n;
    if (!eval_arg(e, o, args, 0, &v))
        return false;
    bool t = rule_truthy(v.v);
    val_free(&v);
    return val_bool(out, o->name[1] == '!' ? t : !t);
}

static bool op_andor(struct ev *e, const struct op *o, const jv *args, size_t n,
                     struct val *out)
{
    bool is_and = o->name[0] == 'a';
    for (size_t i = 0; i < n; i++) {
        struct val v;
        if (!eval_arg(e, o, args, i, &v))
            return false;
        bool t = rule_truthy(v.v);
        if (i == n - 1 || t != is_and) {
            *out = v;
            return true;
        }
        val_free(&v);
    }
    return val_borrow(out, NULL); /* not reached: n >= 1 */
}

static bool op_if(struct ev *e, const struct op *o, const jv *args, size_t n, struct val *out)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        struct val c;
        if (!eval_arg(e, o, args, i, &c))
            return false;
        bool t = rule_truthy(c.v);
        val_free(&c);
        if (t)
            return eval_arg(e, o, args, i + 1, out);
    }
    if (i < n)
        return eval_arg(e, o, args, i, out);
    return val_borrow(out, NULL);
}

static bool op_in(struct ev *e, const struct op *o, const jv *args, size_t n, struct val *out)
{
    struct val v[2];
    bool found = false;
    (void)n;
    if (!eval_all(e, o, args, 2, v))
        return false;
    const jv *needle = v[0].v, *hay = v[1].v;
    if (jv_is_string(hay) && jv_is_string(needle)) {
        size_t nl, hl;
        const char *ns = jv_str(needle, &nl), *hs = jv_str(hay, &hl);
        found = nl == 0 || memmem(hs, hl, ns, nl) != NULL;
    } else if (jv_is_array(hay)) {
        for (size_t i = 0; i < jv_len(hay) && !found; i++)
            found = jv_equal(needle, jv_index(hay, i));
    }
    free_all(v, 2);
    return val_bool(out, found);
}

static const char *const format_names = "GB-COH, GB-CHC, SWE, URN, postcode";

static bool op_matches(struct ev *e, const struct op *o, const jv *args, size_t n,
                       struct val *out)
{
    struct val v[2];
    size_t flen, slen;
    (void)n;
    if (!eval_all(e, o, args, 2, v))
        return false;
    const char *fmt = jv_str(v[1].v, &flen);
    if (!fmt) {
        free_all(v, 2);
        return rerr(e, "matches: the format must be a string (one of %s)", format_names);
    }
    const char *s = jv_str(v[0].v, &slen);
    int m = rule_matches(fmt, s ? s : "", s ? slen : 0);
    if (m < 0) {
        char q[64];
        quote_name(q, sizeof(q), fmt, flen);
        free_all(v, 2);
        return rerr(e, "matches: unknown format \"%s\" (known: %s)", q, format_names);
    }
    free_all(v, 2);
    return val_bool(out, s && m == 1);
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool valid_date(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

/* Parses "YYYY-MM-DD" or "YYYY-MM-DDT<anything>". */
static bool parse_date(const char *s, size_t len, int *y, int *m, int *d)
{
    static const char shape[] = "dddd-dd-dd";
    if (len < 10 || (len > 10 && s[10] != 'T'))
        return false;
    for (size_t i = 0; i < 10; i++) {
        bool digit = s[i] >= '0' && s[i] <= '9';
        if (shape[i] == 'd' ? !digit : s[i] != '-')
            return false;
    }
    *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    return valid_date(*y, *m, *d);
}

static bool op_days_until(struct ev *e, const struct op *o, const jv *args, size_t n,
                          struct val *out)
{
    struct val v;
    size_t len;
    int y, m, d;
    (void)n;
    if (!eval_arg(e, o, args, 0, &v))
        return false;
    const char *s = jv_str(v.v, &len);
    bool ok = s && parse_date(s, len, &y, &m, &d);
    val_free(&v);
    if (!ok)
        return val_borrow(out, NULL);
    return val_own(out, jv_new_int(days_from_civil(y, (unsigned)m, (unsigned)d) - e->today));
}

static bool op_register_lookup(struct ev *e, const struct op *o, const jv *args, size_t n,
                               struct val *out)
{
    struct val v[3];
    const jv *entry = NULL;
    size_t len;
    char num[24], q[64];
    bool ok = false;

    if (!eval_all(e, o, args, n, v))
        return false;
    const char *name = jv_str(v[0].v, &len);
    if (!name) {
        rerr(e, "register_lookup: the register name must be a string");
        goto done;
    }
    const jv *reg = jv_getn(e->registers, name, len);
    if (!jv_is_object(reg)) {
        quote_name(q, sizeof(q), name, len);
        rerr(e, "register_lookup: no register named \"%s\" was supplied", q);
        goto done;
    }
    if (n == 3 && !jv_is_string(v[2].v) && !jv_is_int(v[2].v)) {
        rerr(e, "register_lookup: the field must be a string or an integer");
        goto done;
    }
    if (jv_is_string(v[1].v)) {
        const char *key = jv_str(v[1].v, &len);
        entry = jv_getn(reg, key, len);
    } else if (jv_is_int(v[1].v)) {
        len = int_key(jv_int(v[1].v), num, sizeof(num));
        entry = jv_getn(reg, num, len);
    }
    if (entry && n == 3 && !lookup_path(entry, v[2].v, &entry))
        entry = NULL;
    ok = true;
done:
    free_all(v, n);
    return ok && val_borrow(out, entry);
}

#define MANY ((size_t)-1)

static const struct op ops[] = {
    {"var", 0, 2, op_var},
    {"missing", 0, MANY, op_missing},
    {"==", 2, 2, op_eq},
    {"===", 2, 2, op_eq},
    {"!=", 2, 2, op_eq},
    {"!==", 2, 2, op_eq},
    {"<", 2, 3, op_cmp},
    {"<=", 2, 3, op_cmp},
    {">", 2, 2, op_cmp},
    {">=", 2, 2, op_cmp},
    {"!", 1, 1, op_not},
    {"!!", 1, 1, op_not},
    {"and", 1, MANY, op_andor},
    {"or", 1, MANY, op_andor},
    {"if", 0, MANY, op_if},
    {"?:", 0, MANY, op_if},
    {"in", 2, 2, op_in},
    {"matches", 2, 2, op_matches},
    {"days_until", 1, 1, op_days_until},
    {"register_lookup", 2, 3, op_register_lookup},
};

static const struct op *find_op(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strlen(ops[i].name) == len && memcmp(ops[i].name, name, len) == 0)
            return &ops[i];
    return NULL;
}

/* ---------------------------------------------------------------- evaluation */

/* Finds and arity-checks the operation in a one-key object. */
static const struct op *resolve(struct ev *e, const jv *r, const jv **args)
{
    const char *name;
    size_t len;
    char q[64];

    *args = jv_member(r, 0, &name, &len);
    const struct op *o = find_op(name, len);
    if (!o) {
        quote_name(q, sizeof(q), name, len);
        rerr(e, "unknown operator \"%s\"", q);
        return NULL;
    }
    size_t n = nargs(*args);
    if (n < o->min || n > o->max) {
        if (o->max == MANY)
            rerr(e, "\"%s\" takes at least %zu argument%s, got %zu", o->name, o->min,
                 o->min == 1 ? "" : "s", n);
        else if (o->min == o->max)
            rerr(e, "\"%s\" takes %zu argument%s, got %zu", o->name, o->min,
                 o->min == 1 ? "" : "s", n);
        else
            rerr(e, "\"%s\" takes %zu to %zu arguments, got %zu", o->name, o->min, o->max, n);
        return NULL;
    }
    return o;
}

/* Counts one evaluation step. */
static bool step(struct ev *e)
{
    if (++e->steps > e->max_steps)
        return rerr(e, "rule evaluation exceeds %zu steps", e->max_steps);
    return true;
}

/* Checks the nesting before entering an operator or an array literal. */
static bool deeper(struct ev *e)
{
    if (e->nest >= RULE_MAX_DEPTH)
        return rerr(e, "rule nests deeper than %d operators and arrays", RULE_MAX_DEPTH);
    return true;
}

static bool eval_array(struct ev *e, const jv *r, struct val *out)
{
    size_t n = jv_len(r);
    struct val *vals = xcalloc(n, sizeof(*vals));
    bool literal = true, ok = true;

    e->nest++;
    for (size_t i = 0; i < n && ok; i++) {
        path_push_idx(e, i);
        ok = eval(e, jv_index(r, i), &vals[i]);
        path_pop(e);
        if (ok && vals[i].v != jv_index(r, i))
            literal = false;
        if (!ok)
            n = i;
    }
    e->nest--;
    if (ok && literal) {
        free(vals);
        return val_borrow(out, r);
    }
    jv *arr = NULL;
    if (ok) {
        arr = jv_new_array();
        for (size_t i = 0; i < n && ok; i++) {
            jv *item = vals[i].own;
            if (item)
                vals[i].own = NULL;
            else
                ok = charge_copy(e, vals[i].v, &item);
            if (ok)
                jv_array_push(arr, item);
        }
    }
    free_all(vals, n);
    free(vals);
    if (!ok) {
        jv_free(arr);
        return false;
    }
    return val_own(out, arr);
}

static bool eval(struct ev *e, const jv *r, struct val *out)
{
    const jv *args;
    out->v = NULL;
    out->own = NULL;
    if (!step(e))
        return false;
    if (!jv_is_array(r) && (!jv_is_object(r) || jv_len(r) != 1))
        return val_borrow(out, r);
    if (!deeper(e))
        return false;
    if (jv_is_array(r))
        return eval_array(e, r, out);
    const struct op *o = resolve(e, r, &args);
    if (!o)
        return false;
    e->nest++;
    bool ok = o->fn(e, o, args, nargs(args), out);
    e->nest--;
    return ok;
}

static bool ev_init(struct ev *e, const struct rule_ctx *ctx, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    e->err = err;
    e->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!ctx)
        return rerr(e, "no evaluation context");
    if (!valid_date(ctx->year, ctx->month, ctx->day))
        return rerr(e, "the evaluation date %04d-%02d-%02d is not a valid date", ctx->year,
                    ctx->month, ctx->day);
    e->data = ctx->data ? ctx->data : jv_static_null();
    e->registers = ctx->registers;
    e->today = days_from_civil(ctx->year, (unsigned)ctx->month, (unsigned)ctx->day);
    e->max_steps = ctx->max_steps ? ctx->max_steps : RULE_DEFAULT_MAX_STEPS;
    return true;
}

bool rule_eval(const jv *rule, const struct rule_ctx *ctx, jv **out, char *err, size_t errlen)
{
    struct ev e;
    struct val v;
    *out = NULL;
    if (!ev_init(&e, ctx, err, errlen))
        return false;
    if (!rule)
        return rerr(&e, "no rule");
    if (!eval(&e, rule, &v))
        return false;
    *out = v.own ? v.own : jv_copy(v.v);
    return true;
}

enum rule_outcome rule_check(const jv *rule, const struct rule_ctx *ctx, char *err,
                             size_t errlen)
{
    struct ev e;
    struct val v;
    if (!ev_init(&e, ctx, err, errlen))
        return RULE_ERROR;
    if (!rule) {
        rerr(&e, "no rule");
        return RULE_ERROR;
    }
    if (!eval(&e, rule, &v))
        return RULE_ERROR;
    bool t = rule_truthy(v.v);
    val_free(&v);
    return t ? RULE_PASS : RULE_FAIL;
}

/* ---------------------------------------------------------------- validation */

/* True if r is a literal: evaluation returns it as it is. */
static bool is_literal(const jv *r)
{
    return !jv_is_array(r) && !(jv_is_object(r) && jv_len(r) == 1);
}

static bool check(struct ev *e, const jv *r);

/* Static checks on the literal arguments of one operation. */
static bool check_literals(struct ev *e, const struct op *o, const jv *args, size_t n)
{
    const jv *a;
    if (strcmp(o->name, "var") == 0 && n >= 1) {
        a = arg(args, 0);
        if (is_literal(a) && !jv_is_string(a) && !jv_is_int(a) && !jv_is_null(a))
            return rerr(e, "var: the path must be a string, an integer or null");
    } else if (strcmp(o->name, "missing") == 0) {
        const jv *keys = args;
        size_t nk = n;
        if (n >= 1 && jv_is_array(arg(args, 0))) {
            keys = arg(args, 0);
            nk = jv_len(keys);
        }
        for (size_t i = 0; i < nk; i++) {
            a = arg(keys, i);
            if (is_literal(a) && !jv_is_string(a) && !jv_is_int(a))
                return rerr(e, "missing: keys must be strings or integers");
        }
    } else if (strcmp(o->name, "matches") == 0) {
        size_t len;
        const char *fmt = jv_str(a = arg(args, 1), &len);
        if (is_literal(a) && !fmt)
            return rerr(e, "matches: the format must be a string (one of %s)", format_names);
        if (fmt && rule_matches(fmt, "", 0) < 0) {
            char q[64];
            quote_name(q, sizeof(q), fmt, len);
            return rerr(e, "matches: unknown format \"%s\" (known: %s)", q, format_names);
        }
    } else if (strcmp(o->name, "register_lookup") == 0) {
        a = arg(args, 0);
        if (is_literal(a) && !jv_is_string(a))
            return rerr(e, "register_lookup: the register name must be a string");
        a = arg(args, 2);
        if (n == 3 && is_literal(a) && !jv_is_string(a) && !jv_is_int(a))
            return rerr(e, "register_lookup: the field must be a string or an integer");
    }
    return true;
}

static bool check(struct ev *e, const jv *r)
{
    const jv *args;
    if (is_literal(r))
        return true;
    if (!deeper(e))
        return false;
    if (jv_is_array(r)) {
        e->nest++;
        for (size_t i = 0; i < jv_len(r); i++) {
            path_push_idx(e, i);
            bool ok = check(e, jv_index(r, i));
            path_pop(e);
            if (!ok)
                return false;
        }
        e->nest--;
        return true;
    }
    const struct op *o = resolve(e, r, &args);
    if (!o)
        return false;
    size_t n = nargs(args);
    if (!check_literals(e, o, args, n))
        return false;
    e->nest++;
    for (size_t i = 0; i < n; i++) {
        path_push_key(e, o->name, strlen(o->name));
        if (jv_is_array(args))
            path_push_idx(e, i);
        bool ok = check(e, arg(args, i));
        if (jv_is_array(args))
            path_pop(e);
        path_pop(e);
        if (!ok)
            return false;
    }
    e->nest--;
    return true;
}

bool rule_validate(const jv *rule, char *err, size_t errlen)
{
    struct ev e;
    memset(&e, 0, sizeof(e));
    e.err = err;
    e.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!rule)
        return rerr(&e, "no rule");
    return check(&e, rule);
}

/* ---------------------------------------------------------------- identifier formats */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static bool match_coh(const char *s, size_t len)
{
    static const char prefixes[] = "AC CE CS ES FC GE GN GS IP LP NA NC NF NI NL NP NR NZ OC R0 "
                                   "RC SA SC SE SF SL SO SP SR SZ ZC";
    if (len != 8)
        return false;
    if (all_digits(s, 8))
        return true;
    if (!is_upper(s[0]) || !(is_upper(s[1]) || is_digit(s[1])) || !all_digits(s + 2, 6))
        return false;
    for (size_t i = 0; i + 2 < sizeof(prefixes); i += 3) /* "AC ", ..., "ZC\0" */
        if (prefixes[i] == s[0] && prefixes[i + 1] == s[1])
            return true;
    return false;
}

static bool match_chc(const char *s, size_t len)
{
    return len >= 6 && len <= 8 && s[0] != '0' && all_digits(s, len);
}

static bool match_swe(const char *s, size_t len)
{
    return len >= 3 && len <= 9 && s[0] == 'S' && s[1] == 'W' && all_digits(s + 2, len - 2);
}

static bool match_urn(const char *s, size_t len)
{
    if (len == 7)
        return s[0] != '0' && all_digits(s, 7);
    return len == 8 && s[0] == 'S' && s[1] == 'C' && all_digits(s + 2, 6);
}

/* Upper-cased letter c, or 0 if c is not a letter. */
static char letter(char c)
{
    if (c >= 'a' && c <= 'z')
        return (char)(c - 'a' + 'A');
    return is_upper(c) ? c : 0;
}

static bool letter_in(char c, const char *set)
{
    char l = letter(c);
    return l && strchr(set, l) != NULL;
}

static bool match_postcode(const char *s, size_t len)
{
    char pc[8];
    size_t n = 0;
    /* Drop the one permitted space, which must sit just before the 3-character inward code. */
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ') {
            if (i != len - 4 || i == 0)
                return false;
            continue;
        }
        if (n == sizeof(pc))
            return false;
        pc[n++] = s[i];
    }
    if (n < 5 || n > 7)
        return false;
    const char *in = pc + n - 3;
    size_t olen = n - 3;
    if (olen == 3 && letter(pc[0]) == 'G' && letter(pc[1]) == 'I' && letter(pc[2]) == 'R')
        return in[0] == '0' && letter(in[1]) == 'A' && letter(in[2]) == 'A';
    if (!is_digit(in[0]) || !letter_in(in[1], "ABDEFGHJLNPQRSTUWXYZ") ||
        !letter_in(in[2], "ABDEFGHJLNPQRSTUWXYZ"))
        return false;

    static const char first[] = "ABCDEFGHIJKLMNOPRSTUWYZ";            /* not Q V X */
    static const char second[] = "ABCDEFGHKLMNOPQRSTUVWXY";           /* not I J Z */
    static const char third[] = "ABCDEFGHJKPSTUW";                    /* A9A */
    static const char fourth[] = "ABEHMNPRVWXY";                      /* AA9A */
    if (!letter_in(pc[0], first))
        return false;
    switch (olen) {
    case 2: /* A9 */
        return is_digit(pc[1]);
    case 3: /* A99, AA9, A9A */
        if (is_digit(pc[1]))
            return is_digit(pc[2]) || letter_in(pc[2], third);
        return letter_in(pc[1], second) && is_digit(pc[2]);
    case 4: /* AA99, AA9A */
        return letter_in(pc[1], second) && is_digit(pc[2]) &&
               (is_digit(pc[3]) || letter_in(pc[3], fourth));
    default:
        return false;
    }
}

int rule_matches(const char *format, const char *s, size_t len)
{
    if (strcmp(format, "GB-COH") == 0)
        return match_coh(s, len);
    if (strcmp(format, "GB-CHC") == 0)
        return match_chc(s, len);
    if (strcmp(format, "SWE") == 0)
        return match_swe(s, len);
    if (strcmp(format, "URN") == 0)
        return match_urn(s, len);
    if (strcmp(format, "postcode") == 0)
        return match_postcode(s, len);
    return -1;
}
