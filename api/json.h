/*
 * json: JSON generation straight into a reply evbuffer through yajl_gen (UTF-8 validated),
 * plus small helpers for the common shapes.
 */
#ifndef AQPD_JSON_H
#define AQPD_JSON_H

#include <stddef.h>
#include <yajl/yajl_gen.h>

struct evbuffer;

/* A generator that appends to `out` (borrowed). Free with yajl_gen_free. */
yajl_gen json_gen_new(struct evbuffer *out);

/* NUL-terminated string; NULL is written as JSON null. */
void json_str(yajl_gen g, const char *s);
/* Object key followed by a string value (NULL value writes null). */
void json_kv_str(yajl_gen g, const char *key, const char *value);
void json_kv_int(yajl_gen g, const char *key, long long value);
void json_kv_bool(yajl_gen g, const char *key, int value);

#endif
