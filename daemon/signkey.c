/*
 * signkey: load, check and use the board's Ed25519 key. See signkey.h.
 */
#include "daemon/signkey.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

EVP_PKEY *signkey_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "signing_key: cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) {
        unsigned long e = ERR_get_error();
        char reason[256] = "not a PEM private key";
        if (e)
            ERR_error_string_n(e, reason, sizeof reason);
        ERR_clear_error();
        snprintf(err, errlen, "signing_key: cannot load %s: %s", path, reason);
        return NULL;
    }
    if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        snprintf(err, errlen,
                 "signing_key: %s is not an Ed25519 key (make one with: openssl genpkey "
                 "-algorithm ed25519 -out FILE)",
                 path);
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

bool signkey_sign_b64(EVP_PKEY *key, const void *msg, size_t len, char out[SIGNKEY_SIG_B64])
{
    unsigned char sig[SIGNKEY_SIG_BYTES];
    size_t sl = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1 &&
              EVP_DigestSign(md, sig, &sl, msg, len) == 1 && sl == SIGNKEY_SIG_BYTES;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (ok)
        EVP_EncodeBlock((unsigned char *)out, sig, (int)sl);
    return ok;
}

char *signkey_public_pem(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || PEM_write_bio_PUBKEY(b, key) != 1)
        abort();
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *pem = xstrndup(data, (size_t)n);
    BIO_free(b);
    return pem;
}
