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

#include "daemon/db.h"
#include "daemon/limits.h"

struct evhttp_request;
struct evbuffer;
struct srv;
struct api_ctx;

/* Who may call a route. Later issues add provider, commissioner, assessor, board. */
enum api_access {
    ACCESS_PUBLIC, /* no key needed */
};

typedef void (*api_handler_fn)(struct api_ctx *ctx);

struct api_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/v1/commissioners/{code}": {name} captures one segment */
    enum api_access access;
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
    uint64_t start_ns;
    bool replied;
    struct db_job *job;         /* the database work in flight, if any */
    struct event *deadline;     /* armed while database work is in flight */
    void (*db_done)(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n);
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

/* Tells the HTTP-parser error path the configured header limit (to tell 431 from 413). */
void api_set_header_limit(size_t bytes);

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

/* The OpenAPI document embedded at build time (openapi.c). */
extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

#endif
