/*
 * db: a pool of asynchronous libpq connections driven by the daemon's event loop.
 *
 * Work is submitted as a job: one or more prepared statements sent in pipeline mode and closed
 * by one sync, so a job is one round trip and one transaction (the server runs everything up to
 * a Sync as one implicit transaction): its statements commit or fail together, and a later
 * statement sees what an earlier one wrote. Jobs wait in a FIFO while no connection has room; each connection
 * pipelines up to DB_PIPELINE_DEPTH jobs and reads results in the order it sent them.
 *
 * Failure is explicit and fast: while no connection is usable, db_submit refuses at once
 * (DB_UNAVAILABLE), so callers answer 503 instead of hanging. A lost connection fails the jobs
 * it carried, is closed, and reconnects with exponential backoff; the process never exits
 * because the database went away.
 */
#ifndef AQPD_DB_H
#define AQPD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "daemon/util.h"

struct event_base;
struct db_pool;
struct db_job;

/* A statement every connection prepares on connect, under `name`. */
struct db_stmt {
    const char *name;
    const char *sql;
};

enum db_status {
    DB_OK,          /* every statement ran; results[i] is statement i's result */
    DB_UNAVAILABLE, /* no usable connection, or the connection broke mid-job */
    DB_OVERLOADED,  /* the wait queue is full */
    DB_FAILED,      /* a statement failed; see results for which (others are aborted) */
};

/*
 * Job completion. `results` holds one PGresult per statement added (NULL where none arrived);
 * they are borrowed: valid only during the callback. Never called for a cancelled job, and
 * never called from inside db_submit.
 */
typedef void (*db_done_fn)(void *arg, enum db_status status, PGresult *const *results, int n);

/* Notification from LISTEN, delivered from the event loop. Borrowed strings. */
typedef void (*db_notify_fn)(void *arg, const char *channel, const char *payload);

struct db_stats {
    int busy, idle, connecting, broken;
    size_t queued;
    unsigned long long jobs_done, jobs_failed, reconnects;
};

/*
 * Makes a pool of `size` connections to `conninfo` (URI or key=value) and starts connecting.
 * `stmts` (borrowed, must outlive the pool) are prepared on every connection. `setup_sql`, if
 * not NULL, is a list of parameterless statements run on each new connection before it serves
 * (session settings, LISTEN).
 */
struct db_pool *db_pool_new(struct event_base *base, const char *conninfo, int size,
                            const struct db_stmt *stmts, size_t nstmts,
                            const char *const *setup_sql, size_t queue_max);

/* Fails every pending job with DB_UNAVAILABLE (callbacks run), closes connections, frees. */
void db_pool_free(struct db_pool *pool);

void db_pool_set_notify(struct db_pool *pool, db_notify_fn fn, void *arg);

/* True when at least one connection is ready to take work. */
bool db_pool_available(const struct db_pool *pool);

void db_pool_stats(const struct db_pool *pool, struct db_stats *out);

/* A job; statements are added with db_job_add before submitting. */
struct db_job *db_job_new(db_done_fn done, void *arg);

/*
 * Adds a prepared statement by name with text parameters (copied; NULL means SQL NULL).
 * The name must be one of the pool's statements: checked at submit (DB_FAILED path aborts in
 * debug builds because it is a programming error).
 */
void db_job_add(struct db_job *job, const char *stmt_name, int nparams, const char *const *params);

/*
 * Queues the job. On DB_OK the pool owns it and calls `done` later. Otherwise the job has been
 * freed, `done` will not be called, and the status says why (DB_UNAVAILABLE, DB_OVERLOADED).
 */
enum db_status db_submit(struct db_pool *pool, struct db_job *job) WUR;

/* The caller no longer wants the result (request timed out). `done` will not be called. */
void db_job_cancel(struct db_job *job);

#endif
