/*
 * applications: the national qualification pipeline over HTTP: a provider creates an
 * application for a service type, edits its answers, submits it (the automatic criteria run
 * here, in qualify/, against the register facts the database supplies), and may withdraw it;
 * assessors work the queue and decide. Every transition is asked of qualify/app.c first; the
 * write then names the prior state (and, for two-step operations, the row version it read) in
 * its WHERE clause, so a concurrent change makes the second step fail with 409, never apply
 * on top of a state it did not see.
 */
#include "api/api.h"
#include "api/body.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "qualify/app.h"
#include "qualify/criteria.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- criteria sets: immutable, so each version is parsed once ---- */

#define CRIT_CACHE 16
static struct crit_set *crit_cache[CRIT_CACHE];

/* The loaded set for `version` from its document text; NULL (logged) if it does not load. */
static const struct crit_set *criteria_for(int version, const char *doc, size_t len)
{
    for (int i = 0; i < CRIT_CACHE; i++)
        if (crit_cache[i] && crit_version(crit_cache[i]) == version)
            return crit_cache[i];
    jv *v = NULL;
    struct jv_error jerr;
    struct jv_limits lim = {.max_bytes = 16u << 20};
    char err[256] = "";
    struct crit_set *set = NULL;
    if (!jv_parse(doc, len, &lim, &v, &jerr))
        snprintf(err, sizeof err, "%s", jerr.msg);
    else
        set = crit_load(v, err, sizeof err);
    jv_free(v);
    if (!set) {
        log_kv(LOG_ERROR, "stored criteria set does not load", "error", err, (char *)NULL);
        return NULL;
    }
    static int next;
    crit_free(crit_cache[next]);
    crit_cache[next] = set;
    next = (next + 1) % CRIT_CACHE;
    return set;
}

static void today(int *y, int *m, int *d)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
    *d = tm.tm_mday;
}

/* The states from which `ev` is legal, as a SQL array literal ("{draft,returned}"). */
static void states_for(enum app_event ev, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "{");
    for (int s = 0; s < APP_NSTATES; s++) {
        enum app_state to;
        if (app_next((enum app_state)s, ev, &to))
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used > 1 ? "," : "",
                                     app_state_name((enum app_state)s));
    }
    snprintf(buf + used, len - used, "}");
}

static const char *scope_of(const struct api_ctx *ctx)
{
    return ctx->who.role == ROLE_PROVIDER ? ctx->who.organisation : NULL;
}

static bool id_ok(struct api_ctx *ctx)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no such application");
        return false;
    }
    return true;
}

/* Replies with column 0, or 404 when there is no row (or it is NULL). */
static void one_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[n - 1]) == 0 || PQgetisnull(res[n - 1], 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such application");
        return;
    }
    api_reply_sql_json(ctx, 200, res[n - 1], 0);
}

/*
 * For single-statement transitions: column 0 is the current status (NULL: not found or not
 * yours), column 1 the changed object (NULL: the state did not allow it).
 */
static void transition_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such application");
        return;
    }
    if (PQgetisnull(r, 0, 1)) {
        api_problem(ctx, 409, "invalid_transition", "not allowed while the application is %s",
                    PQgetvalue(r, 0, 0));
        return;
    }
    api_reply_sql_json(ctx, 200, r, 1);
}

/* ---- create, read, list, edit, withdraw ---- */

static const struct api_field create_fields[] = {
    {"service_type", F_STRING, true, 0, 60, NULL},
    {"answers", F_OBJECT, false, 0, 0, NULL},
};

static void create_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    if (PQntuples(r) == 0) {
        api_problem(ctx, 422, "unknown_service_type", "no such service type; see /v1/service-types");
        return;
    }
    if (PQgetisnull(r, 0, 1)) {
        api_problem(ctx, 409, "already_qualified",
                    "this organisation already holds a qualification for %s (%s)",
                    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2));
        return;
    }
    api_reply_sql_json(ctx, 201, r, 1);
}

void app_create(struct api_ctx *ctx)
{
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", create_fields, N(create_fields))) {
        jv_free(body);
        return;
    }
    const jv *answers = jv_get(body, "answers");
    char *ans = answers ? jv_dump(answers, NULL) : xstrdup("{}");
    char actor[96];
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {ctx->who.organisation, jv_str(jv_get(body, "service_type"), NULL), ans,
                       actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "app_create", N(p), p);
    free(ans);
    jv_free(body);
    api_db(ctx, j, create_done);
}

void app_get(struct api_ctx *ctx)
{
    if (!id_ok(ctx))
        return;
    const char *p[] = {api_param(ctx, 0), scope_of(ctx)};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "app_get", N(p), p);
    api_db(ctx, j, one_done);
}

static void list(struct api_ctx *ctx, const char *stmt, const char *status)
{
    char limit[8];
    const char *cursor;
    if (!api_page(ctx, limit, &cursor))
        return;
    enum app_state s;
    if (status && !app_state_parse(status, &s)) {
        api_problem(ctx, 400, "invalid_parameter", "status is not an application state");
        return;
    }
    const char *p[] = {scope_of(ctx), status, cursor, limit};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, stmt, N(p), p);
    api_db(ctx, j, api_list_done);
}

void app_list(struct api_ctx *ctx)
{
    list(ctx, "app_list", api_query(ctx, "status"));
}

void app_assessments(struct api_ctx *ctx)
{
    list(ctx, "assessment_list", NULL);
}

static const struct api_field patch_fields[] = {
    {"answers", F_OBJECT, true, 0, 0, NULL},
};

void app_patch(struct api_ctx *ctx)
{
    if (!id_ok(ctx))
        return;
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", patch_fields, N(patch_fields))) {
        jv_free(body);
        return;
    }
    char *ans = jv_dump(jv_get(body, "answers"), NULL);
    char from[128], actor[96];
    states_for(APP_EV_EDIT, from, sizeof from);
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {api_param(ctx, 0), ctx->who.organisation, from, ans, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "app_patch", N(p), p);
    free(ans);
    jv_free(body);
    api_db(ctx, j, transition_done);
}

void app_withdraw(struct api_ctx *ctx)
{
    if (!id_ok(ctx))
        return;
    char from[128], actor[96];
    states_for(APP_EV_WITHDRAW, from, sizeof from);
    enum app_state to;
    if (!app_next(APP_DRAFT, APP_EV_WITHDRAW, &to))
        abort(); /* a draft can always be withdrawn (qualify/app.c) */
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {api_param(ctx, 0), ctx->who.organisation, from, app_state_name(to), actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "app_withdraw", N(p), p);
    api_db(ctx, j, transition_done);
}

/* ---- submit: load, evaluate in qualify/, write if nothing changed meanwhile ---- */

/* Columns of app_load. */
enum { L_STATUS, L_VERSION_TOKEN, L_SERVICE_TYPE, L_CRITERIA_VERSION, L_DOCUMENT, L_FACTS,
       L_REGISTERS, L_ORG_KIND, L_RESULTS };

static void write_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0) {
        api_problem(ctx, 409, "conflict", "the application changed while this request ran; retry");
        return;
    }
    api_reply_sql_json(ctx, 200, res[0], 0);
}

/* Loads the criteria set of row 0, or answers 500 and returns NULL. */
static const struct crit_set *row_criteria(struct api_ctx *ctx, const PGresult *r)
{
    const struct crit_set *set =
        criteria_for(atoi(PQgetvalue(r, 0, L_CRITERIA_VERSION)), PQgetvalue(r, 0, L_DOCUMENT),
                     (size_t)PQgetlength(r, 0, L_DOCUMENT));
    if (!set)
        api_problem(ctx, 500, "internal_error", "the application's criteria set does not load");
    return set;
}

static jv *row_json(const PGresult *r, int col)
{
    jv *v = NULL;
    struct jv_limits lim = {.max_bytes = 64u << 20, .max_nodes = 4000000};
    if (!jv_parse(PQgetvalue(r, 0, col), (size_t)PQgetlength(r, 0, col), &lim, &v, NULL))
        return NULL;
    return v;
}

static void submit_loaded(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    if (PQntuples(r) == 0) {
        api_problem(ctx, 404, "not_found", "no such application");
        return;
    }
    enum app_state from, mid, to;
    if (!app_state_parse(PQgetvalue(r, 0, L_STATUS), &from) ||
        !app_next(from, APP_EV_SUBMIT, &mid)) {
        api_problem(ctx, 409, "invalid_transition", "cannot submit while the application is %s",
                    PQgetvalue(r, 0, L_STATUS));
        return;
    }
    const struct crit_set *set = row_criteria(ctx, r);
    if (!set)
        return;
    jv *facts = row_json(r, L_FACTS), *regs = row_json(r, L_REGISTERS);
    struct crit_report rep;
    char err[256] = "";
    int y, m, d;
    today(&y, &m, &d);
    bool ok = facts && regs &&
              crit_evaluate(set, PQgetvalue(r, 0, L_SERVICE_TYPE), PQgetvalue(r, 0, L_ORG_KIND),
                            facts, regs, y, m, d, &rep, err, sizeof err);
    jv_free(facts);
    jv_free(regs);
    if (!ok) {
        log_kv(LOG_ERROR, "criteria evaluation failed", "request_id", ctx->request_id, "error",
               err, (char *)NULL);
        api_problem(ctx, 500, "internal_error", "the automatic checks could not run");
        return;
    }
    if (!app_next(mid, crit_submit_event(&rep), &to))
        abort(); /* submitted always leads somewhere: qualify/app.c's table */
    char *results = crit_report_json(&rep);
    crit_report_free(&rep);
    char actor[96];
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {api_param(ctx, 0), PQgetvalue(r, 0, L_STATUS),
                       PQgetvalue(r, 0, L_VERSION_TOKEN), app_state_name(to), results, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "app_submit", N(p), p);
    free(results);
    api_db(ctx, j, write_done);
}

void app_submit(struct api_ctx *ctx)
{
    if (!id_ok(ctx))
        return;
    const char *p[] = {api_param(ctx, 0), ctx->who.organisation};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "app_load", N(p), p);
    api_db(ctx, j, submit_loaded);
}

/* ---- assessor decision ---- */

static const char *const decisions[] = {"qualify", "reject", "request_info", NULL};
static const struct api_field decision_fields[] = {
    {"decision", F_ENUM, true, 0, 0, decisions},
    {"scores", F_OBJECT, false, 0, 0, NULL},
    {"reason", F_STRING, false, 0, 5000, NULL},
};

struct decision {
    char *decision, *reason, *scores;
};

static void decision_free(void *p)
{
    struct decision *d = p;
    free(d->decision);
    free(d->reason);
    free(d->scores);
    free(d);
}

/* Replaces the pending judgement entries of `results` with the judged ones. Caller frees. */
static char *merge_results(const PGresult *r, const struct crit_report *judged)
{
    jv *old = row_json(r, L_RESULTS);
    jv *out = jv_new_array();
    char *jtext = crit_report_json(judged);
    jv *jarr = NULL;
    if (!jv_parse(jtext, strlen(jtext), NULL, &jarr, NULL))
        abort();
    free(jtext);
    for (size_t i = 0; i < jv_len(old); i++) {
        const jv *item = jv_index(old, i);
        const char *id = jv_str(jv_get(item, "criterion"), NULL);
        const jv *repl = NULL;
        for (size_t k = 0; id && k < jv_len(jarr); k++)
            if (strcmp(jv_str(jv_get(jv_index(jarr, k), "criterion"), NULL), id) == 0)
                repl = jv_index(jarr, k);
        jv_array_push(out, jv_copy(repl ? repl : item));
    }
    char *s = jv_dump(out, NULL);
    jv_free(out);
    jv_free(old);
    jv_free(jarr);
    return s;
}

static void decision_loaded(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    struct decision *dec = ctx->state;
    if (PQntuples(r) == 0) {
        api_problem(ctx, 404, "not_found", "no such application");
        return;
    }
    enum app_event ev = strcmp(dec->decision, "qualify") == 0  ? APP_EV_QUALIFY
                        : strcmp(dec->decision, "reject") == 0 ? APP_EV_REJECT
                                                               : APP_EV_REQUEST_INFO;
    enum app_state from, to;
    if (!app_state_parse(PQgetvalue(r, 0, L_STATUS), &from) || !app_next(from, ev, &to)) {
        api_problem(ctx, 409, "invalid_transition", "cannot %s while the application is %s",
                    dec->decision, PQgetvalue(r, 0, L_STATUS));
        return;
    }
    const struct crit_set *set = row_criteria(ctx, r);
    if (!set)
        return;
    char *results = NULL;
    if (ev == APP_EV_QUALIFY) {
        jv *scores = NULL;
        if (!jv_parse(dec->scores, strlen(dec->scores), NULL, &scores, NULL))
            abort();
        struct crit_report rep;
        char err[256];
        bool ok = crit_judge(set, PQgetvalue(r, 0, L_SERVICE_TYPE), PQgetvalue(r, 0, L_ORG_KIND),
                             scores, &rep, err, sizeof err);
        jv_free(scores);
        if (!ok) {
            api_problem(ctx, 422, "invalid_scores", "%s", err);
            return;
        }
        if (rep.failed) {
            char which[256] = "";
            for (size_t i = 0; i < rep.n; i++)
                if (rep.items[i].outcome == CRIT_FAIL)
                    snprintf(which + strlen(which), sizeof which - strlen(which), "%s%s",
                             *which ? ", " : "", rep.items[i].id);
            crit_report_free(&rep);
            api_problem(ctx, 422, "below_pass_mark",
                        "cannot qualify: %s scored below the pass mark; reject or request "
                        "information instead",
                        which);
            return;
        }
        results = merge_results(r, &rep);
        crit_report_free(&rep);
    }
    char actor[96];
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {api_param(ctx, 0), PQgetvalue(r, 0, L_STATUS),
                       PQgetvalue(r, 0, L_VERSION_TOKEN), app_state_name(to), results,
                       ev == APP_EV_QUALIFY ? dec->scores : NULL, dec->reason, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "app_decide", N(p), p);
    free(results);
    api_db(ctx, j, write_done);
}

void app_decision(struct api_ctx *ctx)
{
    if (!id_ok(ctx))
        return;
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", decision_fields, N(decision_fields))) {
        jv_free(body);
        return;
    }
    const char *decision = jv_str(jv_get(body, "decision"), NULL);
    const jv *reason = jv_get(body, "reason");
    if (strcmp(decision, "qualify") != 0 && !reason) {
        api_problem(ctx, 400, "missing_field", "reason is required to %s", decision);
        jv_free(body); /* after: decision points into it */
        return;
    }
    if (strcmp(decision, "qualify") == 0 && !jv_get(body, "scores")) {
        jv_free(body);
        api_problem(ctx, 400, "missing_field",
                    "scores are required to qualify: one per judgement criterion");
        return;
    }
    struct decision *d = xcalloc(1, sizeof *d);
    d->decision = xstrdup(decision);
    d->reason = reason ? xstrdup(jv_str(reason, NULL)) : NULL;
    d->scores = jv_get(body, "scores") ? jv_dump(jv_get(body, "scores"), NULL) : xstrdup("{}");
    ctx->state = d;
    ctx->state_free = decision_free;
    jv_free(body);
    const char *p[] = {api_param(ctx, 0), NULL};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "app_load", N(p), p);
    api_db(ctx, j, decision_loaded);
}
