/*
 * org: organisations (providers and consortia) and their sites. Sign-up is public and
 * rate-limited per client address; it creates the organisation, its first provider key and the
 * audit event in one statement, and shows the key once. Providers read and change only their
 * own organisation (the key's organisation is a parameter of every query, so another
 * organisation's rows are never read). Commissioners, assessors and the board read any
 * organisation; sites, whose addresses may be confidential (children's homes), only the owner,
 * assessors and the board.
 */
#include "api/api.h"
#include "api/body.h"
#include "api/ratelimit.h"
#include "daemon/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>

static const char *const kinds[] = {"provider", "consortium", NULL};
static const char *const sectors[] = {"private", "voluntary", "local_authority", "health", "other", NULL};
static const char *const member_roles[] = {"local_authority", "commercial", "voluntary", NULL};
static const char *const id_schemes[] = {"GB-COH", "GB-CHC", "GB-SC", "GB-NIC", "GB-LAE", "GB-EDU", NULL};

static const struct api_field org_fields[] = {
    {"name", F_STRING, true, 0, 300, NULL},
    {"kind", F_ENUM, false, 0, 0, kinds},
    {"sector", F_ENUM, true, 0, 0, sectors},
    {"identifiers", F_ARRAY, false, 0, 10, NULL},
    {"contacts", F_OBJECT, false, 0, 0, NULL},
    {"description", F_TEXT, false, 0, 5000, NULL},
    {"website", F_STRING, false, 0, 500, NULL},
    {"members", F_ARRAY, false, 0, 50, NULL},
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct api_field identifier_fields[] = {
    {"scheme", F_ENUM, true, 0, 0, id_schemes},
    {"id", F_STRING, true, 0, 40, NULL},
};
static const struct api_field contact_fields[] = {
    {"email", F_STRING, false, 0, 254, NULL},
    {"phone", F_STRING, false, 0, 40, NULL},
    {"name", F_STRING, false, 0, 200, NULL},
};
static const struct api_field member_fields[] = {
    {"organisation_id", F_UUID, true, 0, 0, NULL},
    {"role", F_ENUM, true, 0, 0, member_roles},
};

/* Validates the nested parts of an organisation body; answers and returns false on error. */
static bool check_org_body(struct api_ctx *ctx, const jv *body, bool creating)
{
    struct api_field fields[N(org_fields)];
    memcpy(fields, org_fields, sizeof fields);
    for (size_t i = 0; !creating && i < N(fields); i++)
        fields[i].required = false; /* PATCH: send only what changes */
    if (!api_check_fields(ctx, body, "", fields, N(fields)))
        return false;
    const jv *ids = jv_get(body, "identifiers");
    for (size_t i = 0; i < jv_len(ids); i++) {
        char where[48];
        snprintf(where, sizeof where, "identifiers[%zu].", i);
        if (!jv_is_object(jv_index(ids, i))) {
            api_problem(ctx, 400, "invalid_field", "identifiers[%zu] must be an object", i);
            return false;
        }
        if (!api_check_fields(ctx, jv_index(ids, i), where, identifier_fields, N(identifier_fields)))
            return false;
    }
    const jv *contacts = jv_get(body, "contacts");
    if (contacts && !api_check_fields(ctx, contacts, "contacts.", contact_fields, N(contact_fields)))
        return false;
    const jv *web = jv_get(body, "website");
    if (web) {
        const char *w = jv_str(web, NULL);
        if (strncmp(w, "https://", 8) != 0 && strncmp(w, "http://", 7) != 0) {
            api_problem(ctx, 400, "invalid_field", "website must start with https:// or http://");
            return false;
        }
    }
    const jv *members = jv_get(body, "members");
    const jv *kind = jv_get(body, "kind");
    bool consortium = kind && strcmp(jv_str(kind, NULL), "consortium") == 0;
    if (members && !creating) {
        api_problem(ctx, 400, "invalid_field", "members are set when the consortium signs up");
        return false;
    }
    if (creating && consortium && jv_len(members) == 0) {
        api_problem(ctx, 400, "missing_field", "a consortium must name its members");
        return false;
    }
    if (creating && !consortium && members) {
        api_problem(ctx, 400, "invalid_field", "only a consortium has members");
        return false;
    }
    for (size_t i = 0; i < jv_len(members); i++) {
        char where[48];
        snprintf(where, sizeof where, "members[%zu].", i);
        if (!jv_is_object(jv_index(members, i))) {
            api_problem(ctx, 400, "invalid_field", "members[%zu] must be an object", i);
            return false;
        }
        if (!api_check_fields(ctx, jv_index(members, i), where, member_fields, N(member_fields)))
            return false;
    }
    return true;
}

/* JSON text of a member or a default, for a jsonb parameter; caller frees. */
static char *dump_or(const jv *v, const char *dflt)
{
    return v ? jv_dump(v, NULL) : xstrdup(dflt);
}

static const char *str_or(const jv *v, const char *dflt)
{
    return v ? jv_str(v, NULL) : dflt;
}

/* ---- POST /v1/organisations ---- */

static struct ratelimit *signup_limit;

static void signup_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    api_reply_sql_json(ctx, 201, res[0], 0);
}

void org_create(struct api_ctx *ctx)
{
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!check_org_body(ctx, body, true)) {
        jv_free(body);
        return;
    }
    /* Counted only once the body is valid: fixing a typo does not spend the allowance. */
    if (!signup_limit)
        signup_limit = ratelimit_new((double)ctx->srv->cfg.signup_per_hour,
                                     (double)ctx->srv->cfg.signup_per_hour / 4 + 1);
    ratelimit_set_rate(signup_limit, (double)ctx->srv->cfg.signup_per_hour,
                       (double)ctx->srv->cfg.signup_per_hour / 4 + 1);
    unsigned retry = 0;
    if (!ratelimit_take(signup_limit, api_peer(ctx), util_now_ns(), &retry)) {
        char ra[16];
        snprintf(ra, sizeof ra, "%u", retry);
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", ra);
        api_problem(ctx, 429, "rate_limited", "too many sign-ups from this address; retry in %u s",
                    retry);
        jv_free(body);
        return;
    }
    char key[AUTH_KEY_LEN + 1];
    unsigned char hash[32];
    char hex[65];
    auth_key_new(key, hash);
    auth_hex(hash, hex);
    char *ids = dump_or(jv_get(body, "identifiers"), "[]");
    char *contacts = dump_or(jv_get(body, "contacts"), "{}");
    char *members = dump_or(jv_get(body, "members"), "[]");
    const char *p[] = {
        jv_str(jv_get(body, "name"), NULL),
        str_or(jv_get(body, "kind"), "provider"),
        jv_str(jv_get(body, "sector"), NULL),
        ids,
        contacts,
        str_or(jv_get(body, "description"), ""),
        str_or(jv_get(body, "website"), NULL),
        members,
        hex,
        api_peer(ctx),
        key,
    };
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "org_create", N(p), p);
    free(ids);
    free(contacts);
    free(members);
    jv_free(body);
    api_db(ctx, j, signup_done);
}

/* ---- GET /v1/organisations/{id} and PATCH ---- */

static void org_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0) {
        api_problem(ctx, 404, "not_found", "no such organisation");
        return;
    }
    api_reply_sql_json(ctx, 200, res[0], 0);
}

/* The organisation a provider key is confined to, or NULL for national roles. */
static const char *own_scope(const struct api_ctx *ctx)
{
    return ctx->who.role == ROLE_PROVIDER ? ctx->who.organisation : NULL;
}

/* Answers 404 and returns false unless {id} is a UUID. */
static bool id_param(struct api_ctx *ctx, int i, const char *what)
{
    if (!api_is_uuid(api_param(ctx, i))) {
        api_problem(ctx, 404, "not_found", "no such %s", what);
        return false;
    }
    return true;
}

void org_get(struct api_ctx *ctx)
{
    if (!id_param(ctx, 0, "organisation"))
        return;
    const char *p[] = {api_param(ctx, 0), own_scope(ctx)};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "org_get", 2, p);
    api_db(ctx, j, org_done);
}

void org_patch(struct api_ctx *ctx)
{
    if (!id_param(ctx, 0, "organisation"))
        return;
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!check_org_body(ctx, body, false)) {
        jv_free(body);
        return;
    }
    if (jv_get(body, "kind")) {
        jv_free(body);
        api_problem(ctx, 400, "invalid_field", "kind cannot change after sign-up");
        return;
    }
    char *patch = jv_dump(body, NULL);
    char actor[96];
    snprintf(actor, sizeof actor, "key:%lld", ctx->who.key_id);
    const char *p[] = {api_param(ctx, 0), own_scope(ctx), patch, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "org_patch", 4, p);
    free(patch);
    jv_free(body);
    api_db(ctx, j, org_done);
}

/* ---- sites ---- */

static const struct api_field site_fields[] = {
    {"name", F_STRING, true, 0, 300, NULL},
    {"ofsted_urn", F_STRING, false, 0, 9, NULL},
    {"address", F_TEXT, false, 0, 500, NULL},
    {"postcode", F_STRING, false, 0, 8, NULL},
    {"address_private", F_BOOL, false, 0, 0, NULL},
    {"la_code", F_STRING, false, 0, 9, NULL},
    {"places", F_INT, false, 0, 10000, NULL},
    {"age_min", F_INT, false, 0, 25, NULL},
    {"age_max", F_INT, false, 0, 25, NULL},
    {"needs", F_ARRAY, false, 0, 30, NULL},
};

static void sites_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0 || PQgetisnull(res[0], 0, 0)) {
        api_problem(ctx, 404, "not_found", "no such organisation");
        return;
    }
    api_reply_sql_json(ctx, ctx->route->method[0] == 'P' ? 201 : 200, res[0], 0);
}

void site_create(struct api_ctx *ctx)
{
    if (!id_param(ctx, 0, "organisation"))
        return;
    jv *body = api_body_object(ctx);
    if (!body)
        return;
    if (!api_check_fields(ctx, body, "", site_fields, N(site_fields))) {
        jv_free(body);
        return;
    }
    const jv *needs = jv_get(body, "needs");
    for (size_t i = 0; i < jv_len(needs); i++) {
        size_t l = 0;
        if (!jv_str(jv_index(needs, i), &l) || l == 0 || l > 60) {
            jv_free(body);
            api_problem(ctx, 400, "invalid_field", "needs[%zu] must be a string of 1 to 60 bytes", i);
            return;
        }
    }
    char *doc = jv_dump(body, NULL);
    char actor[96];
    snprintf(actor, sizeof actor, "key:%lld", ctx->who.key_id);
    const char *p[] = {api_param(ctx, 0), own_scope(ctx), doc, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "site_create", 4, p);
    free(doc);
    jv_free(body);
    api_db(ctx, j, sites_done);
}

void site_list(struct api_ctx *ctx)
{
    if (!id_param(ctx, 0, "organisation"))
        return;
    const char *p[] = {api_param(ctx, 0), own_scope(ctx)};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "site_list", 2, p);
    api_db(ctx, j, sites_done);
}
