/*
 * conn: the bufferevent evhttp gets for each TLS connection, built so that an answer costs one
 * read and one write system call and no change to the epoll set.
 *
 * A plain bufferevent_openssl on the socket (libevent 2.1) writes each chunk of its output as
 * its own TLS record with its own write(2) (evhttp's headers and body are two chunks), reads a
 * record's header and body with two read(2)s, and adds and removes its write event around
 * every answer (two epoll_ctl calls). A socket bufferevent under it would still ask the kernel
 * how much there is to read (an ioctl) and change the epoll set whenever the TLS layer pauses
 * and resumes reading. Here instead the TLS layer is a bufferevent_openssl *filter* over a
 * socket bufferevent whose own events are never enabled; it serves as the two buffers of
 * ciphertext and the descriptor, and this file does the I/O:
 *   - reading: one persistent read event per connection; each time the socket is readable,
 *     one read(2) into the input, and the TLS layer is told. End of file and errors reach it as
 *     the socket bufferevent's events. Reading stops while 64 KB are waiting for the TLS layer
 *     and resumes when it has taken half.
 *   - one record: an answer that fits one TLS record (16 KB of headers and body) is made one
 *     piece of the TLS layer's buffer before it is encrypted, so it goes out as one record
 *     (the layer makes a record of each piece; evhttp queues headers and body separately);
 *   - writing: once the TLS layer has taken a batch of plaintext (the whole answer), its
 *     records are written straight away with one writev; records OpenSSL writes on its own
 *     (the handshake, alerts) are written at the end of the event loop's pass. Only when the
 *     socket cannot take everything is the socket bufferevent's write event enabled, and
 *     libevent writes the rest as it usually would; it is disabled again once the output has
 *     drained. The write high-water mark (64 KB) bounds the ciphertext held per connection, so
 *     streamed answers still wait for the client (api_stream).
 * An answer on a kept-alive connection thus costs what nginx's does: one epoll_wait, one read
 * and one writev, and no epoll_ctl.
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
