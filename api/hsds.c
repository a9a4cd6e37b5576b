/*
 * hsds: the Open Referral UK 3.0 feed (HSDS-UK-3.0) under /hsds/, public, answered from the
 * latest publication: the objects schema/0009's publication_derive() made from its signed
 * bytes (publication_entry). Parameters are named as the standard names them; lists are pages
 * in the ORUK envelope, or with format=ndjson the whole filtered set streamed one object per
 * line. Replies carry an ETag made of the publication's SHA-256 and the query.
 */
#include "api/api.h"
#include "api/body.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define HSDS_PER_PAGE_DEFAULT 50
#define HSDS_PER_PAGE_MAX 500   /* a page is built in one statement and held in memory */
#define HSDS_SEARCH_MAX 200     /* bytes of `search` */
#define HSDS_PROXIMITY_MAX 1000000 /* metres: 1,000 km covers England */
#define HSDS_NDJSON_BATCH 500   /* objects per round trip of a streamed export */

static const char api_details[] =
    "{\"version\":\"HSDS-UK-3.0\","
    "\"profile\":\"https://openreferraluk.org/specifications/3.0/\","
    "\"openapi_url\":\"https://openreferraluk.org/specifications/3.0/openapi.json\"}";

void hsds_root(struct api_ctx *ctx)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, api_details, sizeof api_details - 1);
    api_reply_json(ctx, 200, b);
}

/* Which object a route serves, from its pattern. */
static const char *route_kind(const struct api_ctx *ctx)
{
    static const struct {
        const char *prefix, *kind;
    } kinds[] = {{"/hsds/services", "service"},
                 {"/hsds/organizations", "organization"},
                 {"/hsds/service_at_locations", "service_at_location"},
                 {"/hsds/taxonomy_terms", "taxonomy_term"},
                 {"/hsds/taxonomies", "taxonomy"}};
    for (size_t i = 0; i < N(kinds); i++)
        if (strncmp(ctx->route->pattern, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
            return kinds[i].kind;
    return "service";
}

/* Well-formed UTF-8 (shortest forms, no surrogates, at most U+10FFFF). */
static bool utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, n;
        unsigned long cp;
        if (c < 0x80) {
            p++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (unsigned i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

static bool bool_param(struct api_ctx *ctx, const char *name, bool *out)
{
    const char *v = api_query(ctx, name);
    if (!v)
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else {
        api_problem(ctx, 400, "invalid_parameter", "%s must be true or false", name);
        return false;
    }
    return true;
}

/* A UK postcode or outward code, to its outward code (upper case, no space). */
static bool outcode_of(const char *in, char out[8])
{
    char s[16];
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ')
            continue;
        if (n + 1 >= sizeof s || !isalnum((unsigned char)*p))
            return false;
        s[n++] = (char)toupper((unsigned char)*p);
    }
    s[n] = '\0';
    /* A full postcode ends in digit + two letters; the outward code is what precedes it. */
    if (n >= 5 && isdigit((unsigned char)s[n - 3]) && isalpha((unsigned char)s[n - 2]) &&
        isalpha((unsigned char)s[n - 1]))
        s[n -= 3] = '\0';
    /* [A-Z]{1,2}[0-9][A-Z0-9]? */
    size_t i = 0;
    while (i < n && i < 2 && isalpha((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= n || !isdigit((unsigned char)s[i]))
        return false;
    i++;
    if (i < n && isalnum((unsigned char)s[i]))
        i++;
    if (i != n)
        return false;
    memcpy(out, s, n + 1);
    return true;
}

/* The query of a list, validated; the statement parameters of hsds_list / hsds_ndjson. */
struct hsds_query {
    const char *kind, *search, *term, *taxonomy, *org, *modified;
    char page[16], per_page[16], variant[8], outcode[8], proximity[16], nothing[8];
    bool ndjson, has_outcode, has_proximity;
    char number[16];   /* the publication a stream reads */
    long long after;   /* the last ord sent */
};

static bool uuid_param(struct api_ctx *ctx, const char *name, const char **out)
{
    *out = api_query(ctx, name);
    if (*out && !api_is_uuid(*out)) {
        api_problem(ctx, 400, "invalid_parameter", "%s must be a UUID", name);
        return false;
    }
    return true;
}

static bool parse_query(struct api_ctx *ctx, struct hsds_query *q)
{
    memset(q, 0, sizeof *q);
    q->kind = route_kind(ctx);
    uint64_t page = 1, per = HSDS_PER_PAGE_DEFAULT;
    const char *v;
    if ((v = api_query(ctx, "page")) && !util_parse_u64(v, 1, 1000000, &page)) {
        api_problem(ctx, 400, "invalid_parameter", "page must be an integer from 1");
        return false;
    }
    if ((v = api_query(ctx, "per_page")) && !util_parse_u64(v, 1, HSDS_PER_PAGE_MAX, &per)) {
        api_problem(ctx, 400, "invalid_parameter", "per_page must be an integer from 1 to %d",
                    HSDS_PER_PAGE_MAX);
        return false;
    }
    snprintf(q->page, sizeof q->page, "%llu", (unsigned long long)page);
    snprintf(q->per_page, sizeof q->per_page, "%llu", (unsigned long long)per);
    q->search = api_query(ctx, "search");
    if (q->search && (strlen(q->search) > HSDS_SEARCH_MAX || !utf8_ok(q->search))) {
        api_problem(ctx, 400, "invalid_parameter", "search must be UTF-8 text of at most %d bytes",
                    HSDS_SEARCH_MAX);
        return false;
    }
    if (q->search && !*q->search)
        q->search = NULL;
    if (!uuid_param(ctx, "taxonomy_term_id", &q->term) ||
        !uuid_param(ctx, "taxonomy_id", &q->taxonomy) ||
        !uuid_param(ctx, "organization_id", &q->org))
        return false;
    const char *parent;
    if (!uuid_param(ctx, "parent_id", &parent))
        return false;
    /* Our taxonomies are flat: no term has a parent. */
    snprintf(q->nothing, sizeof q->nothing, "%s", parent ? "true" : "false");
    q->modified = api_query(ctx, "modified_after");
    if (q->modified && !api_is_timestamp(q->modified)) {
        api_problem(ctx, 400, "invalid_parameter",
                    "modified_after must be an RFC 3339 date-time, e.g. 2026-01-31T00:00:00Z");
        return false;
    }
    bool minimal = false, full = false, top_only = false, full_service = false;
    if (!bool_param(ctx, "minimal", &minimal) || !bool_param(ctx, "full", &full) ||
        !bool_param(ctx, "top_only", &top_only) || !bool_param(ctx, "full_service", &full_service))
        return false;
    const char *variant = full || full_service ? "full" : "list";
    if (minimal && strcmp(q->kind, "service") == 0)
        variant = "minimal";
    snprintf(q->variant, sizeof q->variant, "%s", variant);
    const char *format = api_query(ctx, "format");
    if (format && strcmp(format, "json") != 0 && strcmp(format, "ndjson") != 0) {
        api_problem(ctx, 400, "invalid_parameter", "format must be json or ndjson");
        return false;
    }
    q->ndjson = format && strcmp(format, "ndjson") == 0;
    if (strcmp(q->kind, "service_at_location") == 0) {
        const char *pc = api_query(ctx, "postcode"), *px = api_query(ctx, "proximity");
        if (pc && !outcode_of(pc, q->outcode)) {
            api_problem(ctx, 400, "invalid_parameter",
                        "postcode must be a UK postcode or its outward code (LS6 2AB, LS6)");
            return false;
        }
        q->has_outcode = pc != NULL;
        uint64_t m;
        if (px && !util_parse_u64(px, 1, HSDS_PROXIMITY_MAX, &m)) {
            api_problem(ctx, 400, "invalid_parameter",
                        "proximity must be a distance in metres from 1 to %d", HSDS_PROXIMITY_MAX);
            return false;
        }
        if (px && !pc) {
            api_problem(ctx, 400, "invalid_parameter", "proximity needs a postcode to measure from");
            return false;
        }
        if (px) {
            snprintf(q->proximity, sizeof q->proximity, "%llu", (unsigned long long)m);
            q->has_proximity = true;
        }
    }
    return true;
}

/* The 13 parameters of hsds_list / hsds_ndjson ($7 and $8: page and per_page, or after and
 * batch; $13 only for ndjson). */
static void query_params(const struct hsds_query *q, const char *p7, const char *p8,
                         const char *p[13])
{
    const char *v[13] = {q->kind, q->search, q->term, q->taxonomy, q->org, q->modified, p7, p8,
                         q->variant, q->has_outcode ? q->outcode : NULL,
                         q->has_proximity ? q->proximity : NULL, q->nothing, q->number};
    memcpy(p, v, sizeof v);
}

static void list_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[0];
    if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
        api_problem(ctx, 400, "unknown_postcode", "postcode: no such postcode district is known");
        return;
    }
    if (api_etag(ctx, PQgetisnull(r, 0, 0) ? "none" : PQgetvalue(r, 0, 0)))
        return;
    api_reply_sql_json(ctx, 200, r, 2);
}

/* ndjson: the filtered set in batches, from the publication that was latest at the start. */
static void nd_next(void *arg, struct db_job *job)
{
    struct hsds_query *q = arg;
    char after[24], batch[16];
    snprintf(after, sizeof after, "%lld", q->after);
    snprintf(batch, sizeof batch, "%d", HSDS_NDJSON_BATCH);
    const char *p[13];
    query_params(q, after, batch, p);
    db_job_add(job, "hsds_ndjson", 13, p);
}

static int nd_take(void *arg, const PGresult *r, struct evbuffer *out)
{
    struct hsds_query *q = arg;
    if (PQntuples(r) != 1)
        return -1;
    long long count = atoll(PQgetvalue(r, 0, 0));
    evbuffer_add(out, PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
    if (count > 0)
        q->after = atoll(PQgetvalue(r, 0, 1));
    return count == HSDS_NDJSON_BATCH ? 1 : 0;
}

static const struct api_stream_ops nd_ops = {nd_next, nd_take};

static void nd_head_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    struct hsds_query *q = ctx->state;
    const PGresult *r = res[0];
    bool none = PQntuples(r) == 0;
    if (!none && q->has_outcode && strcmp(PQgetvalue(res[1], 0, 0), "t") != 0) {
        api_problem(ctx, 400, "unknown_postcode", "postcode: no such postcode district is known");
        return;
    }
    if (api_etag(ctx, none ? "none" : PQgetvalue(r, 0, 1)))
        return;
    if (none) {
        api_reply(ctx, 200, NULL, "application/x-ndjson");
        return;
    }
    snprintf(q->number, sizeof q->number, "%s", PQgetvalue(r, 0, 2));
    ctx->state = NULL; /* the stream owns it now */
    ctx->state_free = NULL;
    api_stream(ctx, "application/x-ndjson", NULL, &nd_ops, q, free);
}

void hsds_list(struct api_ctx *ctx)
{
    struct hsds_query *q = xmalloc(sizeof *q);
    if (!parse_query(ctx, q)) {
        free(q);
        return;
    }
    struct db_job *j = api_job_new(ctx);
    if (q->ndjson) {
        const char *latest[] = {NULL};
        db_job_add(j, "pub_get", 1, latest);
        const char *oc[] = {q->has_outcode ? q->outcode : NULL};
        db_job_add(j, "hsds_outcode", 1, oc);
        ctx->state = q;
        ctx->state_free = free;
        api_db(ctx, j, nd_head_done);
        return;
    }
    const char *p[13];
    query_params(q, q->page, q->per_page, p);
    db_job_add(j, "hsds_list", 12, p);
    free(q); /* db_job_add copied the parameters */
    api_db(ctx, j, list_done);
}

static void get_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0) {
        api_problem(ctx, 404, "not_found", "the latest publication has no such %s",
                    route_kind(ctx));
        return;
    }
    if (!api_etag(ctx, PQgetvalue(res[0], 0, 0)))
        api_reply_sql_json(ctx, 200, res[0], 1);
}

void hsds_get(struct api_ctx *ctx)
{
    if (!api_is_uuid(api_param(ctx, 0))) {
        api_problem(ctx, 404, "not_found", "no %s has this id (ids are UUIDs)", route_kind(ctx));
        return;
    }
    const char *p[] = {route_kind(ctx), api_param(ctx, 0)};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "hsds_get", N(p), p);
    api_db(ctx, j, get_done);
}
