/*
 * auth: API keys and roles. A key is "aqpd_" + 43 base64url characters (256 random bits). Only
 * its SHA-256 is stored; a request's bearer key is hashed and looked up, and the principal it
 * names (role, and the organisation or commissioner it acts for) is attached to the request.
 * Which roles may call which route is the route table's `roles` column (routes.c).
 */
#ifndef AQPD_AUTH_H
#define AQPD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_KEY_PREFIX "aqpd_"
#define AUTH_KEY_CHARS 43 /* base64url of 32 bytes, no padding */
#define AUTH_KEY_LEN (sizeof AUTH_KEY_PREFIX - 1 + AUTH_KEY_CHARS)

/* Roles, as bits so a route names the set it admits. 0 means public (no key). */
enum auth_role {
    ROLE_PROVIDER = 1u << 0,
    ROLE_COMMISSIONER = 1u << 1,
    ROLE_ASSESSOR = 1u << 2,
    ROLE_BOARD = 1u << 3,
};
#define ROLES_ANY (ROLE_PROVIDER | ROLE_COMMISSIONER | ROLE_ASSESSOR | ROLE_BOARD)
#define ROLES_NATIONAL (ROLE_ASSESSOR | ROLE_BOARD)

const char *auth_role_name(unsigned role);
bool auth_role_parse(const char *name, unsigned *role) __attribute__((warn_unused_result));

/* Who is calling: filled from the api_key row. */
struct auth_principal {
    unsigned role;         /* one ROLE_* bit; 0 for an anonymous caller */
    char organisation[40]; /* uuid text, provider keys only */
    char commissioner[16]; /* ONS code, commissioner keys only */
    long long key_id;
};

/* A new random key (NUL-terminated, AUTH_KEY_LEN chars) and its SHA-256. */
void auth_key_new(char key[AUTH_KEY_LEN + 1], unsigned char hash[32]);

/* SHA-256 of a key, as stored. */
void auth_key_hash(const char *key, size_t len, unsigned char hash[32]);

/*
 * Takes an Authorization header value; on "Bearer <well-formed key>" fills the key's hash and
 * returns true. False for anything else (missing scheme, wrong length or alphabet).
 */
bool auth_parse_bearer(const char *header, unsigned char hash[32]) __attribute__((warn_unused_result));

/*
 * A small cache of known keys, so an authenticated request does not cost a database round
 * trip of its own. Only keys found in the database are cached, for LIMIT_AUTH_CACHE_S seconds:
 * a new key works at once; revoking one (setting revoked_at) is NOTIFYed and the server clears
 * the cache, and the expiry bounds the rest.
 * Entries are compared in constant time over the whole hash. `now_s` is a monotonic clock.
 */
bool auth_cache_get(const unsigned char hash[32], unsigned long long now_s,
                    struct auth_principal *out) __attribute__((warn_unused_result));
void auth_cache_put(const unsigned char hash[32], unsigned long long now_s,
                    const struct auth_principal *p);
void auth_cache_clear(void);

/* Lower-case hex of 32 bytes into out[65]. */
void auth_hex(const unsigned char hash[32], char out[65]);

#endif
