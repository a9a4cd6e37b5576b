/*
 * publications: the board's signed snapshots of the directory (DESIGN.md §8,
 * docs/publications.md). POST /v1/publications reads the directory in one statement, builds
 * the canonical document (api/pubdoc.c), signs it with the board's key (daemon/signkey.c) and
 * stores it with the next number, unless nothing changed since the last one. The reads are
 * public: metadata, the exact signed bytes and a CSV of the sites, streamed in slices and
 * batches, with ETags.
 */
#include "api/api.h"
#include "api/pubdoc.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/signkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Bytes of directory.json per slice, and CSV records per batch: each is one round trip and
 * at most two are in memory at a time (api_stream). */
#define PUB_SLICE_BYTES (256 * 1024)
#define PUB_CSV_BATCH 2000

/* The header row of directory.csv (docs/publications.md lists the columns). */
static const char csv_header[] =
    "site_id,organisation_id,organisation_name,site_name,address,postcode,postcode_district,"
    "la_code,local_authority,region,latitude,longitude,location_basis,address_private,"
    "service_types,ofsted_urn,ofsted_rating,places,vacancies,vacancies_at,age_min,age_max\r\n";

/* ---- POST /v1/publications ---- */

static void create_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    const PGresult *r = res[1];
    bool created = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    /* {"unchanged": bool, ...metadata}: the metadata object without its opening brace. */
    const char *meta = PQgetvalue(r, 0, 1);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "{\"unchanged\": %s, %s", created ? "false" : "true", meta + 1);
    if (created) {
        /* "number": N is in the metadata; the Location names it. */
        const char *num = strstr(meta, "\"number\": ");
        char loc[64];
        snprintf(loc, sizeof loc, "/v1/publications/%lld", num ? atoll(num + 10) : 0LL);
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Location", loc);
    }
    api_reply_json(ctx, created ? 201 : 200, b);
}

static void snapshot_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    EVP_PKEY *key = ctx->srv->sign_key;
    if (!key) { /* removed by a reload meanwhile */
        api_problem(ctx, 503, "signing_key_missing",
                    "publishing needs the board's signing key (signing_key), which is not configured");
        return;
    }
    struct pubdoc d;
    char err[256];
    if (!pubdoc_build(res[0], &d, err, sizeof err)) {
        log_kv(LOG_ERROR, "cannot build the publication", "request_id", ctx->request_id,
               "error", err, (char *)NULL);
        api_problem(ctx, 500, "internal_error", "the publication could not be built; the error has been logged");
        return;
    }
    char sig[SIGNKEY_SIG_B64];
    if (!signkey_sign_b64(key, d.doc.p, d.doc.len, sig)) {
        pubdoc_free(&d);
        api_problem(ctx, 500, "internal_error", "signing failed");
        return;
    }
    char *text = xstrndup(d.doc.p, d.doc.len);
    pubdoc_free(&d);
    char seq[24], actor[64];
    snprintf(seq, sizeof seq, "%lld", d.audit_seq);
    api_actor(ctx, actor, sizeof actor);
    const char *p[] = {text, d.sha256, d.content_sha256, sig, ctx->srv->sign_pub_pem,
                       d.counts, seq, d.audit_hash, actor};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "pub_lock", 0, NULL);
    db_job_add(j, "pub_create", N(p), p);
    free(text);
    api_db(ctx, j, create_done);
}

void pub_create(struct api_ctx *ctx)
{
    if (!ctx->srv->sign_key) {
        api_problem(ctx, 503, "signing_key_missing",
                    "publishing needs the board's signing key: set signing_key (AQPD_SIGNING_KEY) "
                    "to an Ed25519 PEM private key and reload");
        return;
    }
    /* it reads the whole directory and the database derives the feed from it: minutes for a
       national directory, so publish_timeout_ms rather than request_timeout_ms */
    ctx->timeout_ms = ctx->srv->cfg.publish_timeout_ms;
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "pub_snapshot", 0, NULL);
    api_db(ctx, j, snapshot_done);
}

/* ---- reads ---- */

void pub_list(struct api_ctx *ctx)
{
    const char *l = api_query(ctx, "limit"), *c = api_query(ctx, "cursor");
    uint64_t lim = LIMIT_PAGE_DEFAULT, cur = 0;
    if (l && !util_parse_u64(l, 1, LIMIT_PAGE_MAX, &lim)) {
        api_problem(ctx, 400, "invalid_parameter", "limit must be an integer from 1 to %d",
                    LIMIT_PAGE_MAX);
        return;
    }
    if (c && !util_parse_u64(c, 1, INT32_MAX, &cur)) {
        api_problem(ctx, 400, "invalid_parameter", "cursor is not one this API gave out");
        return;
    }
    char lt[24], ct[24];
    snprintf(lt, sizeof lt, "%llu", (unsigned long long)lim);
    snprintf(ct, sizeof ct, "%llu", (unsigned long long)cur);
    const char *p[] = {c ? ct : NULL, lt};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "pub_list", N(p), p);
    api_db(ctx, j, api_list_done);
}

/* Reads {n} as a publication number; answers 400 naming it otherwise. */
static bool pub_number(struct api_ctx *ctx, char out[16])
{
    uint64_t n;
    if (!util_parse_u64(api_param(ctx, 0), 1, INT32_MAX, &n)) {
        api_problem(ctx, 400, "invalid_parameter",
                    "n (the publication number) must be a positive integer, \"latest\" or \"public-key\"");
        return false;
    }
    snprintf(out, 16, "%llu", (unsigned long long)n);
    return true;
}

/* Looks the publication up (pub_get) and hands the row to `next`, or answers 404. */
struct pub_head {
    char number[16];
    long long bytes;
    long long after; /* pub_slice: offset; pub_csv: ord */
};

static bool head_found(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return false;
    if (PQntuples(res[0]) == 0) {
        const char *want = api_param(ctx, 0);
        if (strcmp(ctx->route->pattern, "/v1/publications/latest") == 0)
            api_problem(ctx, 404, "not_found", "nothing has been published yet");
        else
            api_problem(ctx, 404, "not_found", "there is no publication %s", want ? want : "");
        return false;
    }
    return !api_etag(ctx, PQgetvalue(res[0], 0, 1));
}

static void meta_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (head_found(ctx, st, res, n))
        api_reply_sql_json(ctx, 200, res[0], 0);
}

void pub_get(struct api_ctx *ctx)
{
    char num[16];
    if (!pub_number(ctx, num))
        return;
    const char *p[] = {num};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "pub_get", 1, p);
    api_db(ctx, j, meta_done);
}

void pub_latest(struct api_ctx *ctx)
{
    const char *p[] = {NULL};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "pub_get", 1, p);
    api_db(ctx, j, meta_done);
}

static void public_key_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!api_db_ok(ctx, st, res, n))
        return;
    if (PQntuples(res[0]) == 0) {
        api_problem(ctx, 404, "no_public_key",
                    "no signing key is configured and nothing has been published");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, PQgetvalue(res[0], 0, 0), (size_t)PQgetlength(res[0], 0, 0));
    api_reply(ctx, 200, b, "application/x-pem-file");
}

void pub_public_key(struct api_ctx *ctx)
{
    if (ctx->srv->sign_pub_pem) {
        struct evbuffer *b = evbuffer_new();
        evbuffer_add(b, ctx->srv->sign_pub_pem, strlen(ctx->srv->sign_pub_pem));
        api_reply(ctx, 200, b, "application/x-pem-file");
        return;
    }
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "pub_public_key", 0, NULL);
    api_db(ctx, j, public_key_done);
}

/* directory.json: slices of the stored bytes. */
static void slice_next(void *arg, struct db_job *job)
{
    struct pub_head *h = arg;
    char off[24], len[24];
    snprintf(off, sizeof off, "%lld", h->after);
    snprintf(len, sizeof len, "%d", PUB_SLICE_BYTES);
    const char *p[] = {h->number, off, len};
    db_job_add(job, "pub_slice", N(p), p);
}

static int slice_take(void *arg, const PGresult *r, struct evbuffer *out)
{
    struct pub_head *h = arg;
    if (PQntuples(r) != 1)
        return -1;
    size_t len = 0;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &len);
    if (!bytes)
        return -1;
    evbuffer_add(out, bytes, len);
    PQfreemem(bytes);
    h->after += (long long)len;
    return h->after < h->bytes && len > 0 ? 1 : 0;
}

static const struct api_stream_ops slice_ops = {slice_next, slice_take};

/* directory.csv: batches of site records. */
static void csv_next(void *arg, struct db_job *job)
{
    struct pub_head *h = arg;
    char after[24], batch[24];
    snprintf(after, sizeof after, "%lld", h->after);
    snprintf(batch, sizeof batch, "%d", PUB_CSV_BATCH);
    const char *p[] = {h->number, after, batch};
    db_job_add(job, "pub_csv", N(p), p);
}

static int csv_take(void *arg, const PGresult *r, struct evbuffer *out)
{
    struct pub_head *h = arg;
    if (PQntuples(r) != 1)
        return -1;
    long long count = atoll(PQgetvalue(r, 0, 0));
    evbuffer_add(out, PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
    if (count > 0)
        h->after = atoll(PQgetvalue(r, 0, 1));
    return count == PUB_CSV_BATCH ? 1 : 0;
}

static const struct api_stream_ops csv_ops = {csv_next, csv_take};

static void export_head_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (!head_found(ctx, st, res, n))
        return;
    struct pub_head *h = xcalloc(1, sizeof *h);
    snprintf(h->number, sizeof h->number, "%s", PQgetvalue(res[0], 0, 2));
    h->bytes = atoll(PQgetvalue(res[0], 0, 3));
    bool csv = strstr(ctx->route->pattern, ".csv") != NULL;
    struct evhttp_request *req = ctx->req;
    char disp[96];
    snprintf(disp, sizeof disp, "attachment; filename=\"aqpd-publication-%s.%s\"", h->number,
             csv ? "csv" : "json");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Disposition", disp);
    if (csv) {
        struct evbuffer *head = evbuffer_new();
        evbuffer_add(head, csv_header, sizeof csv_header - 1);
        api_stream(ctx, "text/csv; charset=utf-8; header=present", head, &csv_ops, h, free);
    } else {
        api_stream(ctx, "application/json", NULL, &slice_ops, h, free);
    }
}

void pub_export(struct api_ctx *ctx)
{
    char num[16];
    if (!pub_number(ctx, num))
        return;
    const char *p[] = {num};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "pub_get", 1, p);
    api_db(ctx, j, export_head_done);
}
