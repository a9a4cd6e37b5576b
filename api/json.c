/*
 * json: yajl_gen bound to an evbuffer. See json.h.
 */
#include "api/json.h"

#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>

static void print_cb(void *ctx, const char *s, size_t len)
{
    evbuffer_add(ctx, s, len);
}

yajl_gen json_gen_new(struct evbuffer *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        abort();
    yajl_gen_config(g, yajl_gen_print_callback, print_cb, out);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    size_t n;
    if (p[0] < 0x80)
        return 1;
    else if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4;
    else
        return 0;
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xE0 && p[1] < 0xA0) || (n == 3 && p[0] == 0xED && p[1] > 0x9F) ||
        (n == 4 && p[0] == 0xF0 && p[1] < 0x90) || (n == 4 && p[0] == 0xF4 && p[1] > 0x8F))
        return 0;
    return n;
}

void json_str(yajl_gen g, const char *s)
{
    if (!s) {
        yajl_gen_null(g);
        return;
    }
    size_t len = strlen(s);
    if (yajl_gen_string(g, (const unsigned char *)s, len) != yajl_gen_invalid_string)
        return;
    /* Invalid UTF-8 (text derived from input): replace each bad byte with U+FFFD. */
    struct evbuffer *fixed = evbuffer_new();
    const unsigned char *p = (const unsigned char *)s;
    while (len > 0) {
        size_t n = utf8_seq(p, len);
        if (n)
            evbuffer_add(fixed, p, n);
        else
            evbuffer_add(fixed, "\xEF\xBF\xBD", 3);
        p += n ? n : 1;
        len -= n ? n : 1;
    }
    size_t flen = evbuffer_get_length(fixed);
    yajl_gen_string(g, evbuffer_pullup(fixed, -1), flen);
    evbuffer_free(fixed);
}

void json_kv_str(yajl_gen g, const char *key, const char *value)
{
    json_str(g, key);
    json_str(g, value);
}

void json_kv_int(yajl_gen g, const char *key, long long value)
{
    json_str(g, key);
    yajl_gen_integer(g, value);
}

void json_kv_bool(yajl_gen g, const char *key, int value)
{
    json_str(g, key);
    yajl_gen_bool(g, value);
}
