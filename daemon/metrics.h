/*
 * metrics: the daemon's counters and histograms, rendered in the Prometheus text format.
 * Requests are counted by route pattern (not raw path, so cardinality stays bounded), method
 * and status; latency goes into one fixed-bucket histogram.
 */
#ifndef AQPD_METRICS_H
#define AQPD_METRICS_H

#include <stdint.h>

struct evbuffer;
struct db_stats;

/* `route` is a borrowed string that lives for the process (a route table pattern). */
void metrics_request(const char *route, const char *method, int status, uint64_t duration_ns);
void metrics_tls_handshake_failure(void);

struct metrics_gauges {
    const struct db_stats *db; /* may be NULL before the pool exists */
    long connections_open;
    long requests_inflight;
};

void metrics_render(struct evbuffer *out, const struct metrics_gauges *g);

#endif
