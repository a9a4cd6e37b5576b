/*
 * server: event loop, TLS listener, limits, connection cap, signals, reload, graceful stop.
 * See server.h.
 *
 * TLS only: evhttp gets every connection's bufferevent from bevcb, which always returns a
 * bufferevent_openssl in accepting state (conn.c: a filter over the socket that writes each
 * answer with one system call). Returning NULL there would make libevent serve plain
 * HTTP on this port (STYLE.md), so failure to build one aborts instead.
 *
 * Connection cap: libevent 2.1 has none. Every connection's SSL carries a record whose free
 * (tls.c) reports the close; at max_connections the listener is disabled, so new clients wait
 * in the kernel's backlog, and it is enabled again when one closes.
 */
#include "daemon/server.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/search.h"
#include "daemon/conn.h"
#include "daemon/db.h"
#include "daemon/limits.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/signkey.h"
#include "daemon/tls.h"
#include "qualify/jv.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/rand.h>

static void on_conn_closed(bool handshake_done, void *arg)
{
    struct srv *s = arg;
    s->conns_open--;
    if (!handshake_done)
        metrics_tls_handshake_failure();
    if (s->accept_paused && !s->stopping && s->conns_open < (long)s->cfg.max_connections) {
        evconnlistener_enable(evhttp_bound_socket_get_listener(s->bound));
        s->accept_paused = false;
    }
}

static struct bufferevent *bevcb(struct event_base *base, void *arg)
{
    struct srv *s = arg;
    struct bufferevent *bev = conn_new(base, tls_conn_new(s->ssl_ctx));
    if (!bev) {
        log_kv(LOG_ERROR, "cannot create a TLS bufferevent", (char *)NULL);
        abort(); /* never NULL: libevent would answer in plain HTTP */
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    if (++s->conns_open >= (long)s->cfg.max_connections && !s->accept_paused) {
        evconnlistener_disable(evhttp_bound_socket_get_listener(s->bound));
        s->accept_paused = true;
        log_kv(LOG_WARN, "connection limit reached; pausing accept", (char *)NULL);
    }
    return bev;
}

static void gencb(struct evhttp_request *req, void *arg)
{
    api_dispatch(arg, req);
}

static void apply_limits(struct srv *s)
{
    const struct cfg *c = &s->cfg;
    evhttp_set_max_headers_size(s->http, (ev_ssize_t)c->max_header_bytes);
    evhttp_set_max_body_size(s->http, (ev_ssize_t)c->max_body_bytes);
    evhttp_set_timeout(s->http, (int)c->idle_timeout_s);
    api_set_header_limit(c->max_header_bytes);
    enum log_level lvl;
    if (log_parse_level(c->log_level, &lvl))
        log_set_level(lvl);
}

static bool write_port_file(const char *path, uint16_t port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return false;
    bool ok = fprintf(f, "%u\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok)
        unlink(tmp);
    return ok;
}

/* ---- signals ---- */

static void finish_if_drained(struct srv *s)
{
    if (s->stopping && s->inflight == 0 && s->unsent == 0)
        event_base_loopexit(s->base, NULL);
}

static void on_reply_sent(struct evhttp_request *req, void *arg)
{
    (void)req;
    struct srv *s = arg;
    s->unsent--;
    finish_if_drained(s);
}

void srv_reply_started(struct srv *s, struct evhttp_request *req)
{
    /* Without a connection (the client left) libevent frees the request at once and never
     * calls on_complete; a reply that fails mid-write is not reported either, and then the
     * shutdown grace period is the bound. */
    if (!evhttp_request_get_connection(req))
        return;
    s->unsent++;
    evhttp_request_set_on_complete_cb(req, on_reply_sent, s);
}

void srv_request_done(struct srv *s)
{
    s->inflight--;
    finish_if_drained(s);
}

static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct srv *s = arg;
    char n[24];
    snprintf(n, sizeof n, "%ld", s->inflight);
    log_kv(LOG_WARN, "shutdown grace period over; exiting with requests in flight", "inflight#",
           n, (char *)NULL);
    event_base_loopexit(s->base, NULL);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct srv *s = arg;
    if (s->stopping)
        return;
    s->stopping = true;
    char n[24];
    snprintf(n, sizeof n, "%ld", s->inflight);
    log_kv(LOG_INFO, "shutdown: no longer accepting; finishing requests in flight", "signal",
           strsignal((int)sig), "inflight#", n, (char *)NULL);
    evhttp_del_accept_socket(s->http, s->bound);
    s->bound = NULL;
    event_del(s->ev_sweep);
    struct timeval tv = {(time_t)s->cfg.shutdown_grace_s, 0};
    s->ev_grace = evtimer_new(s->base, on_grace_over, s);
    event_add(s->ev_grace, &tv);
    finish_if_drained(s);
}

static void srv_set_signing_key(struct srv *s, EVP_PKEY *key);

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    struct srv *s = arg;
    char err[1024];
    struct cfg next;
    if (!cfg_build(&next, s->cfg_path, true, err, sizeof err)) {
        log_kv(LOG_ERROR, "reload failed; keeping the running configuration", "reason", err,
               (char *)NULL);
        return;
    }
    SSL_CTX *ctx = tls_ctx_new(next.tls_cert, next.tls_key, err, sizeof err);
    if (!ctx) {
        log_kv(LOG_ERROR, "reload failed; keeping the running configuration", "reason", err,
               (char *)NULL);
        cfg_free(&next);
        return;
    }
    EVP_PKEY *key = NULL;
    if (next.signing_key && !(key = signkey_load(next.signing_key, err, sizeof err))) {
        log_kv(LOG_ERROR, "reload failed; keeping the running configuration", "reason", err,
               (char *)NULL);
        SSL_CTX_free(ctx);
        cfg_free(&next);
        return;
    }
    /* Keys that only a restart can change keep their running values. */
    struct {
        const char *key;
        char **now, **then;
    } fixed[] = {{"database_url", &s->cfg.database_url, &next.database_url},
                 {"listen", &s->cfg.listen, &next.listen}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(*fixed[i].now, *fixed[i].then) != 0) {
            log_kv(LOG_WARN, "reload: this key needs a restart; keeping the running value",
                   "key", fixed[i].key, (char *)NULL);
            free(*fixed[i].then);
            *fixed[i].then = xstrdup(*fixed[i].now);
        }
    if (next.pool_size != s->cfg.pool_size) {
        log_kv(LOG_WARN, "reload: this key needs a restart; keeping the running value", "key",
               "pool_size", (char *)NULL);
        next.pool_size = s->cfg.pool_size;
    }
    if (next.search_index != s->cfg.search_index) {
        log_kv(LOG_WARN, "reload: this key needs a restart; keeping the running value", "key",
               "search_index", (char *)NULL);
        next.search_index = s->cfg.search_index;
    }
    free(next.listen_host);
    next.listen_host = xstrdup(s->cfg.listen_host);
    next.listen_port = s->cfg.listen_port;

    SSL_CTX_free(s->ssl_ctx); /* open connections hold their own reference */
    s->ssl_ctx = ctx;
    srv_set_signing_key(s, key);
    cfg_free(&s->cfg);
    s->cfg = next;
    apply_limits(s);
    search_set_vacancy_max_age(s->cfg.vacancy_max_age_s);
    search_set_cache_ms(s->cfg.search_cache_ms);
    log_kv(LOG_INFO, "reloaded configuration and certificate", "tls_cert", s->cfg.tls_cert,
           (char *)NULL);
}

/* Replaces the signing key (NULL: none) and its public PEM. */
static void srv_set_signing_key(struct srv *s, EVP_PKEY *key)
{
    EVP_PKEY_free(s->sign_key);
    free(s->sign_pub_pem);
    s->sign_key = key;
    s->sign_pub_pem = key ? signkey_public_pem(key) : NULL;
}

/* ---- the qualification sweep ---- */

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct srv *s = arg;
    if (!s->stopping && db_pool_available(s->pool))
        qual_sweep(s->pool);
    struct timeval tv = {(time_t)s->cfg.sweep_interval_s, 0};
    event_add(s->ev_sweep, &tv);
}

/* Notifications: an API key changed (clear the key cache), or a new Ofsted register was
 * imported by `aqpd import` (sweep now, not in a minute). */
static void on_notify(void *arg, const char *channel, const char *payload)
{
    struct srv *s = arg;
    search_notify(channel, payload);
    if (strcmp(channel, "aqpd_api_key") == 0) {
        auth_cache_clear(); /* a key was revoked or changed: look every key up again */
        return;
    }
    /* Every pool connection listens, so each import arrives once per connection. */
    static char last[64];
    if (strcmp(channel, "aqpd_ofsted_import") == 0 && !s->stopping &&
        strncmp(last, payload, sizeof last - 1) != 0) {
        snprintf(last, sizeof last, "%s", payload);
        log_kv(LOG_INFO, "register imported; re-checking qualifications", "import", payload,
               (char *)NULL);
        event_active(s->ev_sweep, EV_TIMEOUT, 0);
    }
}

/* ---- main ---- */

static uint16_t bound_port(struct evhttp_bound_socket *b)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int srv_main(const char *cfg_path)
{
    struct srv s;
    memset(&s, 0, sizeof s);
    s.cfg_path = cfg_path;
    char err[1024];
    if (!cfg_build(&s.cfg, cfg_path, true, err, sizeof err)) {
        fprintf(stderr, "aqpd: config: %s\n", err);
        return 2;
    }
    enum log_level lvl;
    if (log_parse_level(s.cfg.log_level, &lvl))
        log_set_level(lvl);
    s.ssl_ctx = tls_ctx_new(s.cfg.tls_cert, s.cfg.tls_key, err, sizeof err);
    if (!s.ssl_ctx) {
        fprintf(stderr, "aqpd: config: %s\n", err);
        cfg_free(&s.cfg);
        return 2;
    }
    if (s.cfg.signing_key) {
        EVP_PKEY *key = signkey_load(s.cfg.signing_key, err, sizeof err);
        if (!key) {
            fprintf(stderr, "aqpd: config: %s\n", err);
            SSL_CTX_free(s.ssl_ctx);
            cfg_free(&s.cfg);
            return 2;
        }
        srv_set_signing_key(&s, key);
    }
    signal(SIGPIPE, SIG_IGN);
    /* Memory freed after a streamed batch (a megabyte or two: the database's result, the
     * chunk, its TLS records) stays in the heap for the next batch instead of going back to
     * the kernel and being faulted in again: glibc's defaults put blocks over 128 KB in their
     * own mappings and trim the heap's top past a few megabytes, which cost a publication
     * instance about 20,000 page faults and 0.2 s of CPU per export of 100,000 sites (its
     * small heap has nothing long-lived above the batches; an indexed instance's has). With
     * these: 1 fault and 0.03 s, and 4% more peak memory for an indexed instance at 100,000. */
    (void)mallopt(M_MMAP_THRESHOLD, 4 << 20);
    (void)mallopt(M_TRIM_THRESHOLD, 16 << 20);
    if (RAND_bytes((unsigned char *)&s.id_prefix, sizeof s.id_prefix) != 1)
        s.id_prefix = (uint32_t)getpid();
    unsigned char seed[16];
    if (RAND_bytes(seed, sizeof seed) != 1) {
        fprintf(stderr, "aqpd: no randomness for the JSON hash seed\n");
        abort();
    }
    jv_set_hash_seed(seed); /* before any request body is parsed */
    tls_init(on_conn_closed, &s);

    int rc = 1;
    /* The changelist folds the read-interest toggles evhttp makes around every request into
     * one epoll_ctl per loop iteration instead of several (we never dup(2) sockets, the case
     * it mishandles). */
    struct event_config *ecfg = event_config_new();
    if (!ecfg)
        abort();
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    s.base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    log_attach(s.base);
    s.http = evhttp_new(s.base);
    if (!s.base || !s.http)
        abort();
    evhttp_set_allowed_methods(s.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(s.http, "application/json");
    /* A body over the limit is read and discarded before the 413 goes out: closing with the
     * client's unread data in our receive queue would send a TCP reset that can destroy the 413
     * before the client reads it. The idle timeout bounds how long this may take. */
    evhttp_set_flags(s.http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_bevcb(s.http, bevcb, &s);
    evhttp_set_gencb(s.http, gencb, &s);
    apply_limits(&s);

    s.bound = evhttp_bind_socket_with_handle(s.http, s.cfg.listen_host, s.cfg.listen_port);
    if (!s.bound) {
        fprintf(stderr, "aqpd: config: listen: cannot bind %s: %s\n", s.cfg.listen,
                strerror(errno));
        rc = 2;
        goto out;
    }
    s.port = bound_port(s.bound);
    /* Accepted sockets inherit this on Linux: replies go out at once instead of waiting up to
     * 40 ms for the client's delayed ACK (Nagle) on kept-alive connections. */
    int one = 1;
    if (setsockopt(evhttp_bound_socket_get_fd(s.bound), IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof one) != 0)
        log_kv(LOG_WARN, "cannot set TCP_NODELAY on the listener", "error", strerror(errno),
               (char *)NULL);
    if (s.cfg.port_file && !write_port_file(s.cfg.port_file, s.port)) {
        fprintf(stderr, "aqpd: config: port_file: cannot write %s: %s\n", s.cfg.port_file,
                strerror(errno));
        rc = 2;
        goto out;
    }

    /* aqpd_ofsted_import: the sweep (and the index's ratings); aqpd_api_key: the key cache.
     * aqpd_index and aqpd_reference_import only keep the search index fresh: an instance
     * without it (search_index = false) is not woken by them. */
    const char *setup_sql[7];
    size_t nsetup = 0;
    setup_sql[nsetup++] = "SET application_name = 'aqpd'";
    setup_sql[nsetup++] = "SET TimeZone = 'UTC'";
    setup_sql[nsetup++] = "LISTEN aqpd_ofsted_import";
    setup_sql[nsetup++] = "LISTEN aqpd_api_key";
    if (s.cfg.search_index) {
        setup_sql[nsetup++] = "LISTEN aqpd_index";
        setup_sql[nsetup++] = "LISTEN aqpd_reference_import";
    }
    setup_sql[nsetup] = NULL;
    s.pool = db_pool_new(s.base, s.cfg.database_url, (int)s.cfg.pool_size, api_stmts, api_nstmts,
                         setup_sql, s.cfg.db_queue_max);

    s.ev_term = evsignal_new(s.base, SIGTERM, on_stop, &s);
    s.ev_int = evsignal_new(s.base, SIGINT, on_stop, &s);
    s.ev_hup = evsignal_new(s.base, SIGHUP, on_hup, &s);
    event_add(s.ev_term, NULL);
    event_add(s.ev_int, NULL);
    event_add(s.ev_hup, NULL);

    s.ev_sweep = evtimer_new(s.base, on_sweep, &s);
    db_pool_set_notify(s.pool, on_notify, &s);
    search_start(s.base, s.pool, s.cfg.vacancy_max_age_s, s.cfg.search_index);
    search_set_cache_ms(s.cfg.search_cache_ms);
    struct timeval first = {1, 0}; /* soon after start: the pool connects meanwhile */
    event_add(s.ev_sweep, &first);

    char port[8];
    snprintf(port, sizeof port, "%u", s.port);
    log_kv(LOG_INFO, "listening", "host", s.cfg.listen_host, "port#", port, (char *)NULL);
    event_base_dispatch(s.base);
    log_kv(LOG_INFO, "stopped", (char *)NULL);
    rc = 0;

out:
    if (s.ev_grace)
        event_free(s.ev_grace);
    if (s.ev_sweep)
        event_free(s.ev_sweep);
    if (s.ev_term) {
        event_free(s.ev_term);
        event_free(s.ev_int);
        event_free(s.ev_hup);
    }
    search_stop();
    /* The pool first: failing its jobs answers their requests while evhttp still exists. */
    db_pool_free(s.pool);
    evhttp_free(s.http); /* closes the remaining (idle) connections */
    log_attach(NULL);
    event_base_free(s.base);
    SSL_CTX_free(s.ssl_ctx);
    srv_set_signing_key(&s, NULL);
    cfg_free(&s.cfg);
    return rc;
}
