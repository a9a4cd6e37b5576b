/*
 * db: asynchronous libpq pool on libevent. See db.h for the contract.
 *
 * Pitfalls handled here (STYLE.md): connections are non-blocking; PQflush returning 1 waits
 * for write while the persistent read event keeps consuming input; PQsocket is re-read after
 * every PQconnectPoll step; each job ends with one PQpipelineSync, so an error aborts only that
 * job; results are read only while our own FIFO of in-flight jobs is non-empty (PQgetResult on
 * an idle pipeline would never end); notifications are drained after every PQconsumeInput.
 *
 * Sending never happens inside a callback: db_submit queues the job and activates a deferred
 * "kick" event, so a completion callback that submits new work cannot re-enter a connection
 * that is in the middle of reading results.
 */
#include "daemon/db.h"
#include "daemon/limits.h"
#include "daemon/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>

/* Jobs one connection may have in flight; more would add head-of-line waiting, not speed. */
#define DB_PIPELINE_DEPTH 8

enum query_kind {
    Q_PREPARED, /* PQsendQueryPrepared(stmt, params) */
    Q_PREPARE,  /* PQsendPrepare(stmt, sql): connection set-up */
    Q_EXEC,     /* PQsendQueryParams(sql) with no parameters: connection set-up */
};

struct db_query {
    enum query_kind kind;
    const char *name; /* borrowed: statement name (Q_PREPARED, Q_PREPARE) */
    const char *sql;  /* borrowed: SQL text (Q_PREPARE, Q_EXEC) */
    int nparams;
    char **params;    /* owned copies; NULL entries are SQL NULL */
};

struct db_job {
    db_done_fn done;
    void *arg;
    struct db_query *q;
    int nq, capq;
    PGresult **results; /* nq entries once sent */
    int cur;            /* query whose results are arriving */
    bool got_result;    /* a result for q[cur] has arrived (its NULL terminator has not) */
    bool cancelled;
    struct db_job *next;
};

/* Connection states. */
enum dbc_state {
    DBC_DOWN,       /* no connection; the timer reconnects after the backoff. Next: CONNECTING */
    DBC_CONNECTING, /* PQconnectPoll in progress, bounded by a timer. Next: SETUP or DOWN */
    DBC_SETUP,      /* pipeline mode on; set-up statements and prepares in flight. Next: READY or DOWN */
    DBC_READY,      /* takes jobs (up to DB_PIPELINE_DEPTH in flight). Next: DOWN on loss */
};

struct db_conn {
    struct db_pool *pool;
    int id;
    enum dbc_state state;
    PGconn *pg;
    struct event *ev_io;    /* connecting: one-shot read or write; ready: persistent read */
    struct event *ev_write; /* one-shot, armed while PQflush has output pending */
    struct event *ev_timer; /* reconnect backoff, or connect timeout */
    struct db_job *head, *tail;
    int inflight;
    unsigned backoff_ms;
    unsigned failures; /* consecutive failed attempts, to keep logs quiet in an outage */
};

struct db_pool {
    struct event_base *base;
    char *conninfo;
    const struct db_stmt *stmts;
    size_t nstmts;
    char **setup_sql;
    size_t nsetup;
    struct db_conn *conns;
    int nconns;
    struct db_job *qhead, *qtail;
    size_t queued, queue_max;
    struct event *kick;
    db_notify_fn notify_fn;
    void *notify_arg;
    unsigned long long jobs_done, jobs_failed, reconnects;
    bool closing; /* db_pool_free is running: losses are expected, not news */
};

static void conn_connect(struct db_conn *c);
static void conn_lost(struct db_conn *c, const char *why);
static void pool_dispatch(struct db_pool *p);

/* ---- jobs ---- */

struct db_job *db_job_new(db_done_fn done, void *arg)
{
    struct db_job *j = xcalloc(1, sizeof *j);
    j->done = done;
    j->arg = arg;
    return j;
}

static struct db_query *job_push(struct db_job *j)
{
    if (j->nq == j->capq) {
        j->capq = j->capq ? j->capq * 2 : 2;
        j->q = xrealloc(j->q, (size_t)j->capq * sizeof *j->q);
    }
    struct db_query *q = &j->q[j->nq++];
    memset(q, 0, sizeof *q);
    return q;
}

void db_job_add(struct db_job *j, const char *stmt_name, int nparams, const char *const *params)
{
    struct db_query *q = job_push(j);
    q->kind = Q_PREPARED;
    q->name = stmt_name;
    q->nparams = nparams;
    if (nparams > 0) {
        q->params = xcalloc((size_t)nparams, sizeof *q->params);
        for (int i = 0; i < nparams; i++)
            q->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    }
}

static void job_free(struct db_job *j)
{
    for (int i = 0; i < j->nq; i++) {
        for (int k = 0; k < j->q[i].nparams; k++)
            free(j->q[i].params[k]);
        free(j->q[i].params);
        if (j->results && j->results[i])
            PQclear(j->results[i]);
    }
    free(j->q);
    free(j->results);
    free(j);
}

/* Runs the callback (unless cancelled) and frees the job. */
static void job_finish(struct db_pool *p, struct db_job *j, enum db_status st)
{
    if (st == DB_OK)
        p->jobs_done++;
    else
        p->jobs_failed++;
    if (!j->cancelled && j->done) {
        static PGresult *const none[1];
        j->done(j->arg, st, j->results ? j->results : none, j->nq);
    }
    job_free(j);
}

void db_job_cancel(struct db_job *j)
{
    j->cancelled = true;
}

/* ---- pool queue ---- */

static void queue_push(struct db_pool *p, struct db_job *j)
{
    j->next = NULL;
    if (p->qtail)
        p->qtail->next = j;
    else
        p->qhead = j;
    p->qtail = j;
    p->queued++;
}

static struct db_job *queue_pop(struct db_pool *p)
{
    struct db_job *j = p->qhead;
    if (j) {
        p->qhead = j->next;
        if (!p->qhead)
            p->qtail = NULL;
        p->queued--;
        j->next = NULL;
    }
    return j;
}

bool db_pool_available(const struct db_pool *p)
{
    for (int i = 0; i < p->nconns; i++)
        if (p->conns[i].state == DBC_READY)
            return true;
    return false;
}

static bool stmt_known(const struct db_pool *p, const char *name)
{
    for (size_t i = 0; i < p->nstmts; i++)
        if (strcmp(p->stmts[i].name, name) == 0)
            return true;
    return false;
}

enum db_status db_submit(struct db_pool *p, struct db_job *j)
{
    for (int i = 0; i < j->nq; i++)
        if (j->q[i].kind == Q_PREPARED && !stmt_known(p, j->q[i].name)) {
            log_kv(LOG_ERROR, "unknown prepared statement", "stmt", j->q[i].name, (char *)NULL);
            abort(); /* a programming error, caught by any test that reaches it */
        }
    if (!db_pool_available(p)) {
        job_free(j);
        p->jobs_failed++;
        return DB_UNAVAILABLE;
    }
    if (p->queued >= p->queue_max) {
        job_free(j);
        p->jobs_failed++;
        return DB_OVERLOADED;
    }
    queue_push(p, j);
    event_active(p->kick, EV_TIMEOUT, 0);
    return DB_OK;
}

/* Fails every queued job when no connection can serve it any more. */
static void fail_queue_if_down(struct db_pool *p)
{
    if (db_pool_available(p))
        return;
    struct db_job *j;
    while ((j = queue_pop(p)) != NULL)
        job_finish(p, j, DB_UNAVAILABLE);
}

/* ---- connection I/O ---- */

static void conn_free_events(struct db_conn *c)
{
    if (c->ev_io) {
        event_free(c->ev_io);
        c->ev_io = NULL;
    }
    if (c->ev_write) {
        event_free(c->ev_write);
        c->ev_write = NULL;
    }
}

static void conn_flush(struct db_conn *c)
{
    int r = PQflush(c->pg);
    if (r < 0)
        conn_lost(c, PQerrorMessage(c->pg));
    else if (r == 1)
        event_add(c->ev_write, NULL);
}

/* Sends one job's statements and its sync; the job joins the connection's in-flight FIFO. */
static bool conn_send(struct db_conn *c, struct db_job *j)
{
    j->results = xcalloc((size_t)(j->nq ? j->nq : 1), sizeof *j->results);
    j->next = NULL;
    if (c->tail)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    c->inflight++;
    for (int i = 0; i < j->nq; i++) {
        struct db_query *q = &j->q[i];
        int ok;
        switch (q->kind) {
        case Q_PREPARE:
            ok = PQsendPrepare(c->pg, q->name, q->sql, 0, NULL);
            break;
        case Q_EXEC:
            ok = PQsendQueryParams(c->pg, q->sql, 0, NULL, NULL, NULL, NULL, 0);
            break;
        default:
            ok = PQsendQueryPrepared(c->pg, q->name, q->nparams, (const char *const *)q->params,
                                     NULL, NULL, 0);
        }
        if (!ok)
            return false;
    }
    return PQpipelineSync(c->pg) == 1;
}

static void conn_drain_notifies(struct db_conn *c)
{
    PGnotify *n;
    while ((n = PQnotifies(c->pg)) != NULL) {
        if (c->pool->notify_fn)
            c->pool->notify_fn(c->pool->notify_arg, n->relname, n->extra);
        PQfreemem(n);
    }
}

static bool result_ok(const PGresult *r)
{
    if (!r)
        return false;
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* Pops the head job (its sync arrived) and completes it. */
static void conn_complete_head(struct db_conn *c)
{
    struct db_job *j = c->head;
    c->head = j->next;
    if (!c->head)
        c->tail = NULL;
    c->inflight--;
    enum db_status st = DB_OK;
    for (int i = 0; i < j->nq; i++)
        if (!result_ok(j->results[i]))
            st = DB_FAILED;
    job_finish(c->pool, j, st);
}

/* Reads every complete result, routing each to the head job. */
static void conn_read_results(struct db_conn *c)
{
    while (c->head && c->pg && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        struct db_job *j = c->head;
        if (!r) {
            if (j->got_result) {
                j->cur++;
                j->got_result = false;
            }
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            conn_complete_head(c);
            continue;
        }
        if (j->cur < j->nq && !j->got_result) {
            j->results[j->cur] = r;
            j->got_result = true;
        } else {
            PQclear(r);
        }
        if (PQstatus(c->pg) == CONNECTION_BAD)
            break;
    }
}

static void on_ready_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct db_conn *c = arg;
    if (!PQconsumeInput(c->pg)) {
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    conn_drain_notifies(c);
    conn_read_results(c);
    if (c->state == DBC_DOWN)
        return; /* a callback's work broke it */
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    conn_flush(c);
    if (c->state == DBC_READY)
        pool_dispatch(c->pool);
}

static void on_ready_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct db_conn *c = arg;
    conn_flush(c);
}

/* ---- connection life ---- */

static void setup_done(void *arg, enum db_status st, PGresult *const *res, int n)
{
    struct db_conn *c = arg;
    if (st != DB_OK) {
        const char *why = "set-up failed";
        for (int i = 0; i < n; i++)
            if (res[i] && !result_ok(res[i])) {
                why = PQresultErrorMessage(res[i]);
                size_t k = (size_t)i;
                if (k >= c->pool->nsetup && k - c->pool->nsetup < c->pool->nstmts)
                    log_kv(LOG_ERROR, "a prepared statement does not prepare", "stmt",
                           c->pool->stmts[k - c->pool->nsetup].name, "error", why, (char *)NULL);
                const char *state = PQresultErrorField(res[i], PG_DIAG_SQLSTATE);
                if (state && (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0 ||
                              strcmp(state, "42883") == 0))
                    log_kv(LOG_ERROR,
                           "the database schema is older than this aqpd: run `aqpd migrate`",
                           "error", why, (char *)NULL);
                break;
            }
        conn_lost(c, why);
        return;
    }
    c->state = DBC_READY;
    c->backoff_ms = 0;
    log_kv(c->failures ? LOG_INFO : LOG_DEBUG,
           c->failures ? "database connection restored" : "database connection ready",
           (char *)NULL);
    c->failures = 0;
    event_active(c->pool->kick, EV_TIMEOUT, 0);
}

static void conn_on_connected(struct db_conn *c)
{
    event_del(c->ev_timer);
    conn_free_events(c);
    if (PQenterPipelineMode(c->pg) != 1) {
        conn_lost(c, "cannot enter pipeline mode");
        return;
    }
    int fd = PQsocket(c->pg);
    struct event_base *base = c->pool->base;
    c->ev_io = event_new(base, fd, EV_READ | EV_PERSIST, on_ready_read, c);
    c->ev_write = event_new(base, fd, EV_WRITE, on_ready_write, c);
    event_add(c->ev_io, NULL);
    c->state = DBC_SETUP;

    struct db_pool *p = c->pool;
    struct db_job *j = db_job_new(setup_done, c);
    for (size_t i = 0; i < p->nsetup; i++) {
        struct db_query *q = job_push(j);
        q->kind = Q_EXEC;
        q->sql = p->setup_sql[i];
    }
    for (size_t i = 0; i < p->nstmts; i++) {
        struct db_query *q = job_push(j);
        q->kind = Q_PREPARE;
        q->name = p->stmts[i].name;
        q->sql = p->stmts[i].sql;
    }
    if (!conn_send(c, j)) {
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    conn_flush(c);
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg);

static void conn_connect_wait(struct db_conn *c, PostgresPollingStatusType want)
{
    conn_free_events(c);
    short ev = want == PGRES_POLLING_READING ? EV_READ : EV_WRITE;
    c->ev_io = event_new(c->pool->base, PQsocket(c->pg), ev, on_connect_io, c);
    event_add(c->ev_io, NULL);
}

static void conn_connect_step(struct db_conn *c)
{
    PostgresPollingStatusType r = PQconnectPoll(c->pg);
    switch (r) {
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        conn_connect_wait(c, r);
        break;
    case PGRES_POLLING_OK:
        conn_on_connected(c);
        break;
    default:
        conn_lost(c, PQerrorMessage(c->pg));
    }
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    conn_connect_step(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct db_conn *c = arg;
    if (c->state == DBC_DOWN)
        conn_connect(c);
    else if (c->state == DBC_CONNECTING || c->state == DBC_SETUP)
        conn_lost(c, "connection attempt timed out");
}

static void conn_connect(struct db_conn *c)
{
    c->pg = PQconnectStart(c->pool->conninfo);
    if (!c->pg)
        abort(); /* out of memory */
    c->state = DBC_CONNECTING;
    struct timeval tv = {LIMIT_DB_CONNECT_TIMEOUT_S, 0};
    event_add(c->ev_timer, &tv);
    if (PQstatus(c->pg) == CONNECTION_BAD || PQsetnonblocking(c->pg, 1) != 0) {
        conn_lost(c, PQerrorMessage(c->pg));
        return;
    }
    /* After PQconnectStart, act as if PQconnectPoll had returned PGRES_POLLING_WRITING. */
    conn_connect_wait(c, PGRES_POLLING_WRITING);
}

/*
 * The connection is unusable: close it, fail what it carried, schedule a reconnect. Safe to
 * call from any state; callbacks of failed jobs run after the state is already DOWN.
 */
static void conn_lost(struct db_conn *c, const char *why)
{
    if (c->state == DBC_DOWN)
        return;
    bool was_ready = c->state == DBC_READY;
    c->state = DBC_DOWN;
    conn_free_events(c);
    event_del(c->ev_timer);

    char reason[512];
    snprintf(reason, sizeof reason, "%s", why && *why ? why : "unknown");
    size_t rl = strlen(reason);
    while (rl > 0 && (reason[rl - 1] == '\n' || reason[rl - 1] == ' '))
        reason[--rl] = '\0';
    if (c->pool->closing)
        ;
    else if (c->failures++ == 0 || was_ready)
        log_kv(LOG_WARN, "database connection lost", "reason", reason, (char *)NULL);
    else
        log_kv(LOG_DEBUG, "database connection attempt failed", "reason", reason, (char *)NULL);

    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    struct db_job *j = c->head;
    c->head = c->tail = NULL;
    c->inflight = 0;
    while (j) {
        struct db_job *next = j->next;
        job_finish(c->pool, j, DB_UNAVAILABLE);
        j = next;
    }
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : LIMIT_DB_BACKOFF_MIN_MS;
    if (c->backoff_ms > LIMIT_DB_BACKOFF_MAX_MS)
        c->backoff_ms = LIMIT_DB_BACKOFF_MAX_MS;
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    event_add(c->ev_timer, &tv);
    c->pool->reconnects++;
    fail_queue_if_down(c->pool);
}

/* ---- dispatch ---- */

static struct db_conn *least_loaded(struct db_pool *p)
{
    struct db_conn *best = NULL;
    for (int i = 0; i < p->nconns; i++) {
        struct db_conn *c = &p->conns[i];
        if (c->state == DBC_READY && c->inflight < DB_PIPELINE_DEPTH &&
            (!best || c->inflight < best->inflight))
            best = c;
    }
    return best;
}

static void pool_dispatch(struct db_pool *p)
{
    struct db_conn *touched[64];
    int ntouched = 0;
    while (p->qhead) {
        struct db_conn *c = least_loaded(p);
        if (!c)
            break;
        struct db_job *j = queue_pop(p);
        if (j->cancelled) {
            job_free(j);
            continue;
        }
        if (!conn_send(c, j)) {
            conn_lost(c, PQerrorMessage(c->pg)); /* fails j with the rest of c's jobs */
            continue;
        }
        bool seen = false;
        for (int i = 0; i < ntouched; i++)
            seen |= touched[i] == c;
        if (!seen && ntouched < 64)
            touched[ntouched++] = c;
    }
    for (int i = 0; i < ntouched; i++)
        if (touched[i]->state == DBC_READY)
            conn_flush(touched[i]);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    pool_dispatch(arg);
}

/* ---- pool ---- */

struct db_pool *db_pool_new(struct event_base *base, const char *conninfo, int size,
                            const struct db_stmt *stmts, size_t nstmts,
                            const char *const *setup_sql, size_t queue_max)
{
    struct db_pool *p = xcalloc(1, sizeof *p);
    p->base = base;
    p->conninfo = xstrdup(conninfo);
    p->stmts = stmts;
    p->nstmts = nstmts;
    for (const char *const *s = setup_sql; s && *s; s++)
        p->nsetup++;
    p->setup_sql = xcalloc(p->nsetup + 1, sizeof *p->setup_sql);
    for (size_t i = 0; i < p->nsetup; i++)
        p->setup_sql[i] = xstrdup(setup_sql[i]);
    p->queue_max = queue_max;
    p->kick = event_new(base, -1, 0, on_kick, p);
    p->nconns = size;
    p->conns = xcalloc((size_t)size, sizeof *p->conns);
    for (int i = 0; i < size; i++) {
        struct db_conn *c = &p->conns[i];
        c->pool = p;
        c->id = i;
        c->state = DBC_DOWN;
        c->ev_timer = evtimer_new(base, on_timer, c);
        conn_connect(c);
    }
    return p;
}

void db_pool_set_notify(struct db_pool *p, db_notify_fn fn, void *arg)
{
    p->notify_fn = fn;
    p->notify_arg = arg;
}

void db_pool_free(struct db_pool *p)
{
    if (!p)
        return;
    p->closing = true;
    for (int i = 0; i < p->nconns; i++) {
        struct db_conn *c = &p->conns[i];
        conn_lost(c, "pool closed");
        event_free(c->ev_timer);
    }
    struct db_job *j;
    while ((j = queue_pop(p)) != NULL)
        job_finish(p, j, DB_UNAVAILABLE);
    event_free(p->kick);
    for (size_t i = 0; i < p->nsetup; i++)
        free(p->setup_sql[i]);
    free(p->setup_sql);
    free(p->conns);
    free(p->conninfo);
    free(p);
}

void db_pool_stats(const struct db_pool *p, struct db_stats *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < p->nconns; i++) {
        const struct db_conn *c = &p->conns[i];
        switch (c->state) {
        case DBC_READY:
            if (c->inflight)
                o->busy++;
            else
                o->idle++;
            break;
        case DBC_CONNECTING:
        case DBC_SETUP:
            o->connecting++;
            break;
        default:
            o->broken++;
        }
    }
    o->queued = p->queued;
    o->jobs_done = p->jobs_done;
    o->jobs_failed = p->jobs_failed;
    o->reconnects = p->reconnects;
}
