/*
 * api: the HTTP layer. A request becomes an api_ctx, is routed through the route table
 * (routes.c: method, pattern, role, handler), and is answered exactly once through api_reply*
 * or api_problem. A handler either answers at once or starts database work with api_db and
 * answers from its callback; a deadline answers 503 if the work takes too long, and a late
 * database result is then discarded (the job is cancelled), so the request is never answered
 * twice and never touched after it is answered.
 */
#ifndef AQPD_API_H
#define AQPD_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "api/auth.h"
#include "daemon/db.h"
#include "daemon/limits.h"

struct evhttp_request;
struct evbuffer;
struct srv;
struct api_ctx;

typedef void (*api_handler_fn)(struct api_ctx *ctx);

struct api_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/v1/commissioners/{code}": {name} captures one segment */
    unsigned roles;      /* ROLE_* bits admitted (auth.h); 0 = public, no key needed */
    api_handler_fn handler;
};

/* The route table (routes.c) and its length; the OpenAPI document is checked against it. */
extern const struct api_route api_routes[];
extern const size_t api_nroutes;

struct api_ctx {
    struct evhttp_request *req;
    struct srv *srv;
    const struct api_route *route; /* NULL while unmatched */
    const char *method;
    char *path; /* decoded path, owned */
    char *params[LIMIT_ROUTE_PARAMS]; /* captured {segments}, owned, in pattern order */
    int nparams;
    char request_id[40];
    struct auth_principal who; /* the caller, once authenticated (role 0 on public routes) */
    uint64_t timeout_ms;       /* a handler's own limit for its database work; 0: request_timeout_ms */
    unsigned char key_hash[32]; /* the bearer key's SHA-256, once parsed */
    uint64_t start_ns;
    bool replied;
    struct db_job *job;         /* the database work in flight, if any */
    struct event *deadline;     /* armed while database work is in flight */
    void (*db_done)(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n);
    struct evkeyvalq *query;    /* parsed query string, on first use */
    void *state;                /* a handler's own state between round trips */
    void (*state_free)(void *state);
    struct api_stream *stream;  /* a chunked reply in progress (api_stream), or NULL */
};

/* Entry point from the listener: every request comes here. */
void api_dispatch(struct srv *srv, struct evhttp_request *req);

/* Answers with `body` (moved from; may be NULL) and the given content type. */
void api_reply(struct api_ctx *ctx, int status, struct evbuffer *body, const char *content_type);
/* Answers with a JSON body. */
void api_reply_json(struct api_ctx *ctx, int status, struct evbuffer *body);
/* Answers with a problem document; `detail` is printf-style. */
void api_problem(struct api_ctx *ctx, int status, const char *code, const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 503 with Retry-After for a database that cannot take the work. */
void api_problem_db(struct api_ctx *ctx, enum db_status st);

/* A database job whose completion comes back to this request (through api_db's `done`). */
struct db_job *api_job_new(struct api_ctx *ctx);

/*
 * Submits `job` (from api_job_new); `done` runs later with the results unless the deadline answered first.
 * When the pool refuses at once, this answers 503 itself and `done` never runs.
 */
void api_db(struct api_ctx *ctx, struct db_job *job,
            void (*done)(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n));

/*
 * Public reads. Sets a strong ETag made of `version` (e.g. a publication's SHA-256) and the
 * request URI, and Cache-Control: no-cache. When the request's If-None-Match names that tag
 * (or is "*"), answers 304 Not Modified and returns true: the caller stops there.
 */
bool api_etag(struct api_ctx *ctx, const char *version) WUR;

/*
 * Streamed replies (exports), in bounded memory. A stream is a sequence of batches, each one
 * database statement: `next` adds the statement for the next batch to `job`; `take` appends
 * that batch's bytes to `out` and returns 1 when more batches follow, 0 after the last, -1 on
 * a result it cannot use. The first batch is read before anything is sent, so a failure then
 * is an ordinary problem reply; a stream of one batch is an ordinary reply with a length.
 * Otherwise the reply is chunked: each batch is sent once the previous one has been written
 * to the connection, and the batch after it is read meanwhile, so at most two batches are in
 * memory. A failure after the first batch closes the connection without the final chunk (the
 * client sees a truncated transfer, never a short file that looks complete). A client that
 * goes away ends the stream. `head` (may be NULL; moved from) is sent before the first batch.
 * `st` is the stream's state, freed with `st_free` when the request ends.
 */
struct api_stream_ops {
    void (*next)(void *st, struct db_job *job);
    int (*take)(void *st, const PGresult *r, struct evbuffer *out);
};
void api_stream(struct api_ctx *ctx, const char *content_type, struct evbuffer *head,
                const struct api_stream_ops *ops, void *st, void (*st_free)(void *));

/* Tells the HTTP-parser error path the configured header limit (to tell 431 from 413). */
void api_set_header_limit(size_t bytes);

/*
 * For database callbacks: true when the job succeeded; otherwise answers (503 for an
 * unavailable or overloaded database, the mapped problem for a failed statement) and returns
 * false, and the caller just returns.
 */
bool api_db_ok(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
    __attribute__((warn_unused_result));

/* A database callback that answers 200 with column 0 of row 0 of the first result (lists). */
void api_list_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n);

/* Answers `status` with the JSON text in column `col` of row 0 of `r` (the SQL built it). */
void api_reply_sql_json(struct api_ctx *ctx, int status, const PGresult *r, int col);

/*
 * Answers a failed statement: constraint violations become 409/422 problems naming the
 * constraint, bad input text 400, anything else 500 (logged with the SQL error).
 */
void api_problem_sql(struct api_ctx *ctx, PGresult *const *res, int n);

/* The caller's address as text (for rate limits and audit). */
const char *api_peer(const struct api_ctx *ctx);

/* A query-string parameter (percent-decoded, owned by the request), or NULL. */
const char *api_query(struct api_ctx *ctx, const char *name);

/*
 * Reads limit (1..LIMIT_PAGE_MAX, default LIMIT_PAGE_DEFAULT) and cursor (an opaque token
 * that is the id of the last item seen). On bad values answers 400 naming the parameter and
 * returns false. *cursor is NULL when absent. `limit_text` receives the limit as text.
 */
bool api_page(struct api_ctx *ctx, char limit_text[8], const char **cursor)
    __attribute__((warn_unused_result));

/* The actor string audit events record for this caller ("key:12" or "public:ADDR"). */
void api_actor(const struct api_ctx *ctx, char *buf, size_t len);

/* A captured path parameter by position. */
const char *api_param(const struct api_ctx *ctx, int i);

/*
 * Pure routing, for the dispatcher and the tests: finds the route for method + path. Returns
 * the route (and fills params/nparams with allocated captures), or NULL with *path_matched
 * telling whether some other method exists for that path (405) or none (404).
 */
const struct api_route *api_route_match(const char *method, const char *path, char **params,
                                        int *nparams, bool *path_matched);

/* Writes the methods allowed for `path` ("GET, HEAD") into buf. */
void api_allowed_methods(const char *path, char *buf, size_t len);

/* Prepared statements the API uses; the pool prepares them on every connection. */
extern const struct db_stmt api_stmts[];
extern const size_t api_nstmts;

/* Handlers (ops.c). */
void ops_healthz(struct api_ctx *ctx);
void ops_readyz(struct api_ctx *ctx);
void ops_metrics(struct api_ctx *ctx);
void ops_openapi(struct api_ctx *ctx);

/* Organisations and sites (org.c). */
void org_create(struct api_ctx *ctx);
void org_get(struct api_ctx *ctx);
void org_patch(struct api_ctx *ctx);
void site_create(struct api_ctx *ctx);
void site_list(struct api_ctx *ctx);

/* Applications (applications.c). */
void app_create(struct api_ctx *ctx);
void app_list(struct api_ctx *ctx);
void app_get(struct api_ctx *ctx);
void app_patch(struct api_ctx *ctx);
void app_submit(struct api_ctx *ctx);
void app_withdraw(struct api_ctx *ctx);
void app_decision(struct api_ctx *ctx);
void app_assessments(struct api_ctx *ctx);

/* Qualifications (qualifications.c). */
void qual_list(struct api_ctx *ctx);
void qual_suspend(struct api_ctx *ctx);
void qual_reinstate(struct api_ctx *ctx);
void qual_revoke(struct api_ctx *ctx);
void qual_review(struct api_ctx *ctx);
/* Lapses overdue qualifications (one statement); the server calls it on a timer. */
void qual_sweep(struct db_pool *pool);

/* Catalogue and audit (catalogue.c). */
void cat_service_types(struct api_ctx *ctx);
void cat_criteria(struct api_ctx *ctx);
void cat_criteria_publish(struct api_ctx *ctx);
void cat_audit_events(struct api_ctx *ctx);

/* Local commissioning (commissioning.c). */
void comm_list(struct api_ctx *ctx);
void comm_get(struct api_ctx *ctx);
void offer_put(struct api_ctx *ctx);
void local_create(struct api_ctx *ctx);
void local_list(struct api_ctx *ctx);
void local_decision(struct api_ctx *ctx);
void agreement_list(struct api_ctx *ctx);
void agreement_review(struct api_ctx *ctx);
void agreement_terminate(struct api_ctx *ctx);
void changes_list(struct api_ctx *ctx);
void provider_get(struct api_ctx *ctx);

/* The public web page and its assets, embedded at build time (web.c). */
void web_page(struct api_ctx *ctx);
void web_asset(struct api_ctx *ctx);
void web_config(struct api_ctx *ctx);
/*
 * True when an If-None-Match header value (a list of entity-tags, weak or strong, or "*")
 * names `etag` (a quoted strong tag) under weak comparison. NULL or malformed: false.
 */
bool web_etag_matches(const char *if_none_match, const char *etag);
/* Writes the page's Content-Security-Policy for this tile_url (may be "" or NULL) into buf. */
void web_csp(const char *tile_url, char *buf, size_t len);
/* Publications (publications.c). */
void pub_create(struct api_ctx *ctx);
void pub_list(struct api_ctx *ctx);
void pub_get(struct api_ctx *ctx);
void pub_latest(struct api_ctx *ctx);
void pub_public_key(struct api_ctx *ctx);
void pub_export(struct api_ctx *ctx); /* directory.json and directory.csv */

/* The Open Referral UK feed (hsds.c). */
void hsds_root(struct api_ctx *ctx);
void hsds_list(struct api_ctx *ctx);
void hsds_get(struct api_ctx *ctx);

/* The OpenAPI document embedded at build time (openapi.c). */
extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

#endif
