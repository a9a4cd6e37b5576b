/*
 * conn: the bufferevent evhttp gets for each TLS connection, built so that an answer costs one
 * read and one write system call and no change to the epoll set.
 *
 * A plain bufferevent_openssl on the socket (libevent 2.1) writes each chunk of its output as
 * its own TLS record with its own write(2) (evhttp's headers and body are two chunks), reads a
 * record's header and body with two read(2)s, and adds and removes its write event around
 * every answer (two epoll_ctl calls). Here instead:
 *   - the TLS layer is a bufferevent_openssl *filter* over a socket bufferevent, so records go
 *     to and come from memory, and the socket bufferevent reads whatever has arrived at once;
 *   - the socket bufferevent's write event stays disabled. Once the TLS layer has taken a batch
 *     of plaintext (the whole answer), its records are written straight away with one writev;
 *     records OpenSSL writes on its own (the handshake, alerts) are written at the end of the
 *     event loop's pass. Only when the socket cannot take everything is the write event
 *     enabled, and libevent writes the rest as it usually would; it is disabled again once the
 *     output has drained.
 * The socket bufferevent's write high-water mark bounds the ciphertext held per connection, so
 * streamed answers still wait for the client (api_stream).
 */
#ifndef AQPD_CONN_H
#define AQPD_CONN_H

#include <openssl/ssl.h>

struct event_base;
struct bufferevent;

/* The TLS bufferevent for one new connection, in accepting state, over `ssl` (tls_conn_new;
   it is freed with the bufferevent). NULL only when memory runs out; the caller aborts. */
struct bufferevent *conn_new(struct event_base *base, SSL *ssl);

#endif
