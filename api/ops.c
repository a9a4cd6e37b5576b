/*
 * ops: operations endpoints: liveness (/healthz), readiness (/readyz: a database round trip
 * now, and the search index loaded where it is on), Prometheus metrics (/metrics) and the
 * OpenAPI document (/openapi.json).
 */
#include "api/api.h"
#include "api/search.h"
#include "daemon/metrics.h"
#include "daemon/server.h"

#include <string.h>
#include <event2/buffer.h>
#include <event2/http.h>

static const char healthz_body[] = "{\"status\":\"ok\"}";

void ops_healthz(struct api_ctx *ctx)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_reference(b, healthz_body, sizeof healthz_body - 1, NULL, NULL);
    api_reply_json(ctx, 200, b);
}

static void readyz_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    (void)res, (void)n;
    if (st != DB_OK) {
        api_problem_db(ctx, st == DB_FAILED ? DB_UNAVAILABLE : st);
        return;
    }
    /* A load balancer must not send searches here before the index is loaded; an instance
     * without the index (search_index = false) is ready once the database answers. */
    if (search_index_on() && !search_ready()) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", "1");
        api_problem(ctx, 503, "search_loading",
                    "the database answers, but the search index is still loading");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "{\"status\":\"ready\"}");
    api_reply_json(ctx, 200, b);
}

void ops_readyz(struct api_ctx *ctx)
{
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "ready", 0, NULL);
    api_db(ctx, j, readyz_done);
}

void ops_metrics(struct api_ctx *ctx)
{
    struct srv *s = ctx->srv;
    struct db_stats st;
    db_pool_stats(s->pool, &st);
    struct metrics_gauges g = {&st, s->conns_open, s->inflight};
    struct evbuffer *b = evbuffer_new();
    metrics_render(b, &g);
    search_metrics(b);
    api_reply(ctx, 200, b, "text/plain; version=0.0.4; charset=utf-8");
}

void ops_openapi(struct api_ctx *ctx)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_reference(b, api_openapi_json, api_openapi_json_len, NULL, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Cache-Control",
                      "public, max-age=300");
    api_reply_json(ctx, 200, b); /* CORS: the router adds it to every public read */
}
