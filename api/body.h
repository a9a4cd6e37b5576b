/*
 * body: request bodies. Parses JSON with the bounded parser (qualify/jv: size, depth, string
 * length, member counts, NUL and UTF-8 checks) and validates objects against a field table, so
 * every handler rejects the same way: a 400/415 problem naming the field, before anything is
 * stored. Unknown fields are errors, not ignored: a typo must not silently drop an answer.
 */
#ifndef AQPD_BODY_H
#define AQPD_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "qualify/jv.h"

struct api_ctx;

enum api_fkind {
    F_STRING,  /* JSON string, 1..max bytes (max 0 = 1000) */
    F_TEXT,    /* JSON string, 0..max bytes (may be empty) */
    F_INT,     /* JSON integer in [min, max] */
    F_NUMBER,  /* any JSON number (integer or decimal) */
    F_BOOL,
    F_OBJECT,  /* JSON object (validated by the handler, or any) */
    F_ARRAY,   /* JSON array of at most max elements */
    F_UUID,    /* string in canonical uuid form */
    F_DATE,    /* string YYYY-MM-DD, a real calendar date */
    F_ENUM,    /* string, one of `oneof` */
};

struct api_field {
    const char *name;
    enum api_fkind kind;
    bool required;
    long long min, max;       /* F_INT range; F_STRING/F_TEXT/F_ARRAY max length */
    const char *const *oneof; /* F_ENUM values, NULL-terminated */
};

/*
 * The request body as a JSON object. On failure answers the request (415 wrong media type,
 * 400 not JSON or not an object, with the parser's reason and offset) and returns NULL.
 * The caller owns the result (jv_free).
 */
jv *api_body_object(struct api_ctx *ctx);

/*
 * Checks `obj` against `fields`: required members present, types and ranges, no unknown
 * members. `where` prefixes field names in messages ("answers." or ""). On failure answers
 * 400 (code "invalid_field", detail naming the field) and returns false.
 */
bool api_check_fields(struct api_ctx *ctx, const jv *obj, const char *where,
                      const struct api_field *fields, size_t nfields)
    __attribute__((warn_unused_result));

/* Pure checks, shared with query parameters. */
bool api_is_uuid(const char *s);
bool api_is_date(const char *s);
/* "YYYY-MM-DD", or that with "THH:MM:SS", optional fraction, and "Z" or "+HH:MM"/"-HH:MM". */
bool api_is_timestamp(const char *s);

#endif
