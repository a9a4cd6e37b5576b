/*
 * search: /v1/search (councils and the board) and /v1/directory (public), answered from the
 * in-memory index (api/index) with PostgreSQL as the record (DESIGN.md §7, §9).
 *
 * Loading: at start, and whenever the database comes back after being unreachable, the whole
 * index is rebuilt from index_rows() (schema/0010: plain columns, of which search.c renders each
 * hit's provider, site and location) in pages of sites, into a new index that replaces the
 * served one when complete; until the first load completes searches answer 503.
 * The reference tables the parameters are checked against (service types, regions, councils
 * and their prices, postcode districts) are loaded alongside.
 *
 * Freshness: triggers NOTIFY aqpd_index with the organisation whose entries changed; the
 * server passes every notification here (search_notify), and the organisation's entries are
 * reloaded in the next batch. Batches run one at a time, so a later reload never lands before
 * an earlier one, and each reads after the change it was told of committed. A change therefore
 * reaches the index one notification plus one small query after its commit, well inside a
 * second, on every aqpd listening to the database.
 *
 * Off (search_index = false: a publication and feed instance, DESIGN.md §9): nothing is loaded
 * or allocated, notifications are ignored (the server does not LISTEN for them), and both
 * searches answer 503 search_not_served, without Retry-After since waiting does not help.
 */
#ifndef AQPD_SEARCH_H
#define AQPD_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct db_pool;
struct evbuffer;
struct api_ctx;

/*
 * With `index` true, starts loading (the pool connects meanwhile; loading waits for it). With
 * `index` false, records that this instance serves no search, and logs it once.
 */
void search_start(struct event_base *base, struct db_pool *pool, uint64_t vacancy_max_age_s,
                  bool index);
/* Changes the vacancy age on reload. */
void search_set_vacancy_max_age(uint64_t seconds);
/*
 * How long an answer may be served again from the answer cache (api/acache.h), in
 * milliseconds; 0 turns the cache off. An answer is never served after anything it shows has
 * changed in the index; this bounds only how late it notices the clock (a vacancy figure
 * ageing into "unknown"). Call after search_start.
 */
void search_set_cache_ms(uint64_t ms);
void search_stop(void);

/* Whether this instance runs the search index (search_start's `index`). */
bool search_index_on(void);

/* Whether searches can be answered: the first full load has completed. /readyz needs it when
 * the index is on. */
bool search_ready(void);

/* A notification from the database (every channel; the others are ignored). */
void search_notify(const char *channel, const char *payload);

/* Prometheus lines for /metrics. */
void search_metrics(struct evbuffer *out);

/* Handlers. */
void search_framework(struct api_ctx *ctx); /* GET /v1/search */
void search_directory(struct api_ctx *ctx); /* GET /v1/directory */
void site_vacancies_put(struct api_ctx *ctx); /* PUT /v1/sites/{id}/vacancies */

#endif
