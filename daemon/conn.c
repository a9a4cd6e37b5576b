/*
 * conn: see conn.h.
 */
#include "daemon/conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

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
/* Ciphertext read ahead of the TLS layer before reading stops until it has taken some; and
 * the most one read(2) asks for (a full record and its header). */
#define CONN_READ_HIGH (64u << 10)
#define CONN_READ_CHUNK (16u << 10)
/* The most plaintext one TLS record carries. */
#define CONN_RECORD (16u << 10)

struct conn {
    struct event_base *base;
    struct bufferevent *sock;   /* the socket; its events are off: this file reads and writes */
    struct event *setup_ev;     /* once evhttp has given the socket its descriptor */
    struct event *read_ev;      /* persistent, from setup until end of file or an error */
    struct event *flush_ev;     /* writes records OpenSSL wrote on its own */
    struct evbuffer_cb_entry *sock_cb, *in_cb, *tls_cb;
    struct evbuffer *tls_out;   /* the TLS bufferevent's output: plaintext waiting */
    bool flushing, again, read_paused;
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
        (void)evbuffer_write(out, fd);
        if (evbuffer_get_length(out) > 0) {
            /* The socket is full, or failed: libevent writes the rest, or meets the error and
             * reports it through the usual path. */
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

/* The socket is readable: one read(2) into the socket bufferevent's input, then the TLS layer
 * is told (it reads records from there). End of file and errors reach it as the socket
 * bufferevent's events, as they would from libevent. Nothing here touches `c` after telling
 * the TLS layer: its callbacks may end the connection. */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(c->sock);
    if (evbuffer_get_length(in) >= CONN_READ_HIGH) { /* the TLS layer is not taking it */
        event_del(c->read_ev);
        c->read_paused = true;
        return;
    }
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(in, CONN_READ_CHUNK, &v, 1) < 1)
        abort(); /* out of memory */
    ssize_t n = read(fd, v.iov_base, v.iov_len);
    if (n > 0) {
        v.iov_len = (size_t)n;
        evbuffer_commit_space(in, &v, 1);
        bufferevent_trigger(c->sock, EV_READ, 0);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    } else {
        event_del(c->read_ev);
        short what_happened = n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR;
        bufferevent_trigger_event(c->sock, BEV_EVENT_READING | what_happened, 0);
    }
}

/* The TLS layer took records from the input: resume reading if it had stopped. */
static void sock_in_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    if (info->n_deleted && c->read_paused && evbuffer_get_length(buf) < CONN_READ_HIGH / 2) {
        c->read_paused = false;
        event_add(c->read_ev, NULL);
    }
}

/* evhttp gives the socket bufferevent its descriptor after conn_new returns, in the same pass
 * of the event loop; this runs at the end of that pass. */
static void on_setup(evutil_socket_t unused, short what, void *arg)
{
    (void)unused, (void)what;
    struct conn *c = arg;
    evutil_socket_t fd = bufferevent_getfd(c->sock);
    if (fd < 0) { /* never: evhttp sets it before the loop goes on */
        bufferevent_enable(c->sock, EV_READ);
        return;
    }
    c->read_ev = event_new(c->base, fd, EV_READ | EV_PERSIST, on_read, c);
    if (!c->read_ev || event_add(c->read_ev, NULL) != 0)
        abort();
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

/*
 * The TLS layer's plaintext. Added: evhttp queues an answer's headers and then its body while
 * the layer's writing is off, and turns it on once both are there; the layer then makes a
 * record of each piece of the buffer, so an answer that fits one record (16 KB) is made one
 * piece here, and the client decrypts one record instead of two. Taken: its records for all
 * of it are in the socket's output, written now.
 */
static void tls_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    if (info->n_added && evbuffer_get_length(buf) <= CONN_RECORD &&
        evbuffer_peek(buf, -1, NULL, NULL, 0) > 1)
        (void)evbuffer_pullup(buf, -1);
    if (info->n_deleted)
        conn_flush(arg);
}

static void conn_free(void *arg)
{
    struct conn *c = arg;
    evbuffer_remove_cb_entry(bufferevent_get_output(c->sock), c->sock_cb);
    evbuffer_remove_cb_entry(bufferevent_get_input(c->sock), c->in_cb);
    evbuffer_remove_cb_entry(c->tls_out, c->tls_cb);
    event_free(c->flush_ev);
    event_free(c->setup_ev);
    if (c->read_ev)
        event_free(c->read_ev);
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
    c->base = base;
    c->sock = sock;
    c->tls_out = bufferevent_get_output(tls);
    c->flush_ev = event_new(base, -1, 0, on_flush, c);
    c->setup_ev = event_new(base, -1, 0, on_setup, c);
    if (!c->flush_ev || !c->setup_ev)
        abort();
    bufferevent_setwatermark(sock, EV_WRITE, 0, CONN_WRITE_HIGH);
    /* The filter enabled both; on_read reads and conn_flush writes. */
    bufferevent_disable(sock, EV_READ | EV_WRITE);
    c->sock_cb = evbuffer_add_cb(bufferevent_get_output(sock), sock_out_cb, c);
    c->in_cb = evbuffer_add_cb(bufferevent_get_input(sock), sock_in_cb, c);
    c->tls_cb = evbuffer_add_cb(c->tls_out, tls_out_cb, c);
    if (!c->sock_cb || !c->in_cb || !c->tls_cb)
        abort();
    event_active(c->setup_ev, EV_READ, 0);
    tls_conn_attach(ssl, c, conn_free);
    return tls;
}
