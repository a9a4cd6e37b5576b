/*
 * tls: the server's TLS context (Mozilla "intermediate": TLS 1.2 and 1.3, ECDHE AEAD ciphers,
 * X25519/P-256, no renegotiation) and per-connection bookkeeping. Every SSL made by
 * tls_conn_new carries a small record that OpenSSL frees with the SSL; that free is the one
 * place the daemon learns a connection has gone, whatever path libevent took to close it, and
 * whether its handshake ever completed (a failed or abandoned handshake is otherwise invisible
 * to evhttp).
 */
#ifndef AQPD_TLS_H
#define AQPD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "daemon/util.h"

/* Called when a connection's SSL is freed; `handshake_done` says whether it ever completed. */
typedef void (*tls_close_fn)(bool handshake_done, void *arg);

/* Installs the close hook; call once before any connection. */
void tls_init(tls_close_fn on_close, void *arg);

/*
 * Builds a server context from PEM files and checks the key matches the certificate.
 * Returns NULL with a message in `err` (naming the file) on failure. Caller owns the context.
 */
SSL_CTX *tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen) WUR;

/* A new server-side SSL for one connection. Never returns NULL (aborts: see STYLE.md). */
SSL *tls_conn_new(SSL_CTX *ctx);

/* Hangs the caller's per-connection state on an SSL from tls_conn_new; `app_free` runs when
   the SSL is freed, before the close hook, while the connection's BIOs still exist. */
void tls_conn_attach(SSL *ssl, void *app, void (*app_free)(void *app));

#endif
