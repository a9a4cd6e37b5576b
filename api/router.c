/*
 * router: request life in the API layer: matching against the route table, the per-request
 * context, deadlines, replies, problem errors, access logs and metrics. See api.h.
 *
 * It also supplies evhttp_send_error. libevent 2.1 answers some requests itself (a body over
 * the limit, oversized headers, a malformed request line) through evhttp_send_error, which
 * writes an HTML page and has no hook. libevent calls that function through its PLT, so the
 * definition here takes its place and those answers are problem+json like every other error.
 * tests/integration checks the 413 this produces.
 */
#include "api/api.h"
#include "api/body.h"
#include "api/problem.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "OTHER";
}

/* ---- matching ---- */

/* Compares one pattern against a path; captures {name} segments (percent-decoded). */
static bool pattern_match(const char *pat, const char *path, char **params, int *nparams)
{
    int n = 0;
    const char *p = pat, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            goto fail;
        p++, s++;
        const char *pe = strchr(p, '/');
        const char *se = strchr(s, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        size_t sl = se ? (size_t)(se - s) : strlen(s);
        if (pl > 1 && p[0] == '{' && p[pl - 1] == '}') {
            if (sl == 0 || n >= LIMIT_ROUTE_PARAMS)
                goto fail;
            if (params) {
                char *raw = xstrndup(s, sl);
                size_t dl = 0;
                char *dec = evhttp_uridecode(raw, 0, &dl);
                free(raw);
                if (!dec || strlen(dec) != dl) { /* NUL inside: never a valid identifier */
                    free(dec);
                    goto fail;
                }
                params[n] = dec;
            }
            n++;
        } else if (pl != sl || memcmp(p, s, pl) != 0) {
            goto fail;
        }
        p += pl, s += sl;
    }
    if (*p || *s)
        goto fail;
    if (nparams)
        *nparams = n;
    return true;
fail:
    if (params)
        for (int i = 0; i < n; i++) {
            free(params[i]);
            params[i] = NULL;
        }
    return false;
}

const struct api_route *api_route_match(const char *method, const char *path, char **params,
                                        int *nparams, bool *path_matched)
{
    *path_matched = false;
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    for (size_t i = 0; i < api_nroutes; i++) {
        const struct api_route *r = &api_routes[i];
        if (strcmp(r->method, method) == 0) {
            if (pattern_match(r->pattern, path, params, nparams)) {
                *path_matched = true;
                return r;
            }
        } else if (!*path_matched && pattern_match(r->pattern, path, NULL, NULL)) {
            *path_matched = true;
        }
    }
    return NULL;
}

void api_allowed_methods(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < api_nroutes; i++) {
        const struct api_route *r = &api_routes[i];
        if (!pattern_match(r->pattern, path, NULL, NULL))
            continue;
        const char *m[2] = {r->method, strcmp(r->method, "GET") == 0 ? "HEAD" : NULL};
        for (int k = 0; k < 2 && m[k]; k++) {
            if (strstr(buf, m[k]))
                continue;
            int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", m[k]);
            if (w < 0 || (size_t)w >= len - used)
                return;
            used += (size_t)w;
        }
    }
}

const char *api_query(struct api_ctx *ctx, const char *name)
{
    if (!ctx->query) {
        ctx->query = xcalloc(1, sizeof *ctx->query);
        const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(ctx->req);
        const char *q = u ? evhttp_uri_get_query(u) : NULL;
        if (evhttp_parse_query_str(q ? q : "", ctx->query) != 0)
            evhttp_clear_headers(ctx->query); /* malformed: as if empty */
    }
    return evhttp_find_header(ctx->query, name);
}

bool api_page(struct api_ctx *ctx, char limit_text[8], const char **cursor)
{
    const char *l = api_query(ctx, "limit");
    uint64_t n = LIMIT_PAGE_DEFAULT;
    if (l && !util_parse_u64(l, 1, LIMIT_PAGE_MAX, &n)) {
        api_problem(ctx, 400, "invalid_parameter", "limit must be an integer from 1 to %d",
                    LIMIT_PAGE_MAX);
        return false;
    }
    snprintf(limit_text, 8, "%u", (unsigned)n);
    *cursor = api_query(ctx, "cursor");
    if (*cursor && !api_is_uuid(*cursor)) {
        api_problem(ctx, 400, "invalid_parameter", "cursor is not one this API gave out");
        return false;
    }
    return true;
}

void api_actor(const struct api_ctx *ctx, char *buf, size_t len)
{
    if (ctx->who.role)
        snprintf(buf, len, "key:%lld", ctx->who.key_id);
    else
        snprintf(buf, len, "public:%s", api_peer(ctx));
}

const char *api_param(const struct api_ctx *ctx, int i)
{
    return i < ctx->nparams ? ctx->params[i] : NULL;
}

/* ---- replies ---- */

static void stream_free(struct api_stream *st);

static void ctx_free(struct api_ctx *ctx)
{
    if (ctx->stream)
        stream_free(ctx->stream);
    if (ctx->query) {
        evhttp_clear_headers(ctx->query);
        free(ctx->query);
    }
    if (ctx->state && ctx->state_free)
        ctx->state_free(ctx->state);
    if (ctx->deadline)
        event_free(ctx->deadline);
    for (int i = 0; i < ctx->nparams; i++)
        free(ctx->params[i]);
    free(ctx->path);
    free(ctx);
}

static void add_common_headers(struct evkeyvalq *h, const char *content_type, const char *rid,
                               bool closing)
{
    if (content_type)
        evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
    if (!evhttp_find_header(h, "Cache-Control"))
        evhttp_add_header(h, "Cache-Control", "no-store");
    if (rid)
        evhttp_add_header(h, "X-Request-Id", rid);
    if (closing)
        evhttp_add_header(h, "Connection", "close");
}

/* Public reads may be made from any web page (the directory is public data). */
static void add_cors(struct api_ctx *ctx)
{
    if (ctx->route && ctx->route->roles == 0 && strcmp(ctx->route->method, "GET") == 0)
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req),
                          "Access-Control-Allow-Origin", "*");
}

static void finish_request(struct api_ctx *ctx, int status);

void api_reply(struct api_ctx *ctx, int status, struct evbuffer *body, const char *content_type)
{
    if (ctx->replied)
        abort(); /* answered twice: a bug that must not pass silently */
    ctx->replied = true;
    if (ctx->job) {
        db_job_cancel(ctx->job);
        ctx->job = NULL;
    }
    struct srv *s = ctx->srv;
    add_cors(ctx);
    add_common_headers(evhttp_request_get_output_headers(ctx->req), content_type,
                       ctx->request_id, s->stopping);
    const char *phrase = status >= 400   ? problem_title(status)
                         : status == 201 ? "Created"
                         : status == 304 ? "Not Modified"
                                         : "OK";
    srv_reply_started(s, ctx->req);
    evhttp_send_reply(ctx->req, status, phrase, body);
    if (body)
        evbuffer_free(body);
    finish_request(ctx, status);
}

/* Logs and counts an answered request and frees it. */
static void finish_request(struct api_ctx *ctx, int status)
{
    struct srv *s = ctx->srv;
    uint64_t dur = util_now_ns() - ctx->start_ns;
    const char *route = ctx->route ? ctx->route->pattern : "unmatched";
    metrics_request(route, ctx->method, status, dur);
    if (log_enabled(LOG_INFO)) {
        char st[8], ms[32];
        snprintf(st, sizeof st, "%d", status);
        snprintf(ms, sizeof ms, "%.3f", (double)dur / 1e6);
        log_kv(status >= 500 ? LOG_WARN : LOG_INFO, "request", "request_id", ctx->request_id,
               "method", ctx->method, "route", route, "path", ctx->path, "status#", st,
               "duration_ms#", ms, (char *)NULL);
    }
    ctx_free(ctx);
    srv_request_done(s);
}

void api_reply_json(struct api_ctx *ctx, int status, struct evbuffer *body)
{
    api_reply(ctx, status, body, "application/json");
}

void api_problem(struct api_ctx *ctx, int status, const char *code, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    struct evbuffer *b = evbuffer_new();
    problem_write(b, status, code, detail, ctx->path);
    api_reply(ctx, status, b, PROBLEM_CONTENT_TYPE);
}

void api_problem_db(struct api_ctx *ctx, enum db_status st)
{
    char ra[16];
    snprintf(ra, sizeof ra, "%d", LIMIT_RETRY_AFTER_S);
    if (st != DB_FAILED)
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", ra);
    if (st == DB_OVERLOADED)
        api_problem(ctx, 503, "overloaded", "too many requests are waiting for the database");
    else if (st == DB_FAILED)
        api_problem(ctx, 500, "database_error", "a database statement failed");
    else
        api_problem(ctx, 503, "database_unavailable", "the database is unavailable; retry shortly");
}

void api_reply_sql_json(struct api_ctx *ctx, int status, const PGresult *r, int col)
{
    struct evbuffer *b = evbuffer_new();
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, col))
        evbuffer_add(b, PQgetvalue(r, 0, col), (size_t)PQgetlength(r, 0, col));
    else
        evbuffer_add(b, "null", 4);
    api_reply_json(ctx, status, b);
}

void api_problem_sql(struct api_ctx *ctx, PGresult *const *res, int n)
{
    const PGresult *bad = NULL;
    for (int i = 0; i < n && !bad; i++)
        if (res[i] && PQresultStatus(res[i]) == PGRES_FATAL_ERROR)
            bad = res[i];
    const char *state = bad ? PQresultErrorField(bad, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = bad ? PQresultErrorField(bad, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *msg = bad ? PQresultErrorField(bad, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (state && strcmp(state, "23505") == 0) {
        api_problem(ctx, 409, "conflict", "this already exists (%s)", constraint ? constraint : "unique");
    } else if (state && strcmp(state, "23503") == 0) {
        api_problem(ctx, 422, "unknown_reference", "a referenced object does not exist (%s)",
                    constraint ? constraint : "foreign key");
    } else if (state && (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0)) {
        api_problem(ctx, 422, "constraint_violation", "a value is not allowed (%s)",
                    constraint ? constraint : msg ? msg : "check");
    } else if (state && (strncmp(state, "22", 2) == 0)) {
        api_problem(ctx, 400, "invalid_value", "a value is not valid: %s", msg ? msg : state);
    } else {
        log_kv(LOG_ERROR, "database statement failed", "request_id", ctx->request_id, "sqlstate",
               state, "error", msg ? msg : "no result", (char *)NULL);
        api_problem(ctx, 500, "internal_error", "the request failed; the error has been logged");
    }
}

bool api_db_ok(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (st == DB_OK)
        return true;
    if (st == DB_FAILED)
        api_problem_sql(ctx, res, n);
    else
        api_problem_db(ctx, st);
    return false;
}

void api_list_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    if (api_db_ok(ctx, st, res, n))
        api_reply_sql_json(ctx, 200, res[0], 0);
}

const char *api_peer(const struct api_ctx *ctx)
{
    struct evhttp_connection *c = evhttp_request_get_connection(ctx->req);
    char *addr = NULL;
    ev_uint16_t port = 0;
    if (c)
        evhttp_connection_get_peer(c, &addr, &port);
    return addr ? addr : "unknown";
}

/* ---- database work ---- */

static void job_done(void *arg, enum db_status st, PGresult *const *res, int n)
{
    struct api_ctx *ctx = arg;
    ctx->job = NULL;
    event_del(ctx->deadline);
    ctx->db_done(ctx, st, res, n);
}

/* How long the request may take, database included. */
static uint64_t timeout_ms(const struct api_ctx *ctx)
{
    return ctx->timeout_ms ? ctx->timeout_ms : ctx->srv->cfg.request_timeout_ms;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct api_ctx *ctx = arg;
    char ra[16];
    snprintf(ra, sizeof ra, "%d", LIMIT_RETRY_AFTER_S);
    evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", ra);
    api_problem(ctx, 503, "timeout", "the request took longer than %llu ms",
                (unsigned long long)timeout_ms(ctx));
}

void api_db(struct api_ctx *ctx, struct db_job *job,
            void (*done)(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n))
{
    ctx->db_done = done;
    enum db_status st = db_submit(ctx->srv->pool, job);
    if (st != DB_OK) {
        api_problem_db(ctx, st);
        return;
    }
    ctx->job = job;
    if (!ctx->deadline)
        ctx->deadline = evtimer_new(ctx->srv->base, on_deadline, ctx);
    uint64_t ms = timeout_ms(ctx);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(ctx->deadline, &tv);
}

struct db_job *api_job_new(struct api_ctx *ctx)
{
    return db_job_new(job_done, ctx);
}

/* ---- authentication ---- */

static void run_handler(struct api_ctx *ctx)
{
    if (ctx->route->roles && !(ctx->route->roles & ctx->who.role)) {
        api_problem(ctx, 403, "forbidden", "a %s key may not do this",
                    auth_role_name(ctx->who.role));
        return;
    }
    ctx->route->handler(ctx);
}

static void auth_done(struct api_ctx *ctx, enum db_status st, PGresult *const *res, int n)
{
    (void)n;
    if (st != DB_OK) {
        api_problem_db(ctx, st == DB_FAILED ? DB_UNAVAILABLE : st);
        return;
    }
    const PGresult *r = res[0];
    if (PQntuples(r) != 1) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "WWW-Authenticate",
                          "Bearer error=\"invalid_token\"");
        api_problem(ctx, 401, "unauthenticated", "the API key is unknown or revoked");
        return;
    }
    ctx->who.key_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    if (!auth_role_parse(PQgetvalue(r, 0, 1), &ctx->who.role))
        ctx->who.role = 0;
    snprintf(ctx->who.organisation, sizeof ctx->who.organisation, "%s", PQgetvalue(r, 0, 2));
    snprintf(ctx->who.commissioner, sizeof ctx->who.commissioner, "%s", PQgetvalue(r, 0, 3));
    auth_cache_put(ctx->key_hash, util_now_ns() / 1000000000u, &ctx->who);
    run_handler(ctx);
}

/* Authenticates (one lookup by key hash) and then runs the handler. */
static void authenticate(struct api_ctx *ctx)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Authorization");
    unsigned char hash[32];
    if (!auth_parse_bearer(h, hash)) {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "WWW-Authenticate",
                          "Bearer");
        api_problem(ctx, 401, "unauthenticated",
                    h ? "the Authorization header is not \"Bearer <API key>\""
                      : "this needs an API key: Authorization: Bearer <key>");
        return;
    }
    memcpy(ctx->key_hash, hash, sizeof hash);
    if (auth_cache_get(hash, util_now_ns() / 1000000000u, &ctx->who)) {
        run_handler(ctx);
        return;
    }
    char hex[65];
    auth_hex(hash, hex);
    const char *params[1] = {hex};
    struct db_job *j = api_job_new(ctx);
    db_job_add(j, "auth_key", 1, params);
    api_db(ctx, j, auth_done);
}

/* ---- dispatch ---- */

static void make_request_id(struct srv *s, struct evhttp_request *req, char *out, size_t len)
{
    const char *in = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
    if (in) {
        size_t l = strlen(in);
        if (l >= 1 && l < len && l <= 64 &&
            strspn(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == l) {
            memcpy(out, in, l + 1);
            return;
        }
    }
    snprintf(out, len, "%08x-%llx", s->id_prefix, (unsigned long long)++s->request_seq);
}

void api_dispatch(struct srv *s, struct evhttp_request *req)
{
    struct api_ctx *ctx = xcalloc(1, sizeof *ctx);
    ctx->req = req;
    ctx->srv = s;
    ctx->start_ns = util_now_ns();
    ctx->method = method_name(evhttp_request_get_command(req));
    s->inflight++;
    make_request_id(s, req, ctx->request_id, sizeof ctx->request_id);

    const char *uri = evhttp_request_get_uri(req);
    if (strlen(uri) > LIMIT_URI_BYTES) {
        ctx->path = xstrdup("");
        api_problem(ctx, 414, "uri_too_long", "the request URI is longer than %d bytes",
                    LIMIT_URI_BYTES);
        return;
    }
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    ctx->path = xstrdup(path && *path ? path : "/");

    bool path_matched;
    ctx->route = api_route_match(ctx->method, ctx->path, ctx->params, &ctx->nparams, &path_matched);
    if (!ctx->route) {
        if (path_matched) {
            char allow[128];
            api_allowed_methods(ctx->path, allow, sizeof allow);
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
            api_problem(ctx, 405, "method_not_allowed", "%s is not allowed here; allowed: %s",
                        ctx->method, allow);
        } else {
            api_problem(ctx, 404, "not_found", "no such resource");
        }
        return;
    }
    if (ctx->route->roles)
        authenticate(ctx);
    else
        ctx->route->handler(ctx);
}

/* ---- libevent's own error replies (see the file comment) ---- */

static size_t max_header_bytes_seen = LIMIT_MAX_HEADER_BYTES;

void api_set_header_limit(size_t bytes)
{
    max_header_bytes_seen = bytes;
}

void evhttp_send_error(struct evhttp_request *req, int error, const char *reason)
{
    (void)reason;
    int status = error;
    const char *code = "bad_request";
    const char *detail = "the request could not be parsed";
    if (error == 413 && req->headers_size > max_header_bytes_seen) {
        status = 431;
        code = "headers_too_large";
        detail = "the request headers are larger than the limit";
    } else if (error == 413) {
        code = "body_too_large";
        detail = "the request body is larger than the limit";
    } else if (error == 501 || error == 405) {
        status = 501;
        code = "method_not_implemented";
        detail = "this method is not implemented";
    } else if (error != 400) {
        code = "http_error";
    }
    if (req->major == 0) {
        req->major = 1;
        req->minor = 1;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_clear_headers(h);
    add_common_headers(h, PROBLEM_CONTENT_TYPE, NULL, true);
    struct evbuffer *b = evbuffer_new();
    problem_write(b, status, code, detail, NULL);
    evhttp_send_reply(req, status, problem_title(status), b);
    evbuffer_free(b);
    metrics_request("unparsed", "OTHER", status, 0);
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    log_kv(LOG_INFO, "request rejected by the HTTP parser", "code", code, "status#", st,
           (char *)NULL);
}

/* ---- public reads: ETag ---- */

bool api_etag(struct api_ctx *ctx, const char *version)
{
    /* FNV-1a of the URI: the same publication answers different queries differently. */
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)evhttp_request_get_uri(ctx->req); *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    char tag[128];
    snprintf(tag, sizeof tag, "\"%.32s-%016llx\"", version, (unsigned long long)h);
    struct evkeyvalq *out = evhttp_request_get_output_headers(ctx->req);
    evhttp_add_header(out, "ETag", tag);
    evhttp_add_header(out, "Cache-Control", "no-cache");
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "If-None-Match");
    if (!inm)
        return false;
    /* A list of tags, possibly weak (W/"..."): weak comparison, as RFC 9110 says for GET. */
    bool match = strcmp(inm, "*") == 0 || strstr(inm, tag) != NULL;
    if (match)
        api_reply(ctx, 304, NULL, NULL);
    return match;
}

/* ---- streamed replies ---- */

/* A stream's life (api_stream in api.h). */
struct api_stream {
    struct api_ctx *ctx;
    const struct api_stream_ops *ops;
    void *st;
    void (*st_free)(void *);
    const char *ctype;      /* the Content-Type (static) */
    struct evbuffer *ready; /* the next batch's bytes, read and not yet sent, or NULL */
    struct db_job *job;     /* the batch being read, or NULL */
    struct evhttp_connection *conn; /* whose close callback is ours, or NULL */
    bool more;     /* batches remain to be read */
    bool writing;  /* a chunk was handed to the connection and has not drained yet */
    long long bytes;
};

static void stream_free(struct api_stream *st)
{
    if (st->job)
        db_job_cancel(st->job);
    if (st->conn)
        evhttp_connection_set_closecb(st->conn, NULL, NULL);
    if (st->ready)
        evbuffer_free(st->ready);
    if (st->st && st->st_free)
        st->st_free(st->st);
    free(st);
}

static void stream_pump(struct api_stream *st);

static void stream_read_done(void *arg, enum db_status status, PGresult *const *res, int n)
{
    struct api_stream *st = arg;
    struct api_ctx *ctx = st->ctx;
    st->job = NULL;
    int more = -1;
    if (status == DB_OK && n >= 1 && res[0]) {
        st->ready = evbuffer_new();
        more = st->ops->take(st->st, res[0], st->ready);
    }
    if (more < 0) {
        /* Mid-stream: no way to say so but to cut the transfer short. */
        log_kv(LOG_ERROR, "export stream failed; closing the connection", "request_id",
               ctx->request_id, "path", ctx->path, (char *)NULL);
        struct evhttp_connection *c = evhttp_request_get_connection(ctx->req);
        if (st->conn)
            evhttp_connection_set_closecb(st->conn, NULL, NULL);
        st->conn = NULL;
        ctx->req = NULL;
        if (c)
            evhttp_connection_free(c); /* frees the request with it */
        finish_request(ctx, 500);
        return;
    }
    st->more = more == 1;
    stream_pump(st);
}

static void stream_read_next(struct api_stream *st)
{
    st->job = db_job_new(stream_read_done, st);
    st->ops->next(st->st, st->job);
    enum db_status s = db_submit(st->ctx->srv->pool, st->job);
    if (s != DB_OK) { /* the job was freed */
        st->job = NULL;
        stream_read_done(st, s, NULL, 0);
    }
}

static void stream_drained(struct evhttp_connection *c, void *arg)
{
    (void)c;
    struct api_stream *st = arg;
    st->writing = false;
    stream_pump(st);
}

/* Sends what is ready when the connection has room, reads ahead, ends when all is sent. */
static void stream_pump(struct api_stream *st)
{
    struct api_ctx *ctx = st->ctx;
    if (st->ready && !st->writing) {
        size_t len = evbuffer_get_length(st->ready);
        if (len > 0) {
            st->writing = true;
            st->bytes += (long long)len;
            evhttp_send_reply_chunk_with_cb(ctx->req, st->ready, stream_drained, st);
        }
        evbuffer_free(st->ready);
        st->ready = NULL;
    }
    if (!st->ready && st->more && !st->job)
        stream_read_next(st);
    if (!st->ready && !st->more && !st->job && !st->writing) {
        if (st->conn)
            evhttp_connection_set_closecb(st->conn, NULL, NULL);
        st->conn = NULL;
        srv_reply_started(ctx->srv, ctx->req); /* the last chunk still has to be written */
        evhttp_send_reply_end(ctx->req);
        finish_request(ctx, 200);
    }
}

/* The client went away (or the server is freeing its connections) during the stream. */
static void stream_conn_closed(struct evhttp_connection *c, void *arg)
{
    (void)c;
    struct api_stream *st = arg;
    struct api_ctx *ctx = st->ctx;
    st->conn = NULL;
    /* On a failed connection libevent has detached the unfinished request, which is then
     * ours to free (evhttp_send_reply_end does that when it has no connection); otherwise
     * (the server shutting down) libevent frees it right after this call. */
    if (!evhttp_request_get_connection(ctx->req))
        evhttp_send_reply_end(ctx->req);
    ctx->req = NULL;
    finish_request(ctx, 499);
}

static void stream_first_done(struct api_ctx *ctx, enum db_status status, PGresult *const *res,
                              int n)
{
    if (!api_db_ok(ctx, status, res, n))
        return;
    struct api_stream *st = ctx->stream;
    int more = st->ops->take(st->st, res[0], st->ready);
    if (more < 0) {
        api_problem(ctx, 500, "internal_error", "the export failed; the error has been logged");
        return;
    }
    st->more = more == 1;
    if (!st->more || strcmp(ctx->method, "HEAD") == 0) {
        struct evbuffer *b = st->ready;
        st->ready = NULL;
        api_reply(ctx, 200, b, st->ctype);
        return;
    }
    /* Chunked from here: the request is answered; it ends in stream_pump or on close. */
    ctx->replied = true;
    struct evkeyvalq *h = evhttp_request_get_output_headers(ctx->req);
    add_cors(ctx);
    add_common_headers(h, st->ctype, ctx->request_id, ctx->srv->stopping);
    evhttp_send_reply_start(ctx->req, 200, "OK");
    st->conn = evhttp_request_get_connection(ctx->req);
    if (st->conn)
        evhttp_connection_set_closecb(st->conn, stream_conn_closed, st);
    stream_pump(st);
}

void api_stream(struct api_ctx *ctx, const char *content_type, struct evbuffer *head,
                const struct api_stream_ops *ops, void *state, void (*st_free)(void *))
{
    struct api_stream *st = xcalloc(1, sizeof *st);
    st->ctx = ctx;
    st->ops = ops;
    st->st = state;
    st->st_free = st_free;
    st->ready = head ? head : evbuffer_new();
    st->ctype = content_type;
    ctx->stream = st;
    struct db_job *j = api_job_new(ctx);
    ops->next(state, j);
    api_db(ctx, j, stream_first_done);
}
