/*
 * commissioning: councils and their offers, local applications, agreements, contract reviews,
 * the changes feed and the public provider page (DESIGN.md §1 points 3-5). A commissioner key
 * acts for one council: every statement that reads or changes a council's data takes the
 * key's council as a parameter and names it in its WHERE clause. Local requirement answers
 * are checked by qualify/local.c, like national criteria are by qualify/criteria.c.
 */
#include "api/api.h"
#include "api/body.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "qualify/local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Replies with column 0 of row 0; 404 ("no such <what>") when there is no row or it is NULL. */
static void reply_one(struct api_ctx *ctx, const PGresult *r, int status, const char *what)
{
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such %s", what);
        return;
    }
    api_reply_sql_json(ctx, status, r, 0);
}

static void commissioner_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (api_db_ok(ctx, st, res, n))
        reply_one(ctx, res[0], 200, "commissioner");
}

/* A commissioner key may act only for its own council; the board for any. */
static bool own_council(struct api_ctx *ctx, const char *code)
{
    if (ctx->who.role == ROLE_COMMISSIONER && strcmp(ctx->who.commissioner, code) != 0) {
        api_problem(ctx, 403, "forbidden", "this key acts for %s, not %s", ctx->who.commissioner,
                    code);
        return false;
    }
    return true;
}

/* The council a commissioner key is confined to, or NULL for national roles. */
static const char *council_scope(const struct api_ctx *ctx)
{
    return ctx->who.role == ROLE_COMMISSIONER ? ctx->who.commissioner : NULL;
}

static const char *provider_scope(const struct api_ctx *ctx)
{
    return ctx->who.role == ROLE_PROVIDER ? ctx->who.organisation : NULL;
}

/* ---- councils ---- */

void comm_list(struct api_ctx *ctx)
{
    const char *l = api_query(ctx, "limit");
    uint64_t lim = LIMIT_PAGE_DEFAULT;
    if (l && !util_parse_u64(l, 1, LIMIT_PAGE_MAX + 100, &lim)) {
        api_problem(ctx, 400, "invalid_parameter", "limit must be an integer from 1 to %d",
                    LIMIT_PAGE_MAX + 100);
        return;
    }
    char limit[8];
    snprintf(limit, sizeof limit, "%u", (unsigned)lim);
    const char *p[] = {api_query(ctx, "region"), api_query(ctx, "cursor"), limit};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "comm_list", N(p), p);
    api_db(ctx, j, api_list_done);
}

void comm_get(struct api_ctx *ctx)
{
    const char *p[] = {api_param(ctx, 0)};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "comm_get", N(p), p);
    api_db(ctx, j, commissioner_done);
}

/* ---- offers ---- */

static const char *const units[] = {"week", "night", "hour", "session", "placement", NULL};
static const struct api_field offer_fields[] = {
    {"price_pence", F_INT, true, 1, 100000000, NULL},
    {"price_unit", F_ENUM, true, 0, 0, units},
    {"specification", F_STRING, true, 0, 20000, NULL},
    {"open", F_BOOL, false, 0, 0, NULL},
    {"local_requirements", F_ARRAY, false, 0, 50, NULL},
};

static void offer_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0) {
        api_problem(ctx, 404, "not_found", "no such commissioner or service type");
        return;
    }
    api_reply_sql_json(ctx, strcmp(PQgetvalue(res[0], 0, 0), "t") == 0 ? 201 : 200, res[1], 0);
}

void offer_put(struct api_ctx *ctx)
{
    const char *code = api_param(ctx, 0);
    if (!own_council(ctx, code))
        return;
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", offer_fields, N(offer_fields))) {
        jv_free(body);
        return;
    }
    const jv *lr = jv_get(body, "local_requirements");
    char err[300];
    if (lr && !local_validate(lr, err, sizeof err)) {
        jv_free(body);
        api_problem(ctx, 400, "invalid_field", "%s", err);
        return;
    }
    char price[24], actor[96];
    snprintf(price, sizeof price, "%lld", (long long)jv_int(jv_get(body, "price_pence")));
    api_actor(ctx, actor, sizeof actor);
    char *reqs = lr ? jv_dump(lr, NULL) : xstrdup("[]");
    const jv *open = jv_get(body, "open");
    const char *p[] = {code,
                       api_param(ctx, 1),
                       price,
                       jv_str(jv_get(body, "price_unit"), NULL),
                       jv_str(jv_get(body, "specification"), NULL),
                       !open || jv_bool(open) ? "true" : "false",
                       reqs,
                       actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "offer_put", N(p), p);
    db_job_add(j, "offer_get", 2, p); /* same transaction: sees the change */
    free(reqs);
    jv_free(body);
    api_db(ctx, j, offer_done);
}

/* ---- local applications ---- */

static const struct api_field local_fields[] = {
    {"qualification_id", F_UUID, true, 0, 0, NULL},
    {"commissioner", F_STRING, true, 0, 100, NULL}, /* ONS code, old code or name */
    {"answers", F_OBJECT, false, 0, 0, NULL},
};

struct local_req {
    char *answers, *qualification_id, *commissioner;
};

static void local_req_free(void *p)
{
    struct local_req *l = p;
    free(l->answers);
    free(l->qualification_id);
    free(l->commissioner);
    free(l);
}

/* Columns of local_load. */
enum { LL_QSTATUS, LL_SERVICE, LL_OFFER_OPEN, LL_REQS, LL_AGREEMENT };

static void local_created(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0) {
        api_problem(ctx, 409, "conflict",
                    "the qualification or the offer changed while this request ran; retry");
        return;
    }
    api_reply_sql_json(ctx, 201, res[0], 0);
}

static void local_loaded(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    if (PQntuples(r) == 0) {
        api_problem(ctx, 404, "not_found",
                    "no such qualification of this organisation, or no such council");
        return;
    }
    if (strcmp(PQgetvalue(r, 0, LL_QSTATUS), "active") != 0) {
        api_problem(ctx, 409, "qualification_not_active",
                    "the national qualification is %s; only an active one can be used",
                    PQgetvalue(r, 0, LL_QSTATUS));
        return;
    }
    if (PQgetisnull(r, 0, LL_OFFER_OPEN)) {
        api_problem(ctx, 409, "no_offer", "this council has no offer for %s",
                    PQgetvalue(r, 0, LL_SERVICE));
        return;
    }
    if (strcmp(PQgetvalue(r, 0, LL_OFFER_OPEN), "t") != 0) {
        api_problem(ctx, 409, "offer_closed", "this council's offer for %s is closed",
                    PQgetvalue(r, 0, LL_SERVICE));
        return;
    }
    if (!PQgetisnull(r, 0, LL_AGREEMENT)) {
        api_problem(ctx, 409, "agreement_exists",
                    "an agreement with this council for %s already exists (%s)",
                    PQgetvalue(r, 0, LL_SERVICE), PQgetvalue(r, 0, LL_AGREEMENT));
        return;
    }
    struct local_req *lr = ctx->state;
    jv *qs = NULL, *ans = NULL;
    struct jv_limits lim = {.max_bytes = 16u << 20};
    if (!jv_parse(PQgetvalue(r, 0, LL_REQS), (size_t)PQgetlength(r, 0, LL_REQS), &lim, &qs, NULL) ||
        !jv_parse(lr->answers, strlen(lr->answers), &lim, &ans, NULL)) {
        jv_free(qs);
        api_problem(ctx, 500, "internal_error", "stored local requirements do not parse");
        return;
    }
    struct crit_report rep;
    char err[300];
    enum local_error why;
    bool ok = local_check(qs, ans, &rep, &why, err, sizeof err);
    jv_free(ans);
    if (!ok) {
        jv_free(qs);
        if (why == LOCAL_MISSING)
            api_problem(ctx, 422, "missing_answer", "%s", err);
        else
            api_problem(ctx, 400, "invalid_answers", "%s", err);
        return;
    }
    char *results = crit_report_json(&rep);
    crit_report_free(&rep);
    jv_free(qs); /* after the report: its ids and titles were borrowed from qs */
    char actor[96];
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {lr->qualification_id, ctx->who.organisation, lr->commissioner, lr->answers,
                       results, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "local_create", N(p), p);
    free(results);
    api_db(ctx, j, local_created);
}

void local_create(struct api_ctx *ctx)
{
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", local_fields, N(local_fields))) {
        jv_free(body);
        return;
    }
    struct local_req *lr = xcalloc(1, sizeof *lr);
    const jv *ans = jv_get(body, "answers");
    lr->answers = ans ? jv_dump(ans, NULL) : xstrdup("{}");
    lr->qualification_id = xstrdup(jv_str(jv_get(body, "qualification_id"), NULL));
    lr->commissioner = xstrdup(jv_str(jv_get(body, "commissioner"), NULL));
    ctx->state = lr;
    ctx->state_free = local_req_free;
    jv_free(body);
    const char *p[] = {lr->qualification_id, ctx->who.organisation, lr->commissioner};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "local_load", N(p), p);
    api_db(ctx, j, local_loaded);
}

void local_list(struct api_ctx *ctx)
{
    char limit[8];
    const char *cursor;
    if (!api_page(ctx, limit, &cursor))
        return;
    const char *status = api_query(ctx, "status");
    if (status && strcmp(status, "submitted") != 0 && strcmp(status, "accepted") != 0 &&
        strcmp(status, "declined") != 0) {
        api_problem(ctx, 400, "invalid_parameter",
                    "status must be one of submitted, accepted, declined");
        return;
    }
    const char *p[] = {provider_scope(ctx), council_scope(ctx), status, cursor, limit};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "local_list", N(p), p);
    api_db(ctx, j, api_list_done);
}

static const char *const local_decisions[] = {"accept", "decline", NULL};
static const struct api_field local_decision_fields[] = {
    {"decision", F_ENUM, true, 0, 0, local_decisions},
    {"reason", F_STRING, false, 0, 5000, NULL},
};

/* Columns: current status (no row: not found / not this council's), automatic failures,
 * qualification status, the result (NULL: refused). */
static void local_decided(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such local application for this council");
        return;
    }
    if (!PQgetisnull(r, 0, 3)) {
        api_reply_sql_json(ctx, 200, r, 3);
        return;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "submitted") != 0)
        api_problem(ctx, 409, "invalid_transition", "the local application is already %s",
                    PQgetvalue(r, 0, 0));
    else if (strcmp(PQgetvalue(r, 0, 2), "active") != 0)
        api_problem(ctx, 409, "qualification_not_active",
                    "the national qualification is %s; the application cannot be accepted now",
                    PQgetvalue(r, 0, 2));
    else if (strcmp(PQgetvalue(r, 0, 1), "0") != 0)
        api_problem(ctx, 422, "local_requirements_not_met",
                    "%s local requirement(s) failed their automatic check; decline instead",
                    PQgetvalue(r, 0, 1));
    else
        api_problem(ctx, 409, "conflict", "an agreement for this service already exists");
}

void local_decision(struct api_ctx *ctx)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no such local application");
        return;
    }
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", local_decision_fields, N(local_decision_fields))) {
        jv_free(body);
        return;
    }
    bool accept = strcmp(jv_str(jv_get(body, "decision"), NULL), "accept") == 0;
    const jv *reason = jv_get(body, "reason");
    if (!accept && !reason) {
        jv_free(body);
        api_problem(ctx, 400, "missing_field", "reason is required to decline");
        return;
    }
    if (accept && reason) {
        jv_free(body);
        api_problem(ctx, 400, "invalid_field", "reason is only recorded when declining");
        return;
    }
    char actor[96];
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {api_param(ctx, 0), council_scope(ctx), reason ? jv_str(reason, NULL) : NULL,
                       actor};
    const char *pa[] = {api_param(ctx, 0), council_scope(ctx), actor};
    struct db_job *j = api_job_new(ctx);
    if (accept)
        db_job_add(j, "local_accept", N(pa), pa);
    else
        db_job_add(j, "local_decline", N(p), p);
    jv_free(body);
    api_db(ctx, j, local_decided);
}

/* ---- agreements ---- */

void agreement_list(struct api_ctx *ctx)
{
    char limit[8];
    const char *cursor;
    if (!api_page(ctx, limit, &cursor))
        return;
    const char *status = api_query(ctx, "status");
    if (status && strcmp(status, "active") != 0 && strcmp(status, "suspended") != 0 &&
        strcmp(status, "terminated") != 0) {
        api_problem(ctx, 400, "invalid_parameter",
                    "status must be one of active, suspended, terminated");
        return;
    }
    const char *p[] = {provider_scope(ctx), council_scope(ctx), status, cursor, limit};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "agreement_list", N(p), p);
    api_db(ctx, j, api_list_done);
}

static const char *const review_outcomes[] = {"good", "requires_improvement", "inadequate", NULL};
static const struct api_field review_fields[] = {
    {"outcome", F_ENUM, true, 0, 0, review_outcomes},
    {"notes", F_TEXT, false, 0, 20000, NULL},
    {"indicators", F_ARRAY, false, 0, 50, NULL},
};
static const struct api_field indicator_fields[] = {
    {"name", F_STRING, true, 0, 200, NULL},
    {"value", F_NUMBER, true, 0, 0, NULL},
    {"unit", F_STRING, false, 0, 40, NULL},
    {"period_start", F_DATE, true, 0, 0, NULL},
    {"period_end", F_DATE, true, 0, 0, NULL},
};

/* Columns: found (no row: not this council's agreement), the result (NULL: terminated). */
static void agreement_answer(struct api_ctx *ctx, int status, enum db_status st,
                             PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such agreement for this council");
        return;
    }
    if (PQgetisnull(r, 0, 1)) {
        api_problem(ctx, 409, "invalid_transition", "the agreement is %s", PQgetvalue(r, 0, 0));
        return;
    }
    api_reply_sql_json(ctx, status, r, 1);
}

static void review_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    agreement_answer(ctx, 201, st, res, n);
}

static void terminate_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    agreement_answer(ctx, 200, st, res, n);
}

void agreement_review(struct api_ctx *ctx)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no such agreement");
        return;
    }
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", review_fields, N(review_fields))) {
        jv_free(body);
        return;
    }
    const jv *inds = jv_get(body, "indicators");
    for (size_t i = 0; i < jv_len(inds); i++) {
        const jv *ind = jv_index(inds, i);
        char where[40];
        snprintf(where, sizeof where, "indicators[%zu].", i);
        if (!jv_is_object(ind)) {
            jv_free(body);
            api_problem(ctx, 400, "invalid_field", "indicators[%zu] must be an object", i);
            return;
        }
        bool ok = api_check_fields(ctx, ind, where, indicator_fields, N(indicator_fields));
        if (ok) {
            const char *a = jv_str(jv_get(ind, "period_start"), NULL);
            const char *b = jv_str(jv_get(ind, "period_end"), NULL);
            if (strcmp(a, b) > 0) {
                api_problem(ctx, 400, "invalid_field", "%speriod_end is before period_start", where);
                ok = false;
            }
        }
        if (!ok) {
            jv_free(body);
            return;
        }
    }
    char actor[96];
    api_actor(ctx, actor, sizeof actor);
    char *indicators = inds ? jv_dump(inds, NULL) : xstrdup("[]");
    const jv *notes = jv_get(body, "notes");
    const char *p[] = {api_param(ctx, 0), council_scope(ctx), jv_str(jv_get(body, "outcome"), NULL),
                       notes ? jv_str(notes, NULL) : "", indicators, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "agreement_review", N(p), p);
    free(indicators);
    jv_free(body);
    api_db(ctx, j, review_done);
}

static const struct api_field terminate_fields[] = {
    {"reason", F_STRING, true, 0, 5000, NULL},
    {"end_date", F_DATE, true, 0, 0, NULL},
};

void agreement_terminate(struct api_ctx *ctx)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no such agreement");
        return;
    }
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", terminate_fields, N(terminate_fields))) {
        jv_free(body);
        return;
    }
    char actor[96];
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {api_param(ctx, 0), council_scope(ctx), jv_str(jv_get(body, "reason"), NULL),
                       jv_str(jv_get(body, "end_date"), NULL), actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "agreement_terminate", N(p), p);
    jv_free(body);
    api_db(ctx, j, terminate_done);
}

/* ---- changes feed and the public provider page ---- */

void changes_list(struct api_ctx *ctx)
{
    const char *since = api_query(ctx, "since");
    uint64_t v;
    if (since && !util_parse_u64(since, 0, (uint64_t)1 << 62, &v)) {
        api_problem(ctx, 400, "invalid_parameter", "since must be a cursor this feed gave out");
        return;
    }
    const char *l = api_query(ctx, "limit");
    uint64_t lim = LIMIT_PAGE_DEFAULT;
    if (l && !util_parse_u64(l, 1, LIMIT_PAGE_MAX, &lim)) {
        api_problem(ctx, 400, "invalid_parameter", "limit must be an integer from 1 to %d",
                    LIMIT_PAGE_MAX);
        return;
    }
    char limit[8];
    snprintf(limit, sizeof limit, "%u", (unsigned)lim);
    const char *p[] = {council_scope(ctx), since, limit};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "changes_list", N(p), p);
    api_db(ctx, j, api_list_done);
}

static void provider_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (api_db_ok(ctx, st, res, n))
        reply_one(ctx, res[0], 200, "provider");
}

void provider_get(struct api_ctx *ctx)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no such provider");
        return;
    }
    const char *p[] = {api_param(ctx, 0)};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "provider_get", N(p), p);
    api_db(ctx, j, provider_done);
}
