/*
 * criteria: loading, validating and evaluating criteria sets. See criteria.h.
 */
#include "qualify/criteria.h"
#include "qualify/rule.h"
#include "qualify/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check {
    const jv *rule;     /* borrowed from the set's document copy */
    const char *reason; /* borrowed */
};

struct criterion {
    const char *id, *title;
    const jv *service_types;      /* array of strings */
    const jv *organisation_kinds; /* array of strings, or NULL = both */
    struct check *checks;
    size_t nchecks;
    bool judgement;
    long long max_score, pass_mark;
};

struct crit_set {
    jv *doc; /* owned copy; everything borrowed points into it */
    int version;
    struct criterion *items;
    size_t n;
};

static const char *const categories[] = {"legal", "financial", "registration", "workforce",
                                         "contract", "quality", "service", NULL};

static bool fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool only_members(const jv *obj, const char *const *allowed, const char *where, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < jv_len(obj); i++) {
        const char *k;
        jv_member(obj, i, &k, NULL);
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok)
            return fail(err, errlen, "%s: unknown member \"%s\"", where, k);
    }
    return true;
}

static bool nonempty_string(const jv *v)
{
    size_t l = 0;
    return jv_str(v, &l) && l > 0;
}

static bool string_array(const jv *v, bool nonempty)
{
    if (!jv_is_array(v) || (nonempty && jv_len(v) == 0))
        return false;
    for (size_t i = 0; i < jv_len(v); i++)
        if (!nonempty_string(jv_index(v, i)))
            return false;
    return true;
}

static bool valid_id(const char *s)
{
    size_t i = 0, letters = 0, digits = 0;
    while (s[i] >= 'A' && s[i] <= 'Z')
        i++, letters++;
    if (letters < 2 || letters > 5 || s[i++] != '-')
        return false;
    while (s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    return digits >= 1 && digits <= 3 && s[i] == '\0';
}

static bool load_criterion(const jv *c, struct criterion *out, char *err, size_t errlen)
{
    static const char *const members[] = {"id", "title", "description", "category",
                                          "service_types", "organisation_kinds", "questions",
                                          "checks", "judgement", NULL};
    if (!jv_is_object(c))
        return fail(err, errlen, "each criterion must be an object");
    const char *id = jv_str(jv_get(c, "id"), NULL);
    if (!id || !valid_id(id))
        return fail(err, errlen, "criterion id must look like \"LEG-1\"");
    char where[64];
    snprintf(where, sizeof where, "criterion %s", id);
    if (!only_members(c, members, where, err, errlen))
        return false;
    out->id = id;
    out->title = jv_str(jv_get(c, "title"), NULL);
    if (!nonempty_string(jv_get(c, "title")))
        return fail(err, errlen, "%s: title must be a non-empty string", where);
    const jv *desc = jv_get(c, "description");
    if (desc && !jv_is_string(desc))
        return fail(err, errlen, "%s: description must be a string", where);
    const char *cat = jv_str(jv_get(c, "category"), NULL);
    bool catok = false;
    for (const char *const *k = categories; cat && *k && !catok; k++)
        catok = strcmp(*k, cat) == 0;
    if (!catok)
        return fail(err, errlen,
                    "%s: category must be one of legal, financial, registration, workforce, "
                    "contract, quality, service",
                    where);
    out->service_types = jv_get(c, "service_types");
    if (!string_array(out->service_types, true))
        return fail(err, errlen, "%s: service_types must be a non-empty array of strings", where);
    out->organisation_kinds = jv_get(c, "organisation_kinds");
    if (out->organisation_kinds) {
        if (!string_array(out->organisation_kinds, true))
            return fail(err, errlen, "%s: organisation_kinds must be a non-empty array", where);
        for (size_t i = 0; i < jv_len(out->organisation_kinds); i++) {
            const char *k = jv_str(jv_index(out->organisation_kinds, i), NULL);
            if (strcmp(k, "provider") != 0 && strcmp(k, "consortium") != 0)
                return fail(err, errlen, "%s: organisation_kinds may hold provider, consortium",
                            where);
        }
    }
    const jv *q = jv_get(c, "questions");
    if (q && !string_array(q, false))
        return fail(err, errlen, "%s: questions must be an array of strings", where);

    const jv *checks = jv_get(c, "checks");
    const jv *judg = jv_get(c, "judgement");
    if ((checks != NULL) == (judg != NULL))
        return fail(err, errlen, "%s: needs exactly one of checks (automatic) or judgement", where);
    if (checks) {
        if (!jv_is_array(checks) || jv_len(checks) == 0)
            return fail(err, errlen, "%s: checks must be a non-empty array", where);
        out->nchecks = jv_len(checks);
        out->checks = xcalloc(out->nchecks, sizeof *out->checks);
        for (size_t i = 0; i < out->nchecks; i++) {
            static const char *const cm[] = {"rule", "reason", NULL};
            const jv *ch = jv_index(checks, i);
            char cw[96];
            snprintf(cw, sizeof cw, "%s check %zu", id, i + 1);
            if (!jv_is_object(ch))
                return fail(err, errlen, "%s: must be an object", cw);
            if (!only_members(ch, cm, cw, err, errlen))
                return false;
            const jv *rule = jv_get(ch, "rule");
            if (!rule)
                return fail(err, errlen, "%s: rule is required", cw);
            char rerr[RULE_ERRLEN];
            if (!rule_validate(rule, rerr, sizeof rerr))
                return fail(err, errlen, "%s: invalid rule: %s", cw, rerr);
            if (!nonempty_string(jv_get(ch, "reason")))
                return fail(err, errlen, "%s: reason must be a non-empty string", cw);
            out->checks[i].rule = rule;
            out->checks[i].reason = jv_str(jv_get(ch, "reason"), NULL);
        }
    } else {
        static const char *const jm[] = {"max_score", "pass_mark", "guidance", NULL};
        if (!jv_is_object(judg))
            return fail(err, errlen, "%s: judgement must be an object", where);
        if (!only_members(judg, jm, where, err, errlen))
            return false;
        const jv *mx = jv_get(judg, "max_score"), *pm = jv_get(judg, "pass_mark");
        if (!jv_is_int(mx) || jv_int(mx) < 1 || jv_int(mx) > 100 || !jv_is_int(pm) ||
            jv_int(pm) < 0 || jv_int(pm) > jv_int(mx))
            return fail(err, errlen,
                        "%s: judgement needs integer max_score (1-100) and pass_mark (0-max_score)",
                        where);
        if (!nonempty_string(jv_get(judg, "guidance")))
            return fail(err, errlen, "%s: judgement guidance must be a non-empty string", where);
        out->judgement = true;
        out->max_score = jv_int(mx);
        out->pass_mark = jv_int(pm);
    }
    return true;
}

struct crit_set *crit_load(const jv *doc, char *err, size_t errlen)
{
    static const char *const members[] = {"version", "title", "published",
                                          "contract_terms_version", "criteria", NULL};
    if (!jv_is_object(doc)) {
        fail(err, errlen, "a criteria set must be a JSON object");
        return NULL;
    }
    if (!only_members(doc, members, "criteria set", err, errlen))
        return NULL;
    const jv *ver = jv_get(doc, "version");
    if (!jv_is_int(ver) || jv_int(ver) < 1 || jv_int(ver) > 1000000) {
        fail(err, errlen, "version must be a positive integer");
        return NULL;
    }
    if (!nonempty_string(jv_get(doc, "title"))) {
        fail(err, errlen, "title must be a non-empty string");
        return NULL;
    }
    const jv *ctv = jv_get(doc, "contract_terms_version"), *pub = jv_get(doc, "published");
    if ((ctv && !nonempty_string(ctv)) || (pub && !nonempty_string(pub))) {
        fail(err, errlen, "contract_terms_version and published must be non-empty strings");
        return NULL;
    }
    const jv *list = jv_get(doc, "criteria");
    if (!jv_is_array(list) || jv_len(list) == 0) {
        fail(err, errlen, "criteria must be a non-empty array");
        return NULL;
    }
    struct crit_set *set = xcalloc(1, sizeof *set);
    set->doc = jv_copy(doc);
    set->version = (int)jv_int(ver);
    list = jv_get(set->doc, "criteria");
    set->n = jv_len(list);
    set->items = xcalloc(set->n, sizeof *set->items);
    for (size_t i = 0; i < set->n; i++) {
        if (!load_criterion(jv_index(list, i), &set->items[i], err, errlen)) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s", err ? err : "");
            fail(err, errlen, "criteria[%zu]: %s", i, sub);
            goto bad;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(set->items[k].id, set->items[i].id) == 0) {
                fail(err, errlen, "criterion %s appears twice", set->items[i].id);
                goto bad;
            }
    }
    return set;
bad:
    crit_free(set);
    return NULL;
}

void crit_free(struct crit_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        free(set->items[i].checks);
    free(set->items);
    jv_free(set->doc);
    free(set);
}

int crit_version(const struct crit_set *set)
{
    return set->version;
}

size_t crit_count(const struct crit_set *set)
{
    return set->n;
}

const char *crit_outcome_name(enum crit_outcome o)
{
    switch (o) {
    case CRIT_PASS: return "pass";
    case CRIT_FAIL: return "fail";
    case CRIT_PENDING: return "pending";
    }
    return "unknown";
}

static bool list_has(const jv *arr, const char *s)
{
    for (size_t i = 0; i < jv_len(arr); i++) {
        const char *x = jv_str(jv_index(arr, i), NULL);
        if (x && strcmp(x, s) == 0)
            return true;
    }
    return false;
}

static bool applies(const struct criterion *c, const char *service_type, const char *org_kind)
{
    if (!list_has(c->service_types, "*") && !list_has(c->service_types, service_type))
        return false;
    return !c->organisation_kinds || list_has(c->organisation_kinds, org_kind);
}

static struct crit_result *report_push(struct crit_report *r, const struct criterion *c)
{
    r->items = xrealloc(r->items, (r->n + 1) * sizeof *r->items);
    struct crit_result *x = &r->items[r->n++];
    memset(x, 0, sizeof *x);
    x->id = c->id;
    x->title = c->title;
    x->judgement = c->judgement;
    x->score = -1;
    return x;
}

bool crit_evaluate(const struct crit_set *set, const char *service_type, const char *org_kind,
                   const jv *facts, const jv *registers, int y, int m, int d,
                   struct crit_report *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct rule_ctx ctx = {.data = facts, .registers = registers, .year = y, .month = m, .day = d};
    for (size_t i = 0; i < set->n; i++) {
        const struct criterion *c = &set->items[i];
        if (!applies(c, service_type, org_kind))
            continue;
        struct crit_result *x = report_push(out, c);
        if (c->judgement) {
            x->outcome = CRIT_PENDING;
            out->pending++;
            continue;
        }
        x->outcome = CRIT_PASS;
        for (size_t k = 0; k < c->nchecks; k++) {
            char rerr[RULE_ERRLEN];
            enum rule_outcome o = rule_check(c->checks[k].rule, &ctx, rerr, sizeof rerr);
            if (o == RULE_ERROR) {
                fail(err, errlen, "criterion %s check %zu: %s", c->id, k + 1, rerr);
                crit_report_free(out);
                return false;
            }
            if (o == RULE_FAIL) {
                x->outcome = CRIT_FAIL;
                x->reason = xstrdup(c->checks[k].reason);
                out->failed++;
                break;
            }
        }
    }
    return true;
}

bool crit_judge(const struct crit_set *set, const char *service_type, const char *org_kind,
                const jv *scores, struct crit_report *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!jv_is_object(scores))
        return fail(err, errlen, "scores must be an object of criterion id to integer score");
    for (size_t i = 0; i < jv_len(scores); i++) {
        const char *k;
        jv_member(scores, i, &k, NULL);
        bool known = false;
        for (size_t c = 0; c < set->n && !known; c++)
            known = set->items[c].judgement && strcmp(set->items[c].id, k) == 0 &&
                    applies(&set->items[c], service_type, org_kind);
        if (!known)
            return fail(err, errlen, "scores.%s: not a judgement criterion of this application", k);
    }
    for (size_t i = 0; i < set->n; i++) {
        const struct criterion *c = &set->items[i];
        if (!c->judgement || !applies(c, service_type, org_kind))
            continue;
        const jv *s = jv_get(scores, c->id);
        if (!jv_is_int(s) || jv_int(s) < 0 || jv_int(s) > c->max_score) {
            crit_report_free(out);
            return fail(err, errlen, "scores.%s: needs an integer from 0 to %lld", c->id,
                        c->max_score);
        }
        struct crit_result *x = report_push(out, c);
        x->score = jv_int(s);
        if (x->score >= c->pass_mark) {
            x->outcome = CRIT_PASS;
        } else {
            x->outcome = CRIT_FAIL;
            char buf[160];
            snprintf(buf, sizeof buf, "scored %lld of %lld; the pass mark is %lld", x->score,
                     c->max_score, c->pass_mark);
            x->reason = xstrdup(buf);
            out->failed++;
        }
    }
    return true;
}

void crit_report_free(struct crit_report *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i].reason);
    free(r->items);
    memset(r, 0, sizeof *r);
}

enum app_event crit_submit_event(const struct crit_report *r)
{
    if (r->failed)
        return APP_EV_CHECK_FAILED;
    if (r->pending)
        return APP_EV_CHECK_PENDING;
    return APP_EV_CHECK_PASSED;
}

char *crit_report_json(const struct crit_report *r)
{
    jv *arr = jv_new_array();
    for (size_t i = 0; i < r->n; i++) {
        const struct crit_result *x = &r->items[i];
        jv *o = jv_new_object();
        const char *outcome = crit_outcome_name(x->outcome);
        bool ok = jv_object_add(o, "criterion", 9, jv_new_string(x->id, strlen(x->id))) &&
                  jv_object_add(o, "title", 5, jv_new_string(x->title, strlen(x->title))) &&
                  jv_object_add(o, "kind", 4,
                                x->judgement ? jv_new_string("judgement", 9)
                                             : jv_new_string("automatic", 9)) &&
                  jv_object_add(o, "outcome", 7, jv_new_string(outcome, strlen(outcome)));
        if (ok && x->reason)
            ok = jv_object_add(o, "reason", 6, jv_new_string(x->reason, strlen(x->reason)));
        if (ok && x->score >= 0)
            ok = jv_object_add(o, "score", 5, jv_new_int(x->score));
        if (!ok)
            abort(); /* fixed keys and validated UTF-8 from the set: cannot fail */
        jv_array_push(arr, o);
    }
    char *s = jv_dump(arr, NULL);
    jv_free(arr);
    return s;
}
