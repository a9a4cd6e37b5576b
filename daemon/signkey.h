/*
 * signkey: the board's Ed25519 signing key (config key signing_key, a PEM private key file,
 * like the TLS key). Loaded and checked at start and on SIGHUP by `aqpd serve`, and by
 * `aqpd publish`. Signing is "pure" Ed25519 (no pre-hash) over the exact bytes, which is what
 * `openssl pkeyutl -verify -rawin` checks (docs/publications.md).
 */
#ifndef AQPD_SIGNKEY_H
#define AQPD_SIGNKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>

#include "daemon/util.h"

#define SIGNKEY_SIG_BYTES 64
#define SIGNKEY_SIG_B64 89 /* base64 of 64 bytes, with its NUL */

/*
 * Loads a PEM private key from `path` and checks that it is an Ed25519 key. NULL with a
 * message naming the key and the file in `err` otherwise. Caller frees with EVP_PKEY_free.
 */
EVP_PKEY *signkey_load(const char *path, char *err, size_t errlen) WUR;

/* Signs `len` bytes; writes the signature as base64 (NUL-terminated). False on an OpenSSL
 * failure (the key was checked at load, so this does not happen in practice). */
bool signkey_sign_b64(EVP_PKEY *key, const void *msg, size_t len, char out[SIGNKEY_SIG_B64]) WUR;

/* The public key as a PEM "PUBLIC KEY" block (SubjectPublicKeyInfo); caller frees. */
char *signkey_public_pem(EVP_PKEY *key);

#endif
