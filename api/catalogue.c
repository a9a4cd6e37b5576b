/*
 * catalogue: the national reference lists: service types (GET /v1/service-types), criteria
 * sets (GET /v1/criteria, POST /v1/criteria for the board, validated by qualify/criteria.c
 * before it is stored), and the audit log for the board (GET /v1/audit-events).
 */
#include "api/api.h"
#include "api/body.h"
#include "qualify/criteria.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/evp.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void json_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0 || PQgetisnull(res[0], 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such criteria set");
        return;
    }
    api_reply_sql_json(ctx, ctx->route->method[0] == 'P' ? 201 : 200, res[0], 0);
}

void cat_service_types(struct api_ctx *ctx)
{
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "service_types", 0, NULL);
    api_db(ctx, j, json_done);
}

void cat_criteria(struct api_ctx *ctx)
{
    const char *v = api_query(ctx, "version");
    uint64_t n;
    if (v && !util_parse_u64(v, 1, 1000000, &n)) {
        api_problem(ctx, 400, "invalid_parameter", "version must be a positive integer");
        return;
    }
    const char *p[] = {v};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "criteria_get", 1, p);
    api_db(ctx, j, json_done);
}

void cat_criteria_publish(struct api_ctx *ctx)
{
    jv *doc = api_body_object(ctx);
    if (!doc)
        return;
    char err[512];
    struct crit_set *set = crit_load(doc, err, sizeof err);
    if (!set) {
        jv_free(doc);
        api_problem(ctx, 422, "invalid_criteria", "%s", err);
        return;
    }
    char ver[16];
    snprintf(ver, sizeof ver, "%d", crit_version(set));
    crit_free(set);
    size_t len;
    char *text = jv_dump(doc, &len);
    jv_free(doc);
    unsigned char md[32];
    unsigned mdl = 0;
    EVP_Digest(text, len, md, &mdl, EVP_sha256(), NULL);
    char hex[65];
    auth_hex(md, hex);
    char actor[96];
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {ver, text, hex, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "criteria_publish", N(p), p);
    free(text);
    api_db(ctx, j, json_done);
}

static void audit_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (api_db_ok(ctx, st, res, n))
        api_reply_sql_json(ctx, 200, res[0], 0);
}

void cat_audit_events(struct api_ctx *ctx)
{
    char limit[8];
    const char *l = api_query(ctx, "limit");
    uint64_t lim = LIMIT_PAGE_DEFAULT;
    if (l && !util_parse_u64(l, 1, LIMIT_PAGE_MAX, &lim)) {
        api_problem(ctx, 400, "invalid_parameter", "limit must be an integer from 1 to %d",
                    LIMIT_PAGE_MAX);
        return;
    }
    snprintf(limit, sizeof limit, "%u", (unsigned)lim);
    const char *cursor = api_query(ctx, "cursor");
    uint64_t c;
    if (cursor && !util_parse_u64(cursor, 0, (uint64_t)1 << 62, &c)) {
        api_problem(ctx, 400, "invalid_parameter", "cursor is not one this API gave out");
        return;
    }
    const char *since = api_query(ctx, "since"), *until = api_query(ctx, "until");
    if ((since && !api_is_timestamp(since)) || (until && !api_is_timestamp(until))) {
        api_problem(ctx, 400, "invalid_parameter",
                    "since and until must be RFC 3339 times (2026-11-23T10:00:00Z) or dates");
        return;
    }
    const char *st = api_query(ctx, "subject_type"), *sid = api_query(ctx, "subject_id");
    const char *p[] = {st, sid, since, until, cursor, limit};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "audit_list", N(p), p);
    api_db(ctx, j, audit_done);
}
