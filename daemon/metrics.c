/*
 * metrics: request counters by (route, method, status), one latency histogram, TLS handshake
 * failures, and gauges supplied at render time. See metrics.h.
 */
#include "daemon/metrics.h"
#include "daemon/db.h"

#include <string.h>
#include <event2/buffer.h>

/* Distinct (route, method, status) series kept; more fold into one "other" series. */
#define METRICS_MAX_SERIES 512

struct series {
    const char *route;
    const char *method;
    int status;
    unsigned long long count;
};

static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])

static struct series series[METRICS_MAX_SERIES];
static size_t nseries;
static unsigned long long other_count;
static unsigned long long buckets[NBUCKETS + 1];
static unsigned long long dur_count;
static double dur_sum;
static unsigned long long tls_failures;

void metrics_request(const char *route, const char *method, int status, uint64_t duration_ns)
{
    size_t i;
    for (i = 0; i < nseries; i++)
        if (series[i].route == route && series[i].status == status &&
            strcmp(series[i].method, method) == 0)
            break;
    if (i == nseries) {
        if (nseries == METRICS_MAX_SERIES) {
            other_count++;
            goto hist;
        }
        series[i] = (struct series){route, method, status, 0};
        nseries++;
    }
    series[i].count++;
hist:;
    double s = (double)duration_ns / 1e9;
    size_t b = 0;
    while (b < NBUCKETS && s > bucket_le[b])
        b++;
    buckets[b]++;
    dur_count++;
    dur_sum += s;
}

void metrics_tls_handshake_failure(void)
{
    tls_failures++;
}

void metrics_render(struct evbuffer *o, const struct metrics_gauges *g)
{
    evbuffer_add_printf(o, "# HELP aqpd_http_requests_total HTTP requests answered.\n"
                           "# TYPE aqpd_http_requests_total counter\n");
    for (size_t i = 0; i < nseries; i++)
        evbuffer_add_printf(o,
                            "aqpd_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
                            series[i].route, series[i].method, series[i].status, series[i].count);
    if (other_count)
        evbuffer_add_printf(o, "aqpd_http_requests_total{route=\"other\",method=\"other\",status=\"0\"} %llu\n",
                            other_count);

    evbuffer_add_printf(o, "# HELP aqpd_http_request_duration_seconds Time from request to reply.\n"
                           "# TYPE aqpd_http_request_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t b = 0; b < NBUCKETS; b++) {
        cum += buckets[b];
        evbuffer_add_printf(o, "aqpd_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                            bucket_le[b], cum);
    }
    cum += buckets[NBUCKETS];
    evbuffer_add_printf(o,
                        "aqpd_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "aqpd_http_request_duration_seconds_sum %.6f\n"
                        "aqpd_http_request_duration_seconds_count %llu\n",
                        cum, dur_sum, dur_count);

    evbuffer_add_printf(o,
                        "# HELP aqpd_tls_handshake_failures_total Connections closed before the TLS handshake completed.\n"
                        "# TYPE aqpd_tls_handshake_failures_total counter\n"
                        "aqpd_tls_handshake_failures_total %llu\n"
                        "# HELP aqpd_connections_open Client connections open now.\n"
                        "# TYPE aqpd_connections_open gauge\n"
                        "aqpd_connections_open %ld\n"
                        "# HELP aqpd_http_requests_inflight Requests received and not yet answered.\n"
                        "# TYPE aqpd_http_requests_inflight gauge\n"
                        "aqpd_http_requests_inflight %ld\n",
                        tls_failures, g->connections_open, g->requests_inflight);
    if (g->db) {
        const struct db_stats *d = g->db;
        evbuffer_add_printf(o,
                            "# HELP aqpd_db_connections Database pool connections by state.\n"
                            "# TYPE aqpd_db_connections gauge\n"
                            "aqpd_db_connections{state=\"busy\"} %d\n"
                            "aqpd_db_connections{state=\"idle\"} %d\n"
                            "aqpd_db_connections{state=\"connecting\"} %d\n"
                            "aqpd_db_connections{state=\"broken\"} %d\n"
                            "# HELP aqpd_db_queue_length Database jobs waiting for a connection.\n"
                            "# TYPE aqpd_db_queue_length gauge\n"
                            "aqpd_db_queue_length %zu\n"
                            "# HELP aqpd_db_jobs_total Database jobs finished, by outcome.\n"
                            "# TYPE aqpd_db_jobs_total counter\n"
                            "aqpd_db_jobs_total{outcome=\"ok\"} %llu\n"
                            "aqpd_db_jobs_total{outcome=\"failed\"} %llu\n"
                            "# HELP aqpd_db_reconnects_total Database connections lost or refused.\n"
                            "# TYPE aqpd_db_reconnects_total counter\n"
                            "aqpd_db_reconnects_total %llu\n",
                            d->busy, d->idle, d->connecting, d->broken, d->queued, d->jobs_done,
                            d->jobs_failed, d->reconnects);
    }
}
