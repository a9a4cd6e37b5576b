/*
 * conn: see conn.h.
 */
#include "daemon/conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>

#include "daemon/tls.h"
#include "daemon/util.h"

/* Ciphertext a connection may hold before the TLS layer waits for the socket: four full
 * records. */
#define CONN_WRITE_HIGH (64u << 10)

struct conn {
    struct bufferevent *sock;   /* the socket; its write event is ours to enable */
    struct event *flush_ev;     /* writes records OpenSSL wrote on its own */
    struct evbuffer_cb_entry *sock_cb, *tls_cb;
    struct evbuffer *tls_out;   /* the TLS bufferevent's output: plaintext waiting */
    bool flushing, again;
};

/* Writes the socket bufferevent's output now, once; what the socket cannot take is left to
 * libevent's write event. Re-entrant calls (the TLS layer writing more records while told
 * that the socket drained) loop here instead of nesting. */
static void conn_flush(struct conn *c)
{
    if (c->flushing) {
        c->again = true;
        return;
    }
    c->flushing = true;
    do {
        c->again = false;
        struct evbuffer *out = bufferevent_get_output(c->sock);
        evutil_socket_t fd = bufferevent_getfd(c->sock);
        if (fd < 0 || evbuffer_get_length(out) == 0 ||
            (bufferevent_get_enabled(c->sock) & EV_WRITE))
            break; /* nothing to write, or libevent is already waiting for the socket */
        int n = evbuffer_write(out, fd);
        if (evbuffer_get_length(out) > 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            /* The socket is full, or failed: libevent writes the rest, or reports the error
             * through the usual path. */
            bufferevent_enable(c->sock, EV_WRITE);
            break;
        }
        /* Drained: the TLS layer may be waiting at the high-water mark (a stream). */
        bufferevent_trigger(c->sock, EV_WRITE, 0);
    } while (c->again);
    c->flushing = false;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    conn_flush(arg);
}

/* The socket's output: records were added (schedule a write at the end of this pass), or
 * libevent drained it (hand the write event back: the next answer is written directly). */
static void sock_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    bool libevent_writes = bufferevent_get_enabled(c->sock) & EV_WRITE;
    if (info->n_added && !libevent_writes) {
        if (c->flushing)
            c->again = true;
        else
            event_active(c->flush_ev, EV_WRITE, 0);
    }
    if (info->n_deleted && libevent_writes && evbuffer_get_length(buf) == 0)
        bufferevent_disable(c->sock, EV_WRITE);
}

/* The TLS layer took plaintext: its records for all of it are in the socket's output. */
static void tls_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    if (info->n_deleted)
        conn_flush(arg);
}

static void conn_free(void *arg)
{
    struct conn *c = arg;
    evbuffer_remove_cb_entry(bufferevent_get_output(c->sock), c->sock_cb);
    evbuffer_remove_cb_entry(c->tls_out, c->tls_cb);
    event_free(c->flush_ev);
    free(c);
}

struct bufferevent *conn_new(struct event_base *base, SSL *ssl)
{
    struct bufferevent *sock = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct bufferevent *tls = sock ? bufferevent_openssl_filter_new(base, sock, ssl,
                                                                    BUFFEREVENT_SSL_ACCEPTING,
                                                                    BEV_OPT_CLOSE_ON_FREE |
                                                                        BEV_OPT_DEFER_CALLBACKS)
                                   : NULL;
    if (!tls)
        return NULL; /* out of memory: the caller aborts */
    struct conn *c = xcalloc(1, sizeof *c);
    c->sock = sock;
    c->tls_out = bufferevent_get_output(tls);
    c->flush_ev = event_new(base, -1, 0, on_flush, c);
    if (!c->flush_ev)
        abort();
    bufferevent_setwatermark(sock, EV_WRITE, 0, CONN_WRITE_HIGH);
    bufferevent_disable(sock, EV_WRITE); /* the filter enabled it; conn_flush writes */
    c->sock_cb = evbuffer_add_cb(bufferevent_get_output(sock), sock_out_cb, c);
    c->tls_cb = evbuffer_add_cb(c->tls_out, tls_out_cb, c);
    if (!c->sock_cb || !c->tls_cb)
        abort();
    tls_conn_attach(ssl, c, conn_free);
    return tls;
}
