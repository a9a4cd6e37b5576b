/*
 * tls: OpenSSL 3 server context and connection lifetime hook. See tls.h.
 */
#include "daemon/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <openssl/err.h>

struct tls_conn {
    bool handshake_done;
    void *app; /* tls_conn_attach */
    void (*app_free)(void *app);
};

static int conn_idx = -1;
static tls_close_fn close_fn;
static void *close_arg;

static void conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct tls_conn *c = ptr;
    if (!c)
        return;
    if (c->app_free)
        c->app_free(c->app);
    if (close_fn)
        close_fn(c->handshake_done, close_arg);
    free(c);
}

void tls_init(tls_close_fn on_close, void *arg)
{
    close_fn = on_close;
    close_arg = arg;
    if (conn_idx < 0)
        conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
    if (conn_idx < 0)
        abort();
}

static void info_cb(const SSL *ssl, int where, int ret)
{
    (void)ret;
    if (where & SSL_CB_HANDSHAKE_DONE) {
        struct tls_conn *c = SSL_get_ex_data(ssl, conn_idx);
        if (c)
            c->handshake_done = true;
    }
}

static void openssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    snprintf(err, errlen, "%s %s: %s", what, path, reason);
}

SSL_CTX *tls_ctx_new(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        openssl_error(err, errlen, "tls:", "SSL_CTX_new");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!SSL_CTX_set1_groups_list(ctx, "X25519:P-256") ||
        !SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") ||
        !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                       "TLS_CHACHA20_POLY1305_SHA256")) {
        openssl_error(err, errlen, "tls:", "cipher configuration");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        openssl_error(err, errlen, "tls_cert: cannot load", cert_path);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        openssl_error(err, errlen, "tls_key: cannot load", key_path);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        openssl_error(err, errlen, "tls_key: does not match the certificate in", cert_path);
        goto fail;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_info_callback(ctx, info_cb);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL *tls_conn_new(SSL_CTX *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl) {
        fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"SSL_new failed\"}\n");
        abort();
    }
    struct tls_conn *c = calloc(1, sizeof *c);
    if (!c || !SSL_set_ex_data(ssl, conn_idx, c))
        abort();
    return ssl;
}

void tls_conn_attach(SSL *ssl, void *app, void (*app_free)(void *app))
{
    struct tls_conn *c = SSL_get_ex_data(ssl, conn_idx);
    if (!c)
        abort(); /* every SSL here comes from tls_conn_new */
    c->app = app;
    c->app_free = app_free;
}
