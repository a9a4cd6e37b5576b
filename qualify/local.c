/*
 * local: validation of local requirement questions and checking of answers. See local.h.
 */
#include "qualify/local.h"
#include "qualify/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_MAX_QUESTIONS 50
#define LOCAL_MAX_CHOICES 50

static const char *const types[] = {"boolean", "text", "number", "date", "choice", NULL};

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

static bool valid_id(const char *s, size_t len)
{
    if (len < 1 || len > 40)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool is_date(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || y < 1900)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= md[m - 1] + (m == 2 && leap);
}

static bool has_choice(const jv *choices, const char *s)
{
    for (size_t i = 0; i < jv_len(choices); i++)
        if (strcmp(jv_str(jv_index(choices, i), NULL), s) == 0)
            return true;
    return false;
}

bool local_validate(const jv *qs, char *err, size_t errlen)
{
    static const char *const members[] = {"id", "text", "type", "required", "choices", "pass", NULL};
    if (!jv_is_array(qs))
        return fail(err, errlen, "local_requirements must be an array of questions");
    if (jv_len(qs) > LOCAL_MAX_QUESTIONS)
        return fail(err, errlen, "local_requirements may have at most %d questions",
                    LOCAL_MAX_QUESTIONS);
    for (size_t i = 0; i < jv_len(qs); i++) {
        const jv *q = jv_index(qs, i);
        if (!jv_is_object(q))
            return fail(err, errlen, "local_requirements[%zu] must be an object", i);
        for (size_t k = 0; k < jv_len(q); k++) {
            const char *key;
            jv_member(q, k, &key, NULL);
            bool known = false;
            for (const char *const *m = members; *m && !known; m++)
                known = strcmp(*m, key) == 0;
            if (!known)
                return fail(err, errlen, "local_requirements[%zu]: unknown member \"%s\"", i, key);
        }
        size_t idl = 0;
        const char *id = jv_str(jv_get(q, "id"), &idl);
        if (!id || !valid_id(id, idl))
            return fail(err, errlen, "local_requirements[%zu].id must be 1-40 letters, digits, _ or -", i);
        for (size_t k = 0; k < i; k++)
            if (strcmp(jv_str(jv_get(jv_index(qs, k), "id"), NULL), id) == 0)
                return fail(err, errlen, "local_requirements: question %s appears twice", id);
        size_t tl = 0;
        if (!jv_str(jv_get(q, "text"), &tl) || tl < 1 || tl > 2000)
            return fail(err, errlen, "question %s: text must be a string of 1 to 2000 bytes", id);
        const char *type = jv_str(jv_get(q, "type"), NULL);
        bool tok = false;
        for (const char *const *t = types; type && *t && !tok; t++)
            tok = strcmp(*t, type) == 0;
        if (!tok)
            return fail(err, errlen,
                        "question %s: type must be boolean, text, number, date or choice", id);
        const jv *req = jv_get(q, "required");
        if (req && !jv_is_bool(req))
            return fail(err, errlen, "question %s: required must be true or false", id);
        const jv *choices = jv_get(q, "choices");
        bool is_choice = strcmp(type, "choice") == 0;
        if (is_choice != (choices != NULL))
            return fail(err, errlen, "question %s: choices are %s", id,
                        is_choice ? "required for a choice question" : "only for choice questions");
        if (choices) {
            if (!jv_is_array(choices) || jv_len(choices) < 1 || jv_len(choices) > LOCAL_MAX_CHOICES)
                return fail(err, errlen, "question %s: choices must be 1 to %d strings", id,
                            LOCAL_MAX_CHOICES);
            for (size_t c = 0; c < jv_len(choices); c++) {
                size_t cl = 0;
                const char *cs = jv_str(jv_index(choices, c), &cl);
                if (!cs || cl < 1 || cl > 200)
                    return fail(err, errlen, "question %s: each choice must be a string of 1 to 200 bytes", id);
                for (size_t d = 0; d < c; d++)
                    if (strcmp(jv_str(jv_index(choices, d), NULL), cs) == 0)
                        return fail(err, errlen, "question %s: choice \"%s\" appears twice", id, cs);
            }
        }
        const jv *pass = jv_get(q, "pass");
        if (pass) {
            bool ok = (strcmp(type, "boolean") == 0 && jv_is_bool(pass)) ||
                      (is_choice && jv_is_string(pass) && has_choice(choices, jv_str(pass, NULL)));
            if (!ok)
                return fail(err, errlen,
                            "question %s: pass is only for boolean (true/false) and choice (one "
                            "of the choices) questions",
                            id);
        }
    }
    return true;
}

static const char *type_word(const char *type)
{
    if (strcmp(type, "boolean") == 0)
        return "true or false";
    if (strcmp(type, "text") == 0)
        return "a string of 1 to 5000 bytes";
    if (strcmp(type, "number") == 0)
        return "a number";
    if (strcmp(type, "date") == 0)
        return "a date (YYYY-MM-DD)";
    return "one of the choices";
}

static bool answer_ok(const jv *q, const jv *a)
{
    const char *type = jv_str(jv_get(q, "type"), NULL);
    size_t len = 0;
    const char *s = jv_str(a, &len);
    if (strcmp(type, "boolean") == 0)
        return jv_is_bool(a);
    if (strcmp(type, "text") == 0)
        return s && len >= 1 && len <= 5000;
    if (strcmp(type, "number") == 0)
        return jv_is_number(a);
    if (strcmp(type, "date") == 0)
        return s && is_date(s, len);
    return s && has_choice(jv_get(q, "choices"), s);
}

bool local_check(const jv *qs, const jv *answers, struct crit_report *out, enum local_error *why,
                 char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    enum local_error dummy;
    if (!why)
        why = &dummy;
    *why = LOCAL_INVALID;
    if (!jv_is_object(answers))
        return fail(err, errlen, "answers must be an object of question id to answer");
    for (size_t i = 0; i < jv_len(answers); i++) {
        const char *key;
        jv_member(answers, i, &key, NULL);
        bool known = false;
        for (size_t k = 0; k < jv_len(qs) && !known; k++)
            known = strcmp(jv_str(jv_get(jv_index(qs, k), "id"), NULL), key) == 0;
        if (!known)
            return fail(err, errlen, "answers.%s: this council asks no such question", key);
    }
    for (size_t k = 0; k < jv_len(qs); k++) {
        const jv *q = jv_index(qs, k);
        const char *id = jv_str(jv_get(q, "id"), NULL);
        const jv *a = jv_get(answers, id);
        if (!a || jv_is_null(a)) {
            if (jv_bool(jv_get(q, "required"))) {
                crit_report_free(out);
                *why = LOCAL_MISSING;
                return fail(err, errlen, "answers.%s is required", id);
            }
        } else if (!answer_ok(q, a)) {
            crit_report_free(out);
            return fail(err, errlen, "answers.%s must be %s", id,
                        type_word(jv_str(jv_get(q, "type"), NULL)));
        }
        out->items = xrealloc(out->items, (out->n + 1) * sizeof *out->items);
        struct crit_result *r = &out->items[out->n++];
        memset(r, 0, sizeof *r);
        r->id = id;
        r->title = jv_str(jv_get(q, "text"), NULL);
        r->score = -1;
        const jv *pass = jv_get(q, "pass");
        if (!a || jv_is_null(a)) {
            r->judgement = pass == NULL;
            r->outcome = CRIT_PASS; /* optional and unanswered: nothing to check */
        } else if (!pass) {
            r->judgement = true;
            r->outcome = CRIT_PENDING;
            out->pending++;
        } else if (jv_equal(a, pass)) {
            r->outcome = CRIT_PASS;
        } else {
            r->outcome = CRIT_FAIL;
            out->failed++;
            char buf[300];
            if (jv_is_bool(pass))
                snprintf(buf, sizeof buf, "this council requires the answer %s",
                         jv_bool(pass) ? "yes (true)" : "no (false)");
            else
                snprintf(buf, sizeof buf, "this council requires the answer \"%s\"",
                         jv_str(pass, NULL));
            r->reason = xstrdup(buf);
        }
    }
    *why = LOCAL_OK;
    return true;
}
