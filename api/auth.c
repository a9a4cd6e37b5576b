/*
 * auth: key generation, hashing and bearer parsing. See auth.h.
 */
#include "api/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "daemon/limits.h"
#include <openssl/rand.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const struct {
    unsigned role;
    const char *name;
} role_names[] = {
    {ROLE_PROVIDER, "provider"},
    {ROLE_COMMISSIONER, "commissioner"},
    {ROLE_ASSESSOR, "assessor"},
    {ROLE_BOARD, "board"},
};

const char *auth_role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (role_names[i].role == role)
            return role_names[i].name;
    return "anonymous";
}

bool auth_role_parse(const char *name, unsigned *role)
{
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++)
        if (strcmp(role_names[i].name, name) == 0) {
            *role = role_names[i].role;
            return true;
        }
    return false;
}

void auth_key_hash(const char *key, size_t len, unsigned char hash[32])
{
    unsigned int n = 0;
    if (!EVP_Digest(key, len, hash, &n, EVP_sha256(), NULL))
        abort();
}

void auth_key_new(char key[AUTH_KEY_LEN + 1], unsigned char hash[32])
{
    unsigned char raw[33] = {0};
    if (RAND_bytes(raw, 32) != 1)
        abort(); /* no entropy: never hand out a guessable key */
    memcpy(key, AUTH_KEY_PREFIX, sizeof AUTH_KEY_PREFIX - 1);
    char *o = key + sizeof AUTH_KEY_PREFIX - 1;
    /* 32 bytes = 10 groups of 3 (40 chars) + 2 bytes (3 chars). */
    for (int i = 0; i < 30; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        *o++ = b64url[v >> 18 & 63];
        *o++ = b64url[v >> 12 & 63];
        *o++ = b64url[v >> 6 & 63];
        *o++ = b64url[v & 63];
    }
    unsigned v = (unsigned)raw[30] << 16 | (unsigned)raw[31] << 8;
    *o++ = b64url[v >> 18 & 63];
    *o++ = b64url[v >> 12 & 63];
    *o++ = b64url[v >> 6 & 63];
    *o = '\0';
    auth_key_hash(key, AUTH_KEY_LEN, hash);
}

bool auth_parse_bearer(const char *h, unsigned char hash[32])
{
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    size_t len = strlen(h);
    while (len > 0 && h[len - 1] == ' ')
        len--;
    if (len != AUTH_KEY_LEN || memcmp(h, AUTH_KEY_PREFIX, sizeof AUTH_KEY_PREFIX - 1) != 0)
        return false;
    for (size_t i = sizeof AUTH_KEY_PREFIX - 1; i < len; i++)
        if (!strchr(b64url, h[i]) || h[i] == '\0')
            return false;
    auth_key_hash(h, len, hash);
    return true;
}

#define AUTH_CACHE_SLOTS 4096

struct cache_slot {
    unsigned char hash[32];
    unsigned long long expires_s; /* 0: empty */
    struct auth_principal who;
};

static struct cache_slot cache[AUTH_CACHE_SLOTS];

static struct cache_slot *slot_for(const unsigned char hash[32])
{
    /* The hash is uniformly random: its first bytes are a fine table index. */
    unsigned idx = ((unsigned)hash[0] << 8 | hash[1]) % AUTH_CACHE_SLOTS;
    return &cache[idx];
}

bool auth_cache_get(const unsigned char hash[32], unsigned long long now_s,
                    struct auth_principal *out)
{
    struct cache_slot *s = slot_for(hash);
    if (s->expires_s <= now_s || CRYPTO_memcmp(s->hash, hash, 32) != 0)
        return false;
    *out = s->who;
    return true;
}

void auth_cache_put(const unsigned char hash[32], unsigned long long now_s,
                    const struct auth_principal *p)
{
    struct cache_slot *s = slot_for(hash);
    memcpy(s->hash, hash, 32);
    s->who = *p;
    s->expires_s = now_s + LIMIT_AUTH_CACHE_S;
}

void auth_cache_clear(void)
{
    memset(cache, 0, sizeof cache);
}

void auth_hex(const unsigned char hash[32], char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[hash[i] >> 4];
        out[2 * i + 1] = hx[hash[i] & 15];
    }
    out[64] = '\0';
}
