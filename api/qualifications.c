/*
 * qualifications: the national directory entries: listing, the board's suspend / reinstate /
 * revoke, annual reviews, and the lapse sweep the daemon runs on a timer. Each change is asked
 * of qualify/app.c (qual_next) first and then made by one statement that names the allowed
 * prior states and writes its audit event.
 */
#include "api/api.h"
#include "api/body.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "qualify/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The states from which `ev` is legal and the state it leads to (one for all of them). */
static void qual_states_for(enum qual_event ev, char *from, size_t len, const char **to)
{
    size_t used = (size_t)snprintf(from, len, "{");
    *to = NULL;
    for (int s = 0; s < QUAL_NSTATES; s++) {
        enum qual_state t;
        if (!qual_next((enum qual_state)s, ev, &t))
            continue;
        used += (size_t)snprintf(from + used, len - used, "%s%s", used > 1 ? "," : "",
                                 qual_state_name((enum qual_state)s));
        if (*to && strcmp(*to, qual_state_name(t)) != 0)
            abort(); /* every event of qual_table has one target state */
        *to = qual_state_name(t);
    }
    snprintf(from + used, len - used, "}");
}

void qual_list(struct api_ctx *ctx)
{
    char limit[8];
    const char *cursor;
    if (!api_page(ctx, limit, &cursor))
        return;
    const char *status = api_query(ctx, "status");
    enum qual_state s;
    if (status && !qual_state_parse(status, &s)) {
        api_problem(ctx, 400, "invalid_parameter",
                    "status must be one of active, suspended, lapsed, revoked");
        return;
    }
    const char *p[] = {ctx->who.role == ROLE_PROVIDER ? ctx->who.organisation : NULL, status,
                       api_query(ctx, "service_type"), cursor, limit};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "qual_list", N(p), p);
    api_db(ctx, j, api_list_done);
}

static void change_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such qualification");
        return;
    }
    if (PQgetisnull(r, 0, 1)) {
        api_problem(ctx, 409, "invalid_transition", "not allowed while the qualification is %s",
                    PQgetvalue(r, 0, 0));
        return;
    }
    api_reply_sql_json(ctx, 200, r, 1);
}

static const struct api_field reason_fields[] = {
    {"reason", F_STRING, true, 0, 2000, NULL},
};

static void change(struct api_ctx *ctx, enum qual_event ev)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no such qualification");
        return;
    }
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", reason_fields, N(reason_fields))) {
        jv_free(body);
        return;
    }
    char from[96], actor[96], action[48];
    const char *to;
    qual_states_for(ev, from, sizeof from, &to);
    api_actor(ctx, actor, sizeof actor);
    snprintf(action, sizeof action, "qualification.%s", qual_event_name(ev));
    const char *p[] = {api_param(ctx, 0), from, to, jv_str(jv_get(body, "reason"), NULL), actor,
                       action};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "qual_change", N(p), p);
    jv_free(body);
    api_db(ctx, j, change_done);
}

void qual_suspend(struct api_ctx *ctx) { change(ctx, QUAL_EV_SUSPEND); }
void qual_reinstate(struct api_ctx *ctx) { change(ctx, QUAL_EV_REINSTATE); }
void qual_revoke(struct api_ctx *ctx) { change(ctx, QUAL_EV_REVOKE); }

static const char *const outcomes[] = {"passed", "failed", NULL};
static const struct api_field review_fields[] = {
    {"outcome", F_ENUM, true, 0, 0, outcomes},
    {"reason", F_STRING, true, 0, 2000, NULL},
    {"evidence_expires", F_DATE, false, 0, 0, NULL},
};

void qual_review(struct api_ctx *ctx)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no such qualification");
        return;
    }
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", review_fields, N(review_fields))) {
        jv_free(body);
        return;
    }
    bool passed = strcmp(jv_str(jv_get(body, "outcome"), NULL), "passed") == 0;
    enum qual_event ev = passed ? QUAL_EV_REVIEW_PASSED : QUAL_EV_REVIEW_FAILED;
    char from[96], actor[96];
    const char *to;
    qual_states_for(ev, from, sizeof from, &to);
    api_actor(ctx, actor, sizeof actor);
    const jv *exp = jv_get(body, "evidence_expires");
    const char *p[] = {api_param(ctx, 0), from, to, jv_str(jv_get(body, "reason"), NULL), actor,
                       passed ? "passed" : "failed", exp ? jv_str(exp, NULL) : NULL};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "qual_review", N(p), p);
    jv_free(body);
    api_db(ctx, j, change_done);
}

/* ---- the lapse sweep ---- */

static void sweep_done(void *arg, enum db_status st, PGresult *const *res, int n)
{
    (void)arg;
    if (st == DB_OK) {
        const char *lapsed = PQgetvalue(res[0], 0, 0), *suspended = PQgetvalue(res[1], 0, 0);
        if (strcmp(lapsed, "0") != 0 || strcmp(suspended, "0") != 0)
            log_kv(LOG_INFO, "qualification sweep", "lapsed#", lapsed, "suspended#", suspended,
                   (char *)NULL);
        return;
    }
    for (int i = 0; i < n; i++)
        if (res[i] && PQresultStatus(res[i]) == PGRES_FATAL_ERROR)
            log_kv(LOG_ERROR, "qualification sweep failed", "error",
                   PQresultErrorMessage(res[i]), (char *)NULL);
}

void qual_sweep(struct db_pool *pool)
{
    char from[96];
    const char *to;
    qual_states_for(QUAL_EV_LAPSE, from, sizeof from, &to);
    const char *p[] = {from, to};
    char sfrom[96];
    const char *sto;
    qual_states_for(QUAL_EV_SUSPEND, sfrom, sizeof sfrom, &sto);
    const char *sp[] = {sfrom, sto};
    struct db_job *j = db_job_new(sweep_done, NULL);
    db_job_add(j, "qual_lapse_sweep", N(p), p);
    db_job_add(j, "qual_register_sweep", N(sp), sp);
    if (db_submit(pool, j) != DB_OK)
        log_kv(LOG_DEBUG, "lapse sweep skipped: database unavailable", (char *)NULL);
}
