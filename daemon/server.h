/*
 * server: the process's serving life. It owns the event loop, the TLS listener (evhttp over
 * bufferevent_openssl), its limits and connection cap, the database pool, signals (SIGHUP
 * reload, SIGTERM/SIGINT graceful stop) and the port file. Requests go to api_dispatch.
 */
#ifndef AQPD_SERVER_H
#define AQPD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "daemon/cfg.h"

struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct event;
struct db_pool;
struct evhttp_request;

struct srv {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    SSL_CTX *ssl_ctx; /* new connections use this; old ones keep a reference to theirs */
    EVP_PKEY *sign_key;  /* the board's Ed25519 key (signing_key), or NULL: publishing off */
    char *sign_pub_pem;  /* its public key, PEM, or NULL */
    struct cfg cfg;
    const char *cfg_path; /* borrowed from argv, or NULL */
    struct db_pool *pool;
    long conns_open;
    bool accept_paused; /* the listener is disabled because conns_open hit max_connections */
    long inflight;      /* requests received and not yet answered */
    long unsent;        /* answered, but the reply is not yet fully written to the socket */
    bool stopping;
    struct event *ev_term, *ev_int, *ev_hup, *ev_grace;
    struct event *ev_sweep; /* periodic qualification sweep */
    uint16_t port;
    uint64_t request_seq;
    uint32_t id_prefix;
};

/* `aqpd serve`: runs until SIGTERM/SIGINT. Returns the process exit status. */
int srv_main(const char *cfg_path);

/* Called by the API when a request has been answered. */
void srv_request_done(struct srv *s);

/*
 * Called by the API just before it sends a reply: counts the reply until libevent has written
 * it, so a graceful stop does not close a connection with a reply still in its buffer.
 */
void srv_reply_started(struct srv *s, struct evhttp_request *req);

#endif
